// pigeon/net/lmtp_socket.cpp: delivery::LmtpConnection over a Unix or TCP socket: a non-blocking
// connect and poll(2)-bounded reads and writes (the local delivery worker's thread blocks
// here, never an I/O thread).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "net/lmtp_socket.hpp"

namespace pigeon::net {
namespace {

using delivery::LmtpConnection;
using delivery::LmtpConnector;

using std::chrono::milliseconds;

int poll_ms(milliseconds t) { return static_cast<int>(std::clamp<long long>(t.count(), 0, 24LL * 3600 * 1000)); }

class SocketConnection final : public LmtpConnection {
public:
    explicit SocketConnection(int fd) : fd_(fd) {}
    ~SocketConnection() override { ::close(fd_); }

    bool write(std::string_view bytes, milliseconds timeout, std::string& error) override {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n > 0) {
                bytes.remove_prefix(static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                const auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
                pollfd p{fd_, POLLOUT, 0};
                if (left.count() <= 0 || ::poll(&p, 1, poll_ms(left)) == 0) {
                    error = "timed out writing";
                    return false;
                }
                continue;
            }
            error = std::strerror(errno);
            return false;
        }
        return true;
    }

    Read read(milliseconds timeout) override {
        Read r;
        pollfd p{fd_, POLLIN, 0};
        const int ready = ::poll(&p, 1, poll_ms(timeout));
        if (ready == 0 || (ready < 0 && errno == EINTR)) {
            r.status = ReadStatus::timeout;
            return r;
        }
        if (ready < 0) {
            r.error = std::strerror(errno);
            return r;
        }
        char buffer[16 * 1024];
        const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n > 0) {
            r.status = ReadStatus::data;
            r.bytes.assign(buffer, static_cast<std::size_t>(n));
        } else if (n == 0) {
            r.status = ReadStatus::eof;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            r.status = ReadStatus::timeout;  // woken for nothing: the caller checks its deadline
        } else {
            r.error = std::strerror(errno);
        }
        return r;
    }

private:
    int fd_;
};

std::unique_ptr<LmtpConnection> open_socket(const config::LmtpEndpoint& e, milliseconds timeout, std::string& error) {
    sockaddr_storage address{};
    socklen_t length = 0;
    int family = AF_UNIX;
    if (e.unix_socket) {
        auto* un = reinterpret_cast<sockaddr_un*>(&address);
        un->sun_family = AF_UNIX;
        if (e.path.size() >= sizeof un->sun_path) {
            error = "socket path too long";
            return nullptr;
        }
        std::memcpy(un->sun_path, e.path.c_str(), e.path.size() + 1);
        length = sizeof(sockaddr_un);
    } else if (e.address.find(':') == std::string::npos) {
        auto* in = reinterpret_cast<sockaddr_in*>(&address);
        in->sin_family = family = AF_INET;
        in->sin_port = htons(e.port);
        if (::inet_pton(AF_INET, e.address.c_str(), &in->sin_addr) != 1) {
            error = "bad address " + e.address;
            return nullptr;
        }
        length = sizeof(sockaddr_in);
    } else {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
        in6->sin6_family = family = AF_INET6;
        in6->sin6_port = htons(e.port);
        if (::inet_pton(AF_INET6, e.address.c_str(), &in6->sin6_addr) != 1) {
            error = "bad address " + e.address;
            return nullptr;
        }
        length = sizeof(sockaddr_in6);
    }
    const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = std::strerror(errno);
        return nullptr;
    }
    auto connection = std::make_unique<SocketConnection>(fd);  // closes fd on every return below
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
        if (errno != EINPROGRESS && errno != EAGAIN) {
            error = std::strerror(errno);
            return nullptr;
        }
        pollfd p{fd, POLLOUT, 0};
        const int ready = ::poll(&p, 1, poll_ms(timeout));
        if (ready <= 0) {
            error = ready == 0 ? "timed out connecting" : std::strerror(errno);
            return nullptr;
        }
        int so_error = 0;
        socklen_t len = sizeof so_error;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
        if (so_error != 0) {
            error = std::strerror(so_error);
            return nullptr;
        }
    }
    return connection;
}

}  // namespace

LmtpConnector lmtp_socket_connector() { return open_socket; }

}  // namespace pigeon::net
