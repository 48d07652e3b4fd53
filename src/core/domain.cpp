// pigeon/core/domain.cpp: the RFC 5321 4.1.2 Domain and 4.1.3 address-literal grammars.
//
// Everything here is a hand-written recursive-descent check over string_view; nothing
// allocates until a Domain is returned, and no input can make it throw or read out of range.
#include "core/domain.hpp"

#include <cstddef>
#include <cstdint>

#include "core/ascii.hpp"
#include "core/limits.hpp"

namespace pigeon::core {
namespace {

constexpr std::size_t label_max_octets = 63;  // RFC 1035 2.3.4, kept by RFC 5321 4.1.2

bool is_alpha(unsigned char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_hex(unsigned char c) {
    return is_digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

// Let-dig, widened to UTF-8 octets for U-labels; well-formedness is checked separately.
bool is_let_dig(unsigned char c, bool utf8) { return is_alpha(c) || is_digit(c) || (utf8 && c >= 0x80); }

// sub-domain = Let-dig [Ldh-str]: starts and ends with Let-dig, hyphens only inside.
bool is_sub_domain(std::string_view label, bool utf8) {
    if (label.empty() || label.size() > label_max_octets) return false;
    for (unsigned char c : label) {
        if (!is_let_dig(c, utf8) && c != '-') return false;
    }
    return is_let_dig(static_cast<unsigned char>(label.front()), utf8) &&
           is_let_dig(static_cast<unsigned char>(label.back()), utf8);
}

// Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig  (the Standardized-tag of a general literal).
bool is_ldh_str(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s) {
        if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
    }
    return s.back() != '-';
}

// dcontent = %d33-90 / %d94-126  (printable US-ASCII except "[", "\" and "]").
bool is_dcontent(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s) {
        if (c < 33 || c > 126 || (c >= 91 && c <= 93)) return false;
    }
    return true;
}

// Splits on `sep`; calls f for each piece; stops and returns false as soon as f does.
template <class F>
bool for_each_piece(std::string_view s, char sep, F f) {
    for (;;) {
        const std::size_t at = s.find(sep);
        if (!f(s.substr(0, at))) return false;
        if (at == std::string_view::npos) return true;
        s.remove_prefix(at + 1);
    }
}

bool is_ipv6_hex(std::string_view s) {
    if (s.empty() || s.size() > 4) return false;
    for (unsigned char c : s) {
        if (!is_hex(c)) return false;
    }
    return true;
}

// Counts `:`-separated IPv6-hex groups in s ("" is zero groups); -1 if any group is bad.
int count_hex_groups(std::string_view s) {
    if (s.empty()) return 0;
    int n = 0;
    const bool ok = for_each_piece(s, ':', [&](std::string_view g) {
        ++n;
        return is_ipv6_hex(g);
    });
    return ok ? n : -1;
}

ParseError error(std::string message) { return ParseError{std::move(message)}; }

}  // namespace

bool is_ipv4_address(std::string_view text) {
    int parts = 0;
    const bool ok = for_each_piece(text, '.', [&](std::string_view snum) {
        if (++parts > 4 || snum.empty() || snum.size() > 3) return false;
        int value = 0;
        for (unsigned char c : snum) {
            if (!is_digit(c)) return false;
            value = value * 10 + (c - '0');
        }
        return value <= 255;
    });
    return ok && parts == 4;
}

bool is_ipv6_address(std::string_view text) {
    // An embedded IPv4 address can only be the last piece, after the last colon.
    const std::size_t last_colon = text.rfind(':');
    if (last_colon == std::string_view::npos) return false;
    std::string_view hex_part = text;
    bool has_v4 = false;
    if (text.find('.', last_colon) != std::string_view::npos) {
        if (!is_ipv4_address(text.substr(last_colon + 1))) return false;
        has_v4 = true;
        // Keep the colon before the IPv4 address when it is half of a "::".
        hex_part = text.substr(0, last_colon + 1);
        if (hex_part.size() >= 2 && hex_part.substr(hex_part.size() - 2) == "::") {
            // "...::1.2.3.4": the "::" stays, nothing follows it.
        } else {
            hex_part.remove_suffix(1);  // "...:1.2.3.4": drop the separator colon
        }
    }

    const std::size_t gap = hex_part.find("::");
    if (gap == std::string_view::npos) {
        // IPv6-full is 8 groups; IPv6v4-full is 6 groups and the IPv4 address.
        return count_hex_groups(hex_part) == (has_v4 ? 6 : 8);
    }
    const std::string_view left = hex_part.substr(0, gap);
    const std::string_view right = hex_part.substr(gap + 2);
    const int l = count_hex_groups(left);
    const int r = count_hex_groups(right);  // a second "::" gives an empty group: -1
    if (l < 0 || r < 0) return false;
    // "::" stands for at least two zero groups, so 6 more at most (4 with IPv4 after them).
    return l + r <= (has_v4 ? 4 : 6);
}

bool is_well_formed_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        std::uint32_t cp = 0;
        std::uint32_t min = 0;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2, cp = c & 0x1Fu, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, cp = c & 0x0Fu, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, cp = c & 0x07u, min = 0x10000;
        } else {
            return false;  // continuation byte, C0/C1 overlong lead, or F5..FF
        }
        if (text.size() - i < len) return false;
        for (std::size_t k = 1; k < len; ++k) {
            const auto cc = static_cast<unsigned char>(text[i + k]);
            if ((cc & 0xC0u) != 0x80u) return false;
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

Result<Domain> Domain::parse(std::string_view text, DomainSyntax syntax) {
    if (text.empty()) return error("empty domain");
    if (text.size() > domain_max_octets) return error("domain longer than 255 octets");

    Domain d;
    if (text.front() == '[') {
        if (!syntax.allow_address_literal) return error("address literal not allowed here");
        if (text.size() < 3 || text.back() != ']') return error("unterminated address literal");
        const std::string_view inner = text.substr(1, text.size() - 2);
        const std::size_t colon = inner.find(':');
        if (colon == std::string_view::npos) {
            if (!is_ipv4_address(inner)) return error("bad IPv4 address literal");
            d.kind_ = Kind::ipv4_literal;
        } else {
            const std::string_view tag = inner.substr(0, colon);
            const std::string_view content = inner.substr(colon + 1);
            if (iequals(tag, "IPv6")) {
                // The IPv6 tag is registered for exactly this grammar; no general fallback.
                if (!is_ipv6_address(content)) return error("bad IPv6 address literal");
                d.kind_ = Kind::ipv6_literal;
            } else {
                if (!is_ldh_str(tag)) return error("bad address literal tag");
                if (!is_dcontent(content)) return error("bad general address literal content");
                d.kind_ = Kind::general_literal;
            }
        }
        d.text_ = std::string(text);
        return d;
    }

    if (syntax.allow_utf8 && !is_well_formed_utf8(text)) return error("malformed UTF-8 in domain");
    const bool ok = for_each_piece(text, '.', [&](std::string_view label) {
        return is_sub_domain(label, syntax.allow_utf8);
    });
    if (!ok) return error("bad domain name label in \"" + std::string(text) + "\"");
    d.kind_ = Kind::name;
    d.text_ = std::string(text);
    return d;
}

std::string Domain::lowercase() const {
    if (kind_ != Kind::name) return text_;
    std::string out = text_;
    for (char& c : out) c = ascii_lower(c);
    return out;
}

std::string Domain::literal_address() const {
    if (kind_ == Kind::ipv4_literal) return text_.substr(1, text_.size() - 2);
    if (kind_ == Kind::ipv6_literal) return text_.substr(6, text_.size() - 7);  // "[IPv6:" ... "]"
    return {};
}

bool operator==(const Domain& a, const Domain& b) {
    if (a.kind_ != b.kind_) return false;
    // General literals carry opaque content whose case may matter; everything else here is a
    // name, a decimal quad, or hex digits plus the tag, all case-insensitive.
    if (a.kind_ == Domain::Kind::general_literal) {
        const std::size_t ca = a.text_.find(':');
        const std::size_t cb = b.text_.find(':');
        return iequals(std::string_view(a.text_).substr(0, ca), std::string_view(b.text_).substr(0, cb)) &&
               a.text_.substr(ca) == b.text_.substr(cb);
    }
    return iequals(a.text_, b.text_);
}

}  // namespace pigeon::core
