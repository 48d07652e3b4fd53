// pigeon/net/client_key.hpp: the key under which per-client limits count a peer.
//
// One IPv4 address is one client. One IPv6 address is not: a single subscriber usually gets a
// whole /64 (RFC 6177, RFC 7934) and can connect from 2^64 addresses, so counting IPv6 peers one
// address at a time lets anyone with a /64 walk past every per-client limit. Server::Impl::admit
// (max_connections_per_ip) and the AUTH-failure throttle (app/auth_throttle.hpp) both count by
// this key.
//
// Contract:
//   - IPv4 "a.b.c.d": itself.
//   - IPv4-mapped IPv6 "::ffff:a.b.c.d" (RFC 4291 2.5.5.2): the IPv4 address, as above.
//   - Other IPv6: the network of the first ipv6_prefix_bits bits in RFC 4291 2.3 prefix
//     notation, host bits zeroed and the address in RFC 5952 form: "2001:db8:1:2::/64".
//     ipv6_prefix_bits 128 gives the address itself, without "/128".
//   - ipv6_prefix_bits outside 1..128, or text that is no address: the text unchanged (a key
//     that matches only itself; never throws).
//   - Pure: no sockets, no resolver.
#pragma once
#include <string>
#include <string_view>

namespace pigeon::net {

inline constexpr unsigned default_ipv6_prefix_bits = 64;  // one subscriber's network

std::string client_key(std::string_view address, unsigned ipv6_prefix_bits);

}  // namespace pigeon::net
