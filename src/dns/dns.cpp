// DNS value helpers: type/rcode/security names, question normalisation, and strict IPv4/IPv6
// text forms (see dns.hpp).
#include "dns/dns.hpp"

#include <cstddef>

#include "core/ascii.hpp"

namespace pigeon::dns {

namespace {

using core::ascii_lower;
using core::iequals;

struct TypeName {
    RrType type;
    const char* name;
};
constexpr TypeName type_names[] = {
    {RrType::a, "A"},       {RrType::ns, "NS"},   {RrType::cname, "CNAME"}, {RrType::soa, "SOA"},
    {RrType::ptr, "PTR"},   {RrType::mx, "MX"},   {RrType::txt, "TXT"},     {RrType::aaaa, "AAAA"},
    {RrType::spf, "SPF"},   {RrType::tlsa, "TLSA"},
};

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

constexpr std::size_t ipv6_groups = 8;
constexpr std::size_t ipv6_group_max_digits = 4;  // RFC 4291 2.2: "one to four hexadecimal digits"

}  // namespace

const char* type_name(RrType type) {
    for (const auto& t : type_names)
        if (t.type == type) return t.name;
    return "TYPE?";
}

std::optional<RrType> type_from_name(std::string_view name) {
    for (const auto& t : type_names)
        if (iequals(name, t.name)) return t.type;
    return std::nullopt;
}

const char* rcode_name(Rcode rcode) {
    switch (rcode) {
        case Rcode::noerror: return "NOERROR";
        case Rcode::nxdomain: return "NXDOMAIN";
        case Rcode::servfail: return "SERVFAIL";
        case Rcode::refused: return "REFUSED";
        case Rcode::timeout: return "TIMEOUT";
    }
    return "RCODE?";
}

const char* security_name(Security security) {
    switch (security) {
        case Security::indeterminate: return "indeterminate";
        case Security::insecure: return "insecure";
        case Security::secure: return "secure";
        case Security::bogus: return "bogus";
    }
    return "security?";
}

Question make_question(std::string_view name, RrType type) {
    // One trailing dot is the absolute form of the same name; the root itself becomes "".
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    Question q;
    q.name.reserve(name.size());
    for (char c : name) q.name.push_back(ascii_lower(c));
    q.type = type;
    return q;
}

std::string to_string(const Ipv4& a) {
    std::string out;
    for (std::size_t i = 0; i < a.octets.size(); ++i) {
        if (i) out += '.';
        out += std::to_string(a.octets[i]);
    }
    return out;
}

// RFC 5952: lower case, no leading zeros, the longest run (leftmost on a tie) of two or more
// zero groups as "::", and IPv4-mapped addresses with their dotted quad (section 5).
std::string to_string(const Ipv6& a) {
    std::uint16_t g[ipv6_groups];
    for (std::size_t i = 0; i < ipv6_groups; ++i)
        g[i] = static_cast<std::uint16_t>(a.octets[2 * i] << 8 | a.octets[2 * i + 1]);

    const bool mapped = g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff;
    if (mapped) {
        Ipv4 v4{{a.octets[12], a.octets[13], a.octets[14], a.octets[15]}};
        return "::ffff:" + to_string(v4);
    }

    std::size_t best_start = ipv6_groups, best_len = 0;
    for (std::size_t i = 0; i < ipv6_groups;) {
        if (g[i] != 0) { ++i; continue; }
        std::size_t j = i;
        while (j < ipv6_groups && g[j] == 0) ++j;
        if (j - i > best_len) { best_start = i; best_len = j - i; }
        i = j;
    }
    if (best_len < 2) best_start = ipv6_groups;  // a single zero group is not compressed

    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < ipv6_groups; ++i) {
        if (i == best_start) {
            out += "::";
            i += best_len - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':') out += ':';
        bool started = false;
        for (int shift = 12; shift >= 0; shift -= 4) {
            const int d = (g[i] >> shift) & 0xf;
            if (d || started || shift == 0) { out += digits[d]; started = true; }
        }
    }
    return out;
}

// Dotted quad, each part 1-3 digits with value 0-255 and no leading zero (so "010" is never
// read as octal by someone else's inet_aton; RFC 3986 dec-octet and RFC 7208 qnum agree).
std::optional<Ipv4> parse_ipv4(std::string_view text) {
    Ipv4 out;
    std::size_t part = 0, i = 0;
    while (true) {
        std::size_t digits = 0;
        unsigned value = 0;
        const std::size_t start = i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            if (++digits > 3) return std::nullopt;
            value = value * 10 + static_cast<unsigned>(text[i] - '0');
            ++i;
        }
        if (digits == 0 || value > 255) return std::nullopt;
        if (digits > 1 && text[start] == '0') return std::nullopt;
        out.octets[part++] = static_cast<std::uint8_t>(value);
        if (part == 4) break;
        if (i >= text.size() || text[i] != '.') return std::nullopt;
        ++i;
    }
    if (i != text.size()) return std::nullopt;
    return out;
}

// RFC 4291 2.2: x:x:x:x:x:x:x:x, "::" once for one or more zero groups, and a dotted quad
// in place of the last two groups. No zone index, no brackets, no prefix length.
std::optional<Ipv6> parse_ipv6(std::string_view text) {
    std::uint16_t head[ipv6_groups], tail[ipv6_groups];
    std::size_t n_head = 0, n_tail = 0;
    bool compressed = false;

    if (text.empty()) return std::nullopt;
    std::size_t i = 0;
    if (text.substr(0, 2) == "::") {
        compressed = true;
        i = 2;
    } else if (text[0] == ':') {
        return std::nullopt;
    }

    auto push = [&](std::uint16_t v) {
        if (n_head + n_tail >= ipv6_groups) return false;
        (compressed ? tail[n_tail++] : head[n_head++]) = v;
        return true;
    };

    while (i < text.size()) {
        // A group, or the dotted quad that must end the text.
        std::size_t j = i;
        while (j < text.size() && hex_value(text[j]) >= 0) ++j;
        if (j < text.size() && text[j] == '.') {
            auto v4 = parse_ipv4(text.substr(i));
            if (!v4) return std::nullopt;
            if (!push(static_cast<std::uint16_t>(v4->octets[0] << 8 | v4->octets[1])) ||
                !push(static_cast<std::uint16_t>(v4->octets[2] << 8 | v4->octets[3])))
                return std::nullopt;
            i = text.size();
            break;
        }
        if (j == i || j - i > ipv6_group_max_digits) return std::nullopt;
        std::uint16_t v = 0;
        for (std::size_t k = i; k < j; ++k) v = static_cast<std::uint16_t>(v << 4 | hex_value(text[k]));
        if (!push(v)) return std::nullopt;
        i = j;
        if (i == text.size()) break;
        if (text[i] != ':') return std::nullopt;
        if (i + 1 < text.size() && text[i + 1] == ':') {
            if (compressed) return std::nullopt;  // "::" at most once
            compressed = true;
            i += 2;
        } else {
            ++i;
            if (i == text.size()) return std::nullopt;  // trailing single colon
        }
    }

    const std::size_t total = n_head + n_tail;
    if (compressed ? total > ipv6_groups - 1 : total != ipv6_groups) return std::nullopt;

    Ipv6 out;
    std::uint16_t groups[ipv6_groups] = {};
    for (std::size_t k = 0; k < n_head; ++k) groups[k] = head[k];
    for (std::size_t k = 0; k < n_tail; ++k) groups[ipv6_groups - n_tail + k] = tail[k];
    for (std::size_t k = 0; k < ipv6_groups; ++k) {
        out.octets[2 * k] = static_cast<std::uint8_t>(groups[k] >> 8);
        out.octets[2 * k + 1] = static_cast<std::uint8_t>(groups[k] & 0xff);
    }
    return out;
}

}  // namespace pigeon::dns
