// Tests for net/client_key.hpp: the key per-client limits count by (IPv4 address, IPv6 /N).
#include "net/client_key.hpp"
#include "policy/auth_throttle.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include <array>
#include <cstdint>

using pigeon::net::client_key;

namespace {

std::string v6_text(const std::array<std::uint8_t, 16>& bytes) {
    boost::asio::ip::address_v6::bytes_type b{};
    for (std::size_t i = 0; i < 16; ++i) b[i] = bytes[i];
    return boost::asio::ip::address_v6(b).to_string();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(client_key_tests)

BOOST_AUTO_TEST_CASE(ipv4_is_its_own_key_whatever_the_prefix) {
    BOOST_TEST(client_key("192.0.2.7", 64) == "192.0.2.7");
    BOOST_TEST(client_key("192.0.2.7", 1) == "192.0.2.7");
    BOOST_TEST(client_key("192.0.2.7", 128) == "192.0.2.7");
    BOOST_TEST(client_key("192.0.2.7", 64) != client_key("192.0.2.8", 64));
}

BOOST_AUTO_TEST_CASE(ipv4_mapped_ipv6_counts_as_the_ipv4_address) {
    BOOST_TEST(client_key("::ffff:192.0.2.7", 64) == "192.0.2.7");
    BOOST_TEST(client_key("::ffff:192.0.2.7", 128) == "192.0.2.7");
    BOOST_TEST(client_key("::ffff:c000:207", 48) == "192.0.2.7");
}

BOOST_AUTO_TEST_CASE(ipv6_defaults_to_the_slash_64) {
    BOOST_TEST(pigeon::net::default_ipv6_prefix_bits == 64u);
    BOOST_TEST(client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64) == "2001:db8:1:2::/64");
    BOOST_TEST(client_key("2001:db8:1:2::1", 64) == client_key("2001:db8:1:2:ffff::9", 64));
    BOOST_TEST(client_key("2001:db8:1:2::1", 64) != client_key("2001:db8:1:3::1", 64));
    BOOST_TEST(client_key("::1", 64) == "::/64");
}

BOOST_AUTO_TEST_CASE(ipv6_prefixes_that_are_not_on_a_group_boundary) {
    BOOST_TEST(client_key("2001:db8:abcd:12ff::1", 56) == "2001:db8:abcd:1200::/56");
    BOOST_TEST(client_key("2001:db8:abcd:12ff::1", 48) == "2001:db8:abcd::/48");
    BOOST_TEST(client_key("2001:db8:abcd:12ff::1", 61) == "2001:db8:abcd:12f8::/61");
    BOOST_TEST(client_key("ffff::", 1) == "8000::/1");
    BOOST_TEST(client_key("7fff::", 1) == "::/1");
    BOOST_TEST(client_key("2001:db8::ffff", 127) == "2001:db8::fffe/127");
}

BOOST_AUTO_TEST_CASE(ipv6_prefix_128_is_the_address_itself) {
    BOOST_TEST(client_key("2001:db8::1", 128) == "2001:db8::1");
    BOOST_TEST(client_key("2001:DB8:0:0::1", 128) == "2001:db8::1");  // RFC 5952 form
    BOOST_TEST(client_key("2001:db8::1", 128) != client_key("2001:db8::2", 128));
}

BOOST_AUTO_TEST_CASE(a_scope_id_does_not_make_a_separate_client) {
    BOOST_TEST(client_key("fe80::1%1", 64) == "fe80::/64");
}

BOOST_AUTO_TEST_CASE(text_that_is_no_address_or_a_bad_prefix_is_kept_as_is) {
    BOOST_TEST(client_key("", 64) == "");
    BOOST_TEST(client_key("not an address", 64) == "not an address");
    BOOST_TEST(client_key("2001:db8::1", 0) == "2001:db8::1");
    BOOST_TEST(client_key("2001:db8::1", 129) == "2001:db8::1");
    BOOST_TEST(client_key("192.0.2.300", 64) == "192.0.2.300");
}

// Two IPv6 addresses share a key exactly when they agree on the first `bits` bits.
RC_BOOST_PROP(ipv6_addresses_share_a_key_iff_they_share_the_prefix,
              (std::array<std::uint8_t, 16> a, std::array<std::uint8_t, 16> b)) {
    const auto bits = *rc::gen::inRange(1u, 129u);
    a[0] = static_cast<std::uint8_t>(a[0] | 0x20);  // never ::ffff:0:0/96 (IPv4-mapped)
    b[0] = static_cast<std::uint8_t>(b[0] | 0x20);
    if (*rc::gen::arbitrary<bool>()) {  // often share a prefix, or the law is rarely tested
        const unsigned shared = *rc::gen::inRange(0u, 129u);
        for (unsigned bit = 0; bit < shared; ++bit) {
            const auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
            b[bit / 8] = static_cast<std::uint8_t>((b[bit / 8] & ~mask) | (a[bit / 8] & mask));
        }
    }
    bool same_prefix = true;
    for (unsigned bit = 0; bit < bits; ++bit) {
        const auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
        if ((a[bit / 8] & mask) != (b[bit / 8] & mask)) same_prefix = false;
    }
    const auto ka = client_key(v6_text(a), bits);
    const auto kb = client_key(v6_text(b), bits);
    RC_ASSERT((ka == kb) == same_prefix);
    // The key is a fixed point: the network's own address maps to the same key.
    if (bits < 128) RC_ASSERT(client_key(ka.substr(0, ka.find('/')), bits) == ka);
}

// The AUTH throttle (policy/auth_throttle.hpp) counts by these keys: one IPv6 network is one client.
BOOST_AUTO_TEST_CASE(ipv6_clients_are_throttled_per_network_by_their_key) {
    pigeon::policy::AuthFailureThrottle t(2);
    const auto a = pigeon::net::client_key("2001:db8:1:2::1", 64);
    const auto b = pigeon::net::client_key("2001:db8:1:2:dead:beef::7", 64);
    const auto other = pigeon::net::client_key("2001:db8:1:3::1", 64);
    t.record_failure(a, 1000);
    t.record_failure(b, 1001);
    BOOST_TEST(t.throttled(a, 1002));
    BOOST_TEST(t.throttled(b, 1002));
    BOOST_TEST(!t.throttled(other, 1002));
}

BOOST_AUTO_TEST_SUITE_END()
