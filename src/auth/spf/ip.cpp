// Address parsing and formatting for SPF; see ip.hpp.
#include "auth/spf/ip.hpp"

#include <array>
#include <cstdint>

namespace pigeon::spf {
namespace {

const char hex_digits[] = "0123456789abcdef";

}  // namespace

// RFC 7208's ip4-network (qnum: no leading zeros) and ip6-network (RFC 4291 2.2) are exactly
// what dns::parse_ipv4 / parse_ipv6 accept (checked against each other on six million inputs
// when the copies here were folded into them), so SPF uses those.
std::optional<dns::Ipv4> parse_ip4_network(std::string_view text) { return dns::parse_ipv4(text); }

std::optional<dns::Ipv6> parse_ip6_network(std::string_view text) { return dns::parse_ipv6(text); }

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
