// Wire-format rdata -> dns::RData (see rdata.hpp). Moved out of unbound_resolver.cpp unchanged,
// so that it is built without libunbound and fuzzed (fuzz/dns_rdata.cpp).
#include "dns/rdata.hpp"

#include <cstddef>
#include <cstdint>

namespace pigeon::dns {

namespace {

constexpr std::size_t mx_preference_octets = 2;
constexpr std::size_t ipv4_octets = 4, ipv6_octets = 16;
constexpr std::size_t tlsa_header_octets = 3;
constexpr std::uint8_t compression_flags = 0xC0;  // RFC 1035 4.1.4: never in uncompressed rdata

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// A wire name at wire[pos] -> text (lower case, no trailing dot), advancing pos. Octets that
// would make the text ambiguous are written as \DDD (RFC 1035 5.1).
std::optional<std::string> read_name(std::string_view wire, std::size_t& pos) {
    std::string out;
    std::size_t total = 0;
    while (true) {
        if (pos >= wire.size()) return std::nullopt;
        const auto len = static_cast<std::uint8_t>(wire[pos]);
        if ((len & compression_flags) != 0) return std::nullopt;
        ++pos;
        if (len == 0) break;
        total += 1 + len;
        if (total > 255 || pos + len > wire.size()) return std::nullopt;  // RFC 1035 3.1: 255 octets
        if (!out.empty()) out += '.';
        for (std::size_t i = 0; i < len; ++i) {
            const char c = wire[pos + i];
            const auto u = static_cast<unsigned char>(c);
            if (c == '.' || c == '\\' || u < 0x21 || u == 0x7f) {
                out += '\\';
                out += static_cast<char>('0' + u / 100);
                out += static_cast<char>('0' + u / 10 % 10);
                out += static_cast<char>('0' + u % 10);
            } else {
                out += lower(c);
            }
        }
        pos += len;
    }
    return out;
}

}  // namespace

std::optional<RData> decode_rdata(RrType type, std::string_view wire) {
    switch (type) {
        case RrType::a: {
            if (wire.size() != ipv4_octets) return std::nullopt;
            Ipv4 v;
            for (std::size_t i = 0; i < ipv4_octets; ++i) v.octets[i] = static_cast<std::uint8_t>(wire[i]);
            return v;
        }
        case RrType::aaaa: {
            if (wire.size() != ipv6_octets) return std::nullopt;
            Ipv6 v;
            for (std::size_t i = 0; i < ipv6_octets; ++i) v.octets[i] = static_cast<std::uint8_t>(wire[i]);
            return v;
        }
        case RrType::ns:
        case RrType::cname:
        case RrType::ptr: {
            std::size_t pos = 0;
            auto n = read_name(wire, pos);
            if (!n || pos != wire.size()) return std::nullopt;
            return Name{std::move(*n)};
        }
        case RrType::mx: {
            if (wire.size() < mx_preference_octets) return std::nullopt;
            Mx mx;
            mx.preference = static_cast<std::uint16_t>(static_cast<std::uint8_t>(wire[0]) << 8 |
                                                       static_cast<std::uint8_t>(wire[1]));
            std::size_t pos = mx_preference_octets;
            auto n = read_name(wire, pos);
            if (!n || pos != wire.size()) return std::nullopt;
            mx.exchange = std::move(*n);
            return mx;
        }
        case RrType::txt:
        case RrType::spf: {
            if (wire.empty()) return std::nullopt;  // RFC 1035 3.3.14: one or more strings
            Txt txt;
            for (std::size_t pos = 0; pos < wire.size();) {
                const auto len = static_cast<std::uint8_t>(wire[pos]);
                if (pos + 1 + len > wire.size()) return std::nullopt;
                txt.strings.emplace_back(wire.substr(pos + 1, len));
                pos += 1 + len;
            }
            return txt;
        }
        case RrType::tlsa: {
            if (wire.size() < tlsa_header_octets) return std::nullopt;
            Tlsa t;
            t.usage = static_cast<std::uint8_t>(wire[0]);
            t.selector = static_cast<std::uint8_t>(wire[1]);
            t.matching = static_cast<std::uint8_t>(wire[2]);
            t.data = std::string(wire.substr(tlsa_header_octets));
            return t;
        }
        case RrType::soa: return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace pigeon::dns
