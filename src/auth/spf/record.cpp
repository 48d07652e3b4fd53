// SPF record parser (RFC 7208 section 12 ABNF); see record.hpp.
#include "auth/spf/record.hpp"

#include "auth/spf/macro.hpp"
#include "core/ascii.hpp"

namespace pigeon::spf {
namespace {

using core::iequals;

constexpr std::string_view version_tag = "v=spf1";

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

core::ParseError term_error(std::string_view term, const std::string& what) {
    return core::ParseError{"term \"" + std::string(term) + "\": " + what};
}

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool is_toplabel(std::string_view label) {
    if (label.empty()) return false;
    bool has_alpha = false, has_dash = false;
    for (char c : label) {
        if (c == '-') has_dash = true;
        else if (is_alpha(c)) has_alpha = true;
        else if (!is_digit(c)) return false;
    }
    if (has_dash) return is_alnum(label.front()) && is_alnum(label.back());
    return has_alpha;
}

// A CIDR length: "0" or a non-zero digit followed by at most max_digits - 1 digits, at most
// `limit`. Leading zeros are rejected as ip4-network's are (the suite's cidr4-032).
std::optional<unsigned> parse_cidr(std::string_view digits, std::size_t max_digits, unsigned limit) {
    if (digits.empty() || digits.size() > max_digits) return std::nullopt;
    if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
    unsigned value = 0;
    for (char c : digits) {
        if (!is_digit(c)) return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > limit) return std::nullopt;
    return value;
}

// Splits a trailing dual-cidr-length ("/24", "//64", "/24//64") off `rest`. Only an all-digit
// suffix counts, so "a:foo:bar/baz.example.com" keeps its slash.
std::optional<core::ParseError> take_dual_cidr(std::string_view term, std::string_view& rest,
                                               Mechanism& m) {
    auto trailing_digits = [](std::string_view s) {
        std::size_t n = 0;
        while (n < s.size() && is_digit(s[s.size() - 1 - n])) ++n;
        return n;
    };
    std::size_t n = trailing_digits(rest);
    if (n > 0 && rest.size() >= n + 2 && rest[rest.size() - n - 1] == '/' &&
        rest[rest.size() - n - 2] == '/') {
        auto v = parse_cidr(rest.substr(rest.size() - n), 3, ip6_max_prefix);
        if (!v) return term_error(term, "invalid ip6-cidr-length");
        m.cidr6 = *v;
        rest.remove_suffix(n + 2);
        n = trailing_digits(rest);
    }
    if (n > 0 && rest.size() >= n + 1 && rest[rest.size() - n - 1] == '/') {
        auto v = parse_cidr(rest.substr(rest.size() - n), 2, ip4_max_prefix);
        if (!v) return term_error(term, "invalid ip4-cidr-length");
        m.cidr4 = *v;
        rest.remove_suffix(n + 1);
    }
    return std::nullopt;
}

std::optional<core::ParseError> parse_directive(std::string_view term, Record& record) {
    Mechanism m;
    m.text = std::string(term);
    std::string_view t = term;
    switch (t.front()) {
    case '+': m.qualifier = Qualifier::pass; t.remove_prefix(1); break;
    case '-': m.qualifier = Qualifier::fail; t.remove_prefix(1); break;
    case '~': m.qualifier = Qualifier::softfail; t.remove_prefix(1); break;
    case '?': m.qualifier = Qualifier::neutral; t.remove_prefix(1); break;
    default: break;
    }
    std::size_t name_end = 0;
    while (name_end < t.size() && is_alnum(t[name_end])) ++name_end;
    const std::string_view name = t.substr(0, name_end);
    std::string_view rest = t.substr(name_end);

    // Returns the domain-spec after "name:" (required when `required`), checked.
    auto colon_spec = [&](bool required, std::string_view& spec) -> std::optional<core::ParseError> {
        if (rest.empty()) {
            if (required) return term_error(term, "missing \":\" domain-spec");
            return std::nullopt;
        }
        if (rest.front() != ':') return term_error(term, "unexpected text after the mechanism name");
        spec = rest.substr(1);
        if (spec.empty()) return term_error(term, "empty domain-spec");
        if (auto e = check_domain_spec(spec)) return term_error(term, e->message);
        return std::nullopt;
    };

    if (iequals(name, "all")) {
        m.kind = MechanismKind::all;
        if (!rest.empty()) return term_error(term, "\"all\" takes no argument");
    } else if (iequals(name, "include") || iequals(name, "exists")) {
        m.kind = iequals(name, "include") ? MechanismKind::include : MechanismKind::exists;
        std::string_view spec;
        if (auto e = colon_spec(true, spec)) return e;
        m.domain_spec = std::string(spec);
    } else if (iequals(name, "a") || iequals(name, "mx")) {
        m.kind = iequals(name, "a") ? MechanismKind::a : MechanismKind::mx;
        if (auto e = take_dual_cidr(term, rest, m)) return e;
        std::string_view spec;
        if (auto e = colon_spec(false, spec)) return e;
        m.domain_spec = std::string(spec);
    } else if (iequals(name, "ptr")) {
        m.kind = MechanismKind::ptr;
        std::string_view spec;
        if (auto e = colon_spec(false, spec)) return e;
        m.domain_spec = std::string(spec);
    } else if (iequals(name, "ip4") || iequals(name, "ip6")) {
        const bool v4 = iequals(name, "ip4");
        m.kind = v4 ? MechanismKind::ip4 : MechanismKind::ip6;
        if (rest.empty() || rest.front() != ':') return term_error(term, "missing \":\" address");
        rest.remove_prefix(1);
        const std::size_t slash = rest.find('/');
        const std::string_view address = rest.substr(0, slash);
        if (v4) {
            auto ip = parse_ip4_network(address);
            if (!ip) return term_error(term, "invalid ip4-network");
            m.network = *ip;
        } else {
            auto ip = parse_ip6_network(address);
            if (!ip) return term_error(term, "invalid ip6-network");
            m.network = *ip;
        }
        if (slash != std::string_view::npos) {
            auto v = v4 ? parse_cidr(rest.substr(slash + 1), 2, ip4_max_prefix)
                        : parse_cidr(rest.substr(slash + 1), 3, ip6_max_prefix);
            if (!v) return term_error(term, v4 ? "invalid ip4-cidr-length" : "invalid ip6-cidr-length");
            (v4 ? m.cidr4 : m.cidr6) = *v;
        }
    } else {
        return term_error(term, "unknown mechanism");
    }
    record.mechanisms.push_back(std::move(m));
    return std::nullopt;
}

// modifier: name "=" ..., where name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
// Returns the position of '=' when the term has that shape.
std::optional<std::size_t> modifier_equals(std::string_view term) {
    if (term.empty() || !is_alpha(term[0])) return std::nullopt;
    for (std::size_t i = 1; i < term.size(); ++i) {
        const char c = term[i];
        if (c == '=') return i;
        if (!(is_alnum(c) || c == '-' || c == '_' || c == '.')) return std::nullopt;
    }
    return std::nullopt;
}

std::optional<core::ParseError> parse_modifier(std::string_view term, std::size_t eq, Record& record) {
    const std::string_view name = term.substr(0, eq);
    const std::string_view value = term.substr(eq + 1);
    if (iequals(name, "redirect") || iequals(name, "exp")) {
        auto& slot = iequals(name, "redirect") ? record.redirect : record.exp;
        if (slot) return term_error(term, std::string(name) + "= appears more than once");
        if (value.empty()) return term_error(term, "empty domain-spec");
        if (auto e = check_domain_spec(value)) return term_error(term, e->message);
        slot = std::string(value);
        return std::nullopt;
    }
    // Unknown modifiers are never expanded, but their value must still be a macro-string;
    // every macro letter is syntactically valid there.
    if (auto e = check_macro_string(value, MacroMode::explanation); e || value.find(' ') != std::string_view::npos)
        return term_error(term, e ? e->message : "space in modifier value");
    record.unknown_modifiers.push_back({std::string(name), std::string(value)});
    return std::nullopt;
}

}  // namespace

const char* mechanism_name(MechanismKind kind) {
    switch (kind) {
    case MechanismKind::all: return "all";
    case MechanismKind::include: return "include";
    case MechanismKind::a: return "a";
    case MechanismKind::mx: return "mx";
    case MechanismKind::ptr: return "ptr";
    case MechanismKind::ip4: return "ip4";
    case MechanismKind::ip6: return "ip6";
    case MechanismKind::exists: return "exists";
    }
    return "?";
}

bool is_spf_record(std::string_view text) {
    if (text.size() < version_tag.size() || !iequals(text.substr(0, version_tag.size()), version_tag))
        return false;
    return text.size() == version_tag.size() || text[version_tag.size()] == ' ';
}

std::optional<core::ParseError> check_domain_spec(std::string_view text) {
    if (text.empty()) return core::ParseError{"empty domain-spec"};
    if (auto e = check_macro_string(text, MacroMode::domain_spec)) return e;
    // domain-end = ( "." toplabel [ "." ] ) / macro-expand. Find where the last macro-expand
    // ends: the macro-string is valid, so every '%' starts one.
    std::size_t literal_start = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') continue;
        if (text[i + 1] == '{') i = text.find('}', i);
        else ++i;
        literal_start = i + 1;
    }
    std::string_view tail = text.substr(literal_start);
    if (tail.empty()) return std::nullopt;  // ends in a macro-expand
    if (tail.back() == '.') tail.remove_suffix(1);
    const std::size_t dot = tail.rfind('.');
    if (dot == std::string_view::npos || !is_toplabel(tail.substr(dot + 1)))
        return core::ParseError{"domain-spec \"" + std::string(text) +
                                "\" does not end in a macro or \".\" toplabel"};
    return std::nullopt;
}

core::Result<Record> parse_record(std::string_view text) {
    if (!is_spf_record(text)) return core::ParseError{"not an SPF record (no \"v=spf1\")"};
    Record record;
    std::string_view rest = text.substr(version_tag.size());
    while (!rest.empty()) {
        // Terms are separated by SP only; any other byte belongs to a term and fails there.
        if (rest.front() == ' ') { rest.remove_prefix(1); continue; }
        const std::size_t end = rest.find(' ');
        const std::string_view term = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
        std::optional<core::ParseError> error;
        if (auto eq = modifier_equals(term)) error = parse_modifier(term, *eq, record);
        else error = parse_directive(term, record);
        if (error) return *error;
    }
    return record;
}

}  // namespace pigeon::spf
