// pigeon/auth/dmarc/record.hpp: the DMARC policy record of RFC 7489 section 6.3/6.4, with the
// "np" tag of RFC 9091.
//
// Contract:
//   - parse_record() never throws. It fails (a ParseError naming the problem) only where RFC
//     7489 says the record is unusable: "v=DMARC1" is not the first tag (6.3, 6.6.3 step 3),
//     or "p" is missing/invalid (or "sp" is invalid) and no syntactically valid "rua" URI is
//     present (6.6.3 step 6). With a valid "rua", such a record is treated as "p=none" and
//     `p_fallback` says so (6.6.3 step 6.1).
//   - Every other syntax error is not fatal (6.3: "discarded in favor of default values"):
//     the tag keeps its default and `warnings` says what was ignored. Unknown tags are ignored.
//     A repeated tag: the first wins (warning).
//   - Tag names and keyword values (none, quarantine, reject, r, s, ...) are case-insensitive;
//     tags are separated by ";" with optional WSP around names, "=" and values; a trailing ";"
//     is allowed.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace pigeon::dmarc {

enum class Policy { none, quarantine, reject };
const char* policy_name(Policy policy);  // "none", "quarantine", "reject"

enum class AlignMode { relaxed, strict };  // "r", "s"
const char* align_mode_name(AlignMode mode);  // "relaxed", "strict"

// A reporting URI (RFC 7489 6.2): the URI as written (commas and "!" are percent-encoded in
// it), and the optional size limit "!" 1*DIGIT [k|m|g|t] in bytes (0 = none given).
struct ReportUri {
    std::string uri;
    std::uint64_t max_bytes = 0;
    bool mailto = false;  // the only scheme RFC 7489 requires receivers to use
    friend bool operator==(const ReportUri&, const ReportUri&) = default;
};

// Defaults are RFC 7489 6.3's.
struct Record {
    Policy p = Policy::none;
    bool p_fallback = false;            // p/sp invalid but rua valid: acting as p=none (6.6.3)
    std::optional<Policy> sp;           // subdomains; absent = p
    std::optional<Policy> np;           // non-existent subdomains (RFC 9091); absent = sp
    AlignMode adkim = AlignMode::relaxed;
    AlignMode aspf = AlignMode::relaxed;
    unsigned pct = 100;                 // 0-100
    std::string fo = "0";               // failure reporting options, "0" / "1" / "d" / "s" joined by ':'
    std::vector<ReportUri> rua, ruf;
    std::uint32_t ri = 86400;           // aggregate report interval, seconds
    std::vector<std::string> rf = {"afrf"};
    std::vector<std::string> warnings;  // non-fatal problems, in order, for --explain
};

inline constexpr unsigned max_pct = 100;
// A size limit beyond this (16 EiB would overflow) is a syntax error.
inline constexpr std::uint64_t max_report_bytes = UINT64_MAX;

// True when a TXT record's text starts with the version tag "v=DMARC1" (WSP allowed around
// "="), followed by ";", WSP or the end: the records kept by RFC 7489 6.6.3 step 3.
bool is_dmarc_record(std::string_view text);

core::Result<Record> parse_record(std::string_view text);

}  // namespace pigeon::dmarc
