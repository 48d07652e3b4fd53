// pigeon/auth/spf/record.hpp: the SPF record of RFC 7208 sections 4.5, 4.6 and 12.
//
// Contract:
//   record    = version terms *SP          version = "v=spf1" (case-insensitive)
//   terms     = *( 1*SP ( directive / modifier ) )
//   directive = [ qualifier ] mechanism     (all include a mx ptr ip4 ip6 exists)
//   modifier  = redirect / explanation / unknown-modifier   (name "=" macro-string)
// parse_record() checks the whole record before anything is evaluated (RFC 7208 4.6: a syntax
// error anywhere is a permerror) and never throws: an error is a ParseError naming the term.
// Strictness, all from section 12: terms are separated by SP only (no TAB/CR/NUL); CIDR
// lengths have no leading zeros and stay within 32 / 128; ip4-network has no leading zeros;
// a domain-spec ends in a macro-expand or "." toplabel [ "." ]; c, r, t macros are not allowed
// outside exp text; redirect= and exp= appear at most once; a known modifier name with a bad
// value is an error, not an unknown modifier. Mechanism and modifier names are
// case-insensitive. Domain-specs are kept unexpanded (they are expanded at evaluation).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/spf/ip.hpp"
#include "core/result.hpp"

namespace pigeon::spf {

enum class Qualifier { pass, fail, softfail, neutral };  // "+", "-", "~", "?"
enum class MechanismKind { all, include, a, mx, ptr, ip4, ip6, exists };
const char* mechanism_name(MechanismKind kind);

inline constexpr unsigned ip4_max_prefix = 32;
inline constexpr unsigned ip6_max_prefix = 128;

struct Mechanism {
    Qualifier qualifier = Qualifier::pass;
    MechanismKind kind = MechanismKind::all;
    std::string domain_spec;  // unexpanded; empty means <domain> (a, mx, ptr only)
    unsigned cidr4 = ip4_max_prefix;  // a, mx, ip4
    unsigned cidr6 = ip6_max_prefix;  // a, mx, ip6
    IpAddress network;                // ip4, ip6
    std::string text;                 // the term as written, for traces and messages
};

struct UnknownModifier {
    std::string name;   // as written
    std::string value;  // a valid macro-string, never expanded
};

struct Record {
    std::vector<Mechanism> mechanisms;  // in order
    std::optional<std::string> redirect;  // domain-spec
    std::optional<std::string> exp;       // domain-spec
    std::vector<UnknownModifier> unknown_modifiers;  // kept and ignored (RFC 7208 6)
};

// True when a TXT record's text is an SPF version 1 record: "v=spf1" (any case) followed by
// a space or the end (RFC 7208 4.5).
bool is_spf_record(std::string_view text);

core::Result<Record> parse_record(std::string_view text);

// domain-spec = macro-string domain-end: used for every target and for redirect= / exp=.
std::optional<core::ParseError> check_domain_spec(std::string_view text);

}  // namespace pigeon::spf
