// pigeon/auth/dmarc/auth_results.hpp: the Authentication-Results header field of RFC 8601:
// building ours, and finding ones that claim to be ours (forgeries, RFC 8601 5).
//
// Contract:
//   - build_authentication_results() returns the whole field, "Authentication-Results: ..."
//     ending in CRLF. The authserv-id and property values are written as RFC 2045 tokens when
//     they are tokens, else as quoted-strings (a domain is always a token: '.' and '-' are
//     not tspecials; "local@domain" is written as the RFC 8601 2.2 pvalue form, quoting the
//     local-part when it needs it). Comments escape '(', ')' and '\'. Control characters
//     (CR, LF, NUL, ...) in any input are dropped, so the output never has a bare CR or LF.
//   - Folding: on one line when it fits in `fold_width` (78, RFC 5322 2.1.1); otherwise every
//     resinfo starts a new line ("; CRLF TAB"), so each method reads on its own line. A resinfo
//     longer than that is folded between its properties, never inside a value.
//   - No results at all gives "<authserv-id>; none" (RFC 8601 2.2).
//   - find_our_results() scans a header section (or a message) and returns every
//     Authentication-Results field whose authserv-id equals ours, ASCII case-insensitively
//     (RFC 8601 5: MUST remove or rename them, always). It never throws and never fails: a
//     header that core::parse_header refuses (a line without a colon, a continuation of
//     nothing) is still scanned, its unreadable lines skipped, so a forged field cannot hide
//     behind a malformed neighbour; "Authentication-Results :" (obsolete white space before
//     the colon) is found too. The Result type stays for callers.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/dmarc/dmarc.hpp"
#include "core/result.hpp"

namespace pigeon::dmarc {

inline constexpr std::size_t fold_width = 78;

struct Property {
    std::string ptype;     // "smtp", "header", "body", "policy"
    std::string property;  // "mailfrom", "d", ...
    std::string value;
};

struct ResInfo {
    std::string method;   // "spf", "dkim", "dmarc"
    std::string result;   // "pass", ...
    std::string comment;  // without the parentheses; "" for none
    std::vector<Property> properties;
};

// RFC 8601 2.7.2 / RFC 7489 11.2 forms:
//   spf=<result> smtp.mailfrom=<domain>  (smtp.helo=<name> when SPF checked the HELO)
//   dkim=<result> header.d=<d> header.s=<s> [header.b=<prefix>]
//   dmarc=<result> (p=<policy> [dis=<disposition>]) header.from=<domain>
ResInfo spf_resinfo(const SpfInput& spf);
ResInfo dkim_resinfo(const DkimInput& dkim);
ResInfo dmarc_resinfo(const DmarcResult& dmarc);

std::string build_authentication_results(std::string_view authserv_id, const std::vector<ResInfo>& results);

// An RFC 2045 token, else a quoted-string; control characters dropped.
std::string quote_value(std::string_view value);

struct FieldSpan {
    std::size_t index = 0;   // among the header's fields
    std::size_t offset = 0;  // of the field name in the text
    std::size_t length = 0;  // through the CRLF that ends the field (if present)
};

// The authserv-id of an Authentication-Results value: after CFWS, a token or quoted-string
// (unquoted). "" when there is none.
std::string authserv_id_of(std::string_view value);

core::Result<std::vector<FieldSpan>> find_our_results(std::string_view header, std::string_view authserv_id);

// The header with those fields removed (or, with `rename_to` non-empty, renamed, e.g. to
// "X-Original-Authentication-Results"). Text after the header is kept as it is.
core::Result<std::string> strip_our_results(std::string_view message, std::string_view authserv_id,
                                            std::string_view rename_to = {});

// The same change as a patch, so a large message's body is never copied: its first
// `replaced_octets` octets (through the last field of ours) become `text`, the rest stays.
// nullopt when no field is ours. strip_our_results() == text + message.substr(replaced_octets).
struct ResultsPatch {
    std::string text;
    std::size_t replaced_octets = 0;
};
core::Result<std::optional<ResultsPatch>> patch_our_results(std::string_view message,
                                                            std::string_view authserv_id,
                                                            std::string_view rename_to = {});

}  // namespace pigeon::dmarc
