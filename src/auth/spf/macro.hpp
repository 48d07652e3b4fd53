// pigeon/auth/spf/macro.hpp: RFC 7208 section 7 macro strings.
//
// Contract:
//   macro-string = *( macro-expand / macro-literal )
//   macro-expand = ( "%{" macro-letter transformers *delimiter "}" ) / "%%" / "%_" / "%-"
//   macro-literal = %x21-24 / %x26-7E            (explanation strings also allow SP)
//   macro-letter  = s l o d i p h v, plus c r t in explanation strings only (7.1)
//   transformers  = *DIGIT [ "r" ]  (a DIGIT count must be non-zero)
//   delimiter     = "." / "-" / "+" / "," / "/" / "_" / "="
// Letters are case-insensitive; an upper-case letter URL-encodes its expansion (every octet
// outside RFC 3986 unreserved). check_macro_string() and expand_macros() accept exactly the
// same language and never throw on bad text: they return a ParseError naming the problem.
// %{p} costs DNS queries, so the evaluator asks asks_for_validated_name() first, looks the
// name up (suspending for DNS if it must, see spf.hpp), and then expands with the answer.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "auth/spf/ip.hpp"
#include "core/result.hpp"

namespace pigeon::spf {

enum class MacroMode {
    domain_spec,  // targets of mechanisms and modifiers: c, r, t are syntax errors
    explanation,  // the TXT text fetched by exp=: c, r, t allowed, and SP is a literal
};

struct MacroContext {
    std::string sender;         // s: "local-part@domain"
    std::string local_part;     // l
    std::string sender_domain;  // o
    std::string domain;         // d: the domain being checked (changes on include/redirect)
    IpAddress ip;               // i, c, v
    std::string helo;           // h
    std::string receiver;       // r (explanation only)
    std::int64_t timestamp = 0; // t (explanation only), seconds since the epoch
    // p: the validated domain name of ip (RFC 7208 5.5) or "unknown"; called only when the
    // text has a p macro (asks_for_validated_name), because it costs DNS queries and most
    // records never use it. Unset means "unknown".
    std::function<std::string()> validated_name;
};

// The syntax check done at record parse time; nullopt when the text is a valid macro-string.
std::optional<core::ParseError> check_macro_string(std::string_view text, MacroMode mode);

// Would expanding `text` read %{p}? True when a p macro comes before any syntax error, which
// is exactly when expand_macros() calls MacroContext::validated_name.
bool asks_for_validated_name(std::string_view text, MacroMode mode);

// Expands `text`; a syntax error gives the same ParseError as check_macro_string().
core::Result<std::string> expand_macros(std::string_view text, MacroMode mode,
                                        const MacroContext& context);

// RFC 7208 7.3: a domain name longer than max_domain_octets after expansion loses labels
// from the left until it fits. A trailing dot is dropped first (it is not part of the
// length a DNS name is measured by here).
inline constexpr std::size_t max_domain_octets = 253;
std::string truncate_domain(std::string_view name);

// URL-encoding of upper-case macros: every octet outside ALPHA DIGIT "-" "." "_" "~".
std::string url_escape(std::string_view text);

}  // namespace pigeon::spf
