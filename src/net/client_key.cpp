#include "net/client_key.hpp"

#include <boost/asio/ip/address.hpp>

namespace pigeon::net {

std::string client_key(std::string_view address, unsigned ipv6_prefix_bits) {
    namespace ip = boost::asio::ip;
    boost::system::error_code ec;
    const ip::address parsed = ip::make_address(std::string(address), ec);
    if (ec || ipv6_prefix_bits < 1 || ipv6_prefix_bits > 128) return std::string(address);
    if (parsed.is_v4()) return parsed.to_string();
    const ip::address_v6 v6 = parsed.to_v6();
    if (v6.is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, v6).to_string();
    if (ipv6_prefix_bits == 128) return v6.to_string();
    ip::address_v6::bytes_type bytes = v6.to_bytes();
    for (unsigned bit = ipv6_prefix_bits; bit < 128; ++bit)
        bytes[bit / 8] &= static_cast<unsigned char>(~(0x80u >> (bit % 8)));
    // The scope id (fe80::1%eth0) names an interface, not a network: not part of the key.
    return ip::address_v6(bytes).to_string() + "/" + std::to_string(ipv6_prefix_bits);
}

}  // namespace pigeon::net
