// Tests for net/listen.hpp: listeners bound here, sockets passed by a service manager matched
// by address and port, and the errors for what matches nothing.
#include "net/listen.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

namespace net = pigeon::net;

namespace {

// A listening TCP socket on 127.0.0.1 (port 0: any), as systemd would pass it.
int listening_socket(std::uint16_t port = 0) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&in), sizeof in) != 0 || ::listen(fd, 8) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

std::uint16_t port_of(int fd) {
    sockaddr_in in{};
    socklen_t len = sizeof in;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&in), &len);
    return ntohs(in.sin_port);
}

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

net::ListenerOptions listener(const std::string& address, std::uint16_t port) {
    net::ListenerOptions l;
    l.address = address;
    l.port = port;
    return l;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(listen_tests)

BOOST_AUTO_TEST_CASE(listeners_without_a_passed_socket_are_bound_here) {
    auto opened = net::open_listeners({listener("127.0.0.1", 0), listener("::1", 0)}, {});
    BOOST_REQUIRE(opened.ok());
    BOOST_REQUIRE(opened->size() == 2u);
    for (const auto& o : *opened) {
        BOOST_TEST(o.fd >= 0);
        BOOST_TEST(!o.passed);
        BOOST_TEST((::fcntl(o.fd, F_GETFD) & FD_CLOEXEC) != 0);
        ::close(o.fd);
    }
}

BOOST_AUTO_TEST_CASE(a_passed_socket_serves_the_listener_with_its_address_and_port) {
    const int a = listening_socket(), b = listening_socket();
    BOOST_REQUIRE(a >= 0 && b >= 0);
    // Passed in another order than the listeners, and one listener left to bind here.
    auto opened = net::open_listeners(
        {listener("127.0.0.1", port_of(a)), listener("127.0.0.1", 0), listener("127.0.0.1", port_of(b))}, {b, a});
    BOOST_REQUIRE(opened.ok());
    BOOST_TEST((*opened)[0].fd == a);
    BOOST_TEST((*opened)[0].passed);
    BOOST_TEST((*opened)[2].fd == b);
    BOOST_TEST((*opened)[2].passed);
    BOOST_TEST(!(*opened)[1].passed);
    BOOST_TEST((*opened)[1].fd != a);
    BOOST_TEST(net::describe_socket(a) == "127.0.0.1:" + std::to_string(port_of(a)));
    for (const auto& o : *opened) ::close(o.fd);
}

BOOST_AUTO_TEST_CASE(addresses_compare_as_addresses_not_as_text) {
    const int a = listening_socket();
    BOOST_REQUIRE(a >= 0);
    // 127.0.0.1 written another way is not valid IPv4 text for Asio, so compare v6 forms: the
    // socket is IPv4, and an IPv6 listener (even ::ffff:127.0.0.1) is not it.
    auto mapped = net::open_listeners({listener("::ffff:127.0.0.1", port_of(a))}, {a});
    BOOST_REQUIRE(!mapped.ok());
    BOOST_TEST(mapped.error().message.find("no [[listeners]] entry") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_passed_socket_no_listener_names_is_an_error_and_nothing_stays_open) {
    const int a = listening_socket();
    BOOST_REQUIRE(a >= 0);
    const std::string where = "127.0.0.1:" + std::to_string(port_of(a));
    auto opened = net::open_listeners({listener("127.0.0.1", 0)}, {a});
    BOOST_REQUIRE(!opened.ok());
    BOOST_TEST(opened.error().message.find(where) != std::string::npos);
    BOOST_TEST(!is_open(a));
}

BOOST_AUTO_TEST_CASE(two_passed_sockets_for_one_listener_are_an_error) {
    const int a = listening_socket();
    BOOST_REQUIRE(a >= 0);
    const int twin = ::dup(a);
    auto opened = net::open_listeners({listener("127.0.0.1", port_of(a))}, {a, twin});
    BOOST_REQUIRE(!opened.ok());
    BOOST_TEST(opened.error().message.find("two sockets") != std::string::npos);
    BOOST_TEST(!is_open(a));
    BOOST_TEST(!is_open(twin));
}

BOOST_AUTO_TEST_CASE(a_port_in_use_is_an_error_naming_address_and_port) {
    const int a = listening_socket();
    BOOST_REQUIRE(a >= 0);
    auto opened = net::open_listeners({listener("127.0.0.1", 0), listener("127.0.0.1", port_of(a))}, {});
    BOOST_REQUIRE(!opened.ok());
    BOOST_TEST(opened.error().message.find("cannot listen on 127.0.0.1:" + std::to_string(port_of(a))) !=
               std::string::npos);
    BOOST_TEST(is_open(a));  // not ours: never closed
    ::close(a);
}

BOOST_AUTO_TEST_CASE(a_bad_address_is_an_error) {
    auto opened = net::open_listeners({listener("not-an-address", 25)}, {});
    BOOST_REQUIRE(!opened.ok());
    BOOST_TEST(opened.error().message.find("not an IP address") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
