// Address parsing and formatting for SPF; see ip.hpp.
#include "auth/spf/ip.hpp"

#include <array>
#include <cstdint>
#include <vector>

namespace pigeon::spf {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

const char hex_digits[] = "0123456789abcdef";

}  // namespace

std::optional<dns::Ipv4> parse_ip4_network(std::string_view text) {
    dns::Ipv4 out;
    std::size_t pos = 0;
    for (int part = 0; part < 4; ++part) {
        if (part > 0) {
            if (pos >= text.size() || text[pos] != '.') return std::nullopt;
            ++pos;
        }
        const std::size_t start = pos;
        unsigned value = 0;
        while (pos < text.size() && is_digit(text[pos]) && pos - start < 3) {
            value = value * 10 + static_cast<unsigned>(text[pos] - '0');
            ++pos;
        }
        const std::size_t len = pos - start;
        // qnum forbids leading zeros ("0" alone is fine) and values past 255.
        if (len == 0 || value > 255 || (len > 1 && text[start] == '0')) return std::nullopt;
        out.octets[static_cast<std::size_t>(part)] = static_cast<std::uint8_t>(value);
    }
    if (pos != text.size()) return std::nullopt;
    return out;
}

std::optional<dns::Ipv6> parse_ip6_network(std::string_view text) {
    // Split into the groups before and after "::"; each side is hex groups, and the last
    // group of the whole address may be a dotted quad worth two groups.
    auto parse_side = [](std::string_view side, std::vector<std::uint16_t>& groups,
                         bool allow_ipv4_tail) -> bool {
        if (side.empty()) return true;
        std::size_t pos = 0;
        while (true) {
            std::size_t end = side.find(':', pos);
            std::string_view piece = side.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
            if (end == std::string_view::npos && allow_ipv4_tail && piece.find('.') != std::string_view::npos) {
                auto v4 = parse_ip4_network(piece);
                if (!v4) return false;
                groups.push_back(static_cast<std::uint16_t>(v4->octets[0] << 8 | v4->octets[1]));
                groups.push_back(static_cast<std::uint16_t>(v4->octets[2] << 8 | v4->octets[3]));
                return true;
            }
            if (piece.empty() || piece.size() > 4) return false;
            unsigned value = 0;
            for (char c : piece) {
                int h = hex_value(c);
                if (h < 0) return false;
                value = value * 16 + static_cast<unsigned>(h);
            }
            groups.push_back(static_cast<std::uint16_t>(value));
            if (end == std::string_view::npos) return true;
            pos = end + 1;
            if (groups.size() > 8) return false;
        }
    };

    std::vector<std::uint16_t> head, tail;
    const std::size_t gap = text.find("::");
    if (gap == std::string_view::npos) {
        if (!parse_side(text, head, true) || head.size() != 8) return std::nullopt;
    } else {
        if (text.find("::", gap + 1) != std::string_view::npos) return std::nullopt;
        std::string_view left = text.substr(0, gap);
        std::string_view right = text.substr(gap + 2);
        if (!parse_side(left, head, false) || !parse_side(right, tail, true)) return std::nullopt;
        // "::" stands for at least one group of zeros.
        if (head.size() + tail.size() > 7) return std::nullopt;
    }
    dns::Ipv6 out;
    std::size_t i = 0;
    for (auto g : head) {
        out.octets[i++] = static_cast<std::uint8_t>(g >> 8);
        out.octets[i++] = static_cast<std::uint8_t>(g & 0xff);
    }
    i = 16 - tail.size() * 2;
    for (auto g : tail) {
        out.octets[i++] = static_cast<std::uint8_t>(g >> 8);
        out.octets[i++] = static_cast<std::uint8_t>(g & 0xff);
    }
    return out;
}

std::optional<IpAddress> parse_ip(std::string_view text) {
    if (text.find(':') != std::string_view::npos) {
        if (auto v6 = parse_ip6_network(text)) return IpAddress{*v6};
        return std::nullopt;
    }
    if (auto v4 = parse_ip4_network(text)) return IpAddress{*v4};
    return std::nullopt;
}

IpAddress unmap(const IpAddress& ip) {
    if (is_ipv4(ip)) return ip;
    const auto& o = std::get<dns::Ipv6>(ip).octets;
    for (std::size_t i = 0; i < 10; ++i)
        if (o[i] != 0) return ip;
    if (o[10] != 0xff || o[11] != 0xff) return ip;
    return dns::Ipv4{{o[12], o[13], o[14], o[15]}};
}

std::string ip_text(const IpAddress& ip) {
    if (is_ipv4(ip)) {
        const auto& o = std::get<dns::Ipv4>(ip).octets;
        return std::to_string(o[0]) + "." + std::to_string(o[1]) + "." + std::to_string(o[2]) +
               "." + std::to_string(o[3]);
    }
    const auto& o = std::get<dns::Ipv6>(ip).octets;
    std::array<unsigned, 8> g{};
    for (std::size_t i = 0; i < 8; ++i) g[i] = static_cast<unsigned>(o[2 * i] << 8 | o[2 * i + 1]);
    // RFC 5952 4.2: compress the longest run of two or more zero groups, the first if tied.
    int best_start = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (g[static_cast<std::size_t>(i)] != 0) { ++i; continue; }
        int j = i;
        while (j < 8 && g[static_cast<std::size_t>(j)] == 0) ++j;
        if (j - i > best_len && j - i >= 2) { best_start = i; best_len = j - i; }
        i = j;
    }
    auto hex = [](unsigned v) {
        std::string s;
        bool started = false;
        for (int shift = 12; shift >= 0; shift -= 4) {
            unsigned nib = (v >> shift) & 0xf;
            if (nib != 0 || started || shift == 0) { s += hex_digits[nib]; started = true; }
        }
        return s;
    };
    std::string out;
    for (int i = 0; i < 8; ++i) {
        if (i == best_start) {
            out += "::";
            i += best_len - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':') out += ':';
        out += hex(g[static_cast<std::size_t>(i)]);
    }
    return out;
}

std::string ip_dotted(const IpAddress& ip) {
    if (is_ipv4(ip)) return ip_text(ip);
    const auto& o = std::get<dns::Ipv6>(ip).octets;
    std::string out;
    for (auto byte : o) {
        if (!out.empty()) out += '.';
        out += hex_digits[byte >> 4];
        out += '.';
        out += hex_digits[byte & 0xf];
    }
    return out;
}

std::string reverse_name(const IpAddress& ip) {
    std::string out;
    if (is_ipv4(ip)) {
        const auto& o = std::get<dns::Ipv4>(ip).octets;
        for (int i = 3; i >= 0; --i) out += std::to_string(o[static_cast<std::size_t>(i)]) + ".";
        return out + "in-addr.arpa";
    }
    const auto& o = std::get<dns::Ipv6>(ip).octets;
    for (int i = 15; i >= 0; --i) {
        out += hex_digits[o[static_cast<std::size_t>(i)] & 0xf];
        out += '.';
        out += hex_digits[o[static_cast<std::size_t>(i)] >> 4];
        out += '.';
    }
    return out + "ip6.arpa";
}

bool in_network(const IpAddress& ip, const IpAddress& network, unsigned prefix) {
    if (ip.index() != network.index()) return false;
    const std::uint8_t* a;
    const std::uint8_t* b;
    unsigned bits;
    if (is_ipv4(ip)) {
        a = std::get<dns::Ipv4>(ip).octets.data();
        b = std::get<dns::Ipv4>(network).octets.data();
        bits = 32;
    } else {
        a = std::get<dns::Ipv6>(ip).octets.data();
        b = std::get<dns::Ipv6>(network).octets.data();
        bits = 128;
    }
    if (prefix > bits) prefix = bits;
    unsigned i = 0;
    for (; prefix >= 8; prefix -= 8, ++i)
        if (a[i] != b[i]) return false;
    if (prefix == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - prefix));
    return (a[i] & mask) == (b[i] & mask);
}

}  // namespace pigeon::spf
