// pigeon/auth/dmarc/report.hpp: DMARC aggregate report data (RFC 7489 section 7.2 and
// Appendix C): one EvaluationRecord per evaluated message, a one-line text form to store it,
// and the XML aggregate report built from many of them.
//
// Contract: pure functions, no I/O, no clock; nothing throws on bad input.
//   - encode_record_line() gives one line without the final '\n': tab-separated fields after
//     a version tag "dmarc1"; inside a field '\\', TAB, LF, CR and every other control byte are
//     escaped ("\\\\", "\\t", "\\n", "\\r", "\\xHH"), so the line never holds a raw newline and
//     can be appended to a log file atomically. decode_record_line(encode_record_line(r)) == r
//     for every record with pct <= 100 (RapidCheck property).
//   - decode_record_line() accepts exactly that form (trailing CR/LF bytes are
//     ignored) and returns a ParseError for anything else: wrong tag, wrong field count, a bad
//     escape, a number that does not parse, pct > 100.
//   - record_from() turns one DmarcResult and its inputs into a record: policy fields in the
//     report's spelling (p/sp "none"/"quarantine"/"reject", adkim/aspf "r"/"s"), empty when no
//     policy record was found; aligned results "pass"/"fail"; reason_type "sampled_out" when
//     the pct sample lowered the disposition, else empty.
//   - aggregate_report_xml() keeps the records whose policy domain is `domain` (or, with no
//     policy domain, whose header_from is), with begin <= time < end; groups identical rows
//     (source IP, disposition, aligned results, reason, identifiers, auth results) into one
//     <record> with their <count>, in a stable order (sorted by those fields). Domains compare
//     ASCII case-insensitively with one trailing dot ignored. policy_published is taken from
//     the latest kept record that has a policy. Text is XML-escaped; bytes XML 1.0 cannot carry
//     (control characters, invalid UTF-8) become '?', so the document is always well-formed.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/dmarc/dmarc.hpp"
#include "core/result.hpp"

namespace pigeon::dmarc {

struct DkimAuth {
    std::string domain, selector, result;  // d=, s=, RFC 8601 result name
    friend bool operator==(const DkimAuth&, const DkimAuth&) = default;
};

struct EvaluationRecord {
    std::int64_t time = 0;  // unix seconds of the evaluation
    std::string source_ip;
    std::string header_from;    // the RFC5322.From domain
    std::string envelope_from;  // the RFC5321.MailFrom domain ("" for a null reverse-path)
    std::string policy_domain;  // where the DMARC record was found ("" if none)
    // The published policy, as the report spells it; empty when there was no record.
    std::string p, sp, adkim, aspf;
    unsigned pct = 100;
    std::string disposition;  // "none", "quarantine", "reject"
    std::string dkim_aligned_result, spf_aligned_result;  // "pass" / "fail"
    std::string reason_type;  // PolicyOverrideType ("sampled_out") or ""
    std::vector<DkimAuth> dkim;
    std::string spf_domain;
    std::string spf_scope;   // "mfrom" / "helo"
    std::string spf_result;  // RFC 7208 2.6 name
    friend bool operator==(const EvaluationRecord&, const EvaluationRecord&) = default;
};

std::string encode_record_line(const EvaluationRecord& record);
core::Result<EvaluationRecord> decode_record_line(std::string_view line);

EvaluationRecord record_from(const DmarcResult& result, const SpfInput& spf,
                             const std::vector<DkimInput>& dkim, std::string source_ip,
                             std::string envelope_from, std::int64_t time);

struct ReportMetadata {
    std::string org_name, email, report_id;
    std::int64_t begin = 0, end = 0;  // the date range, [begin, end)
};

// Records kept for `domain` in [meta.begin, meta.end): the filter aggregate_report_xml uses.
std::vector<EvaluationRecord> records_for(const std::vector<EvaluationRecord>& records,
                                          std::string_view domain, std::int64_t begin,
                                          std::int64_t end);

std::string aggregate_report_xml(const std::vector<EvaluationRecord>& records,
                                 std::string_view domain, const ReportMetadata& meta);

// XML character data / attribute text, escaped as the contract above says.
std::string xml_escape(std::string_view text);

}  // namespace pigeon::dmarc
