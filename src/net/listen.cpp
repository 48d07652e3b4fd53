// pigeon/net/listen.cpp: see listen.hpp.
#include "net/listen.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <cerrno>
#include <cstring>
#include <optional>

namespace pigeon::net {
namespace asio = boost::asio;

namespace {

struct Bound {
    asio::ip::address address;
    std::uint16_t port = 0;
};

std::optional<Bound> bound_address(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
    if (ss.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
        asio::ip::address_v4::bytes_type b;
        std::memcpy(b.data(), &in->sin_addr, b.size());
        return Bound{asio::ip::address_v4(b), ntohs(in->sin_port)};
    }
    if (ss.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        asio::ip::address_v6::bytes_type b;
        std::memcpy(b.data(), &in6->sin6_addr, b.size());
        return Bound{asio::ip::address_v6(b), ntohs(in6->sin6_port)};
    }
    return std::nullopt;
}

std::string describe(const asio::ip::address& a, std::uint16_t port) {
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(port);
}

ListenError fail(std::string message) { return ListenError{std::move(message), {}}; }

// socket, SO_REUSEADDR, bind, listen; the descriptor or an error naming what failed.
core::Result<int, ListenError> bind_one(const ListenerOptions& l) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(l.address, ec);
    const std::string where = l.address + ":" + std::to_string(l.port);
    if (ec) return fail("cannot listen on " + where + ": not an IP address");
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (address.is_v4()) {
        auto* in = reinterpret_cast<sockaddr_in*>(&ss);
        in->sin_family = AF_INET;
        in->sin_port = htons(l.port);
        const auto b = address.to_v4().to_bytes();
        std::memcpy(&in->sin_addr, b.data(), b.size());
        len = sizeof *in;
    } else {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(l.port);
        const auto b = address.to_v6().to_bytes();
        std::memcpy(&in6->sin6_addr, b.data(), b.size());
        in6->sin6_scope_id = address.to_v6().scope_id();
        len = sizeof *in6;
    }
    const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail("cannot listen on " + where + ": socket: " + std::strerror(errno));
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        const int e = errno;
        ::close(fd);
        std::string why = std::strerror(e);
        if (e == EACCES && l.port < 1024)
            why += " (ports below 1024 need root, CAP_NET_BIND_SERVICE, or a socket passed by systemd)";
        return fail("cannot listen on " + where + ": " + why);
    }
    if (::listen(fd, SOMAXCONN) != 0) {
        const int e = errno;
        ::close(fd);
        return fail("cannot listen on " + where + ": " + std::strerror(e));
    }
    return fd;
}

}  // namespace

std::string describe_socket(int fd) {
    const auto b = bound_address(fd);
    return b ? describe(b->address, b->port) : "descriptor " + std::to_string(fd);
}

core::Result<std::vector<OpenedListener>, ListenError> open_listeners(const std::vector<ListenerOptions>& listeners,
                                                                      const std::vector<int>& passed) {
    std::vector<OpenedListener> opened(listeners.size());
    auto close_all = [&] {
        for (auto& o : opened)
            if (o.fd >= 0 && !o.passed) ::close(o.fd);
        for (int fd : passed) ::close(fd);
    };
    for (int fd : passed) {
        const auto b = bound_address(fd);
        std::optional<std::size_t> match;
        for (std::size_t i = 0; b && i < listeners.size() && !match; ++i) {
            boost::system::error_code ec;
            const auto a = asio::ip::make_address(listeners[i].address, ec);
            if (!ec && a == b->address && listeners[i].port == b->port) match = i;
        }
        if (!match) {
            const std::string what = describe_socket(fd);
            close_all();
            return fail("the service manager passed a socket for " + what +
                        ", which no [[listeners]] entry names (address and port must match)");
        }
        if (opened[*match].fd >= 0) {
            const std::string what = describe_socket(fd);
            close_all();
            return fail("the service manager passed two sockets for " + what);
        }
        opened[*match] = OpenedListener{fd, true};
    }
    for (std::size_t i = 0; i < listeners.size(); ++i) {
        if (opened[i].fd >= 0) continue;
        auto fd = bind_one(listeners[i]);
        if (!fd.ok()) {
            close_all();
            return std::move(fd).error();
        }
        opened[i] = OpenedListener{fd.value(), false};
    }
    return opened;
}

}  // namespace pigeon::net
