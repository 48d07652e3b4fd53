// pigeon/auth/spf/ip.hpp: the client address of an SPF check, and the address text forms
// RFC 7208 needs (ip4/ip6 networks, the i/c/v macros, reverse names for PTR).
//
// Contract:
//   - IpAddress is an IPv4 or an IPv6 address (dns::Ipv4 / dns::Ipv6 values).
//   - parse_ip4_network() is RFC 7208's ip4-network: four decimal parts 0..255 without
//     leading zeros ("01" is rejected). parse_ip6_network() is RFC 4291 2.2 text (hex groups,
//     one "::", an optional trailing dotted quad), case-insensitive.
//   - unmap() turns an IPv4-mapped IPv6 address (::ffff:a.b.c.d) into the IPv4 address: RFC 7208
//     section 5 says such a client is an IPv4 client for every mechanism.
//   - Nothing here throws; bad text gives nullopt.
// These live in the spf namespace (not dns) on purpose: they are the few address functions
// SPF needs and carry SPF's stricter rules (no leading zeros).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "dns/dns.hpp"

namespace pigeon::spf {

using IpAddress = std::variant<dns::Ipv4, dns::Ipv6>;

inline bool is_ipv4(const IpAddress& ip) noexcept { return ip.index() == 0; }

std::optional<dns::Ipv4> parse_ip4_network(std::string_view text);
std::optional<dns::Ipv6> parse_ip6_network(std::string_view text);
// Either form; the IPv6 form is tried when the text contains ':'.
std::optional<IpAddress> parse_ip(std::string_view text);

IpAddress unmap(const IpAddress& ip);

// "192.0.2.1" / "2001:db8::1" (RFC 5952: lower case, longest zero run compressed): %{c}.
std::string ip_text(const IpAddress& ip);
// "192.0.2.1" / "2.0.0.1.0.d.b.8. ..." (32 dot-separated nibbles, lower case): %{i}.
std::string ip_dotted(const IpAddress& ip);
// "1.2.0.192.in-addr.arpa" / "<reversed nibbles>.ip6.arpa": the PTR query name.
std::string reverse_name(const IpAddress& ip);

// True when both are the same family and the first `prefix` bits agree. A prefix longer
// than the address is clamped (the parser rejects those before they get here).
bool in_network(const IpAddress& ip, const IpAddress& network, unsigned prefix);

}  // namespace pigeon::spf
