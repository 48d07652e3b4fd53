// TcpTransport: POSIX sockets, poll() deadlines, and the sans-I/O TLS client (see the header).
#include "tcp_transport.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>

#include "tls/credentials.hpp"
#include "tls/tls_channel.hpp"

namespace pigeon::conformance {
namespace {

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

// poll() for one event until the deadline; false on timeout. EINTR restarts the wait.
bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) {
    while (true) {
        pollfd p{fd, events, 0};
        const int r = ::poll(&p, 1, remaining_ms(deadline));
        if (r > 0) return true;
        if (r == 0) return false;
        if (errno != EINTR) return false;
    }
}

// One client context for the whole run: it holds no certificate and the harness accepts any
// server certificate (the server's is self-signed; what is tested is the SMTP dialogue).
std::shared_ptr<tls::TlsContext> client_context() {
    static const auto context = tls::TlsContext::client_only();
    return context;
}

}  // namespace

TcpTransport::TcpTransport(TcpOptions options) : options_(std::move(options)) {}

TcpTransport::~TcpTransport() {
    if (fd_ >= 0) ::close(fd_);
}

std::string TcpTransport::connect() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) return errno_text("socket");
    // Each send group must leave as written, not wait for an ACK (split-command transcripts).
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(options_.port);
    if (::inet_pton(AF_INET, options_.host.c_str(), &addr.sin_addr) != 1)
        return "not an IPv4 address: " + options_.host;
    const auto deadline = Clock::now() + options_.line_timeout;
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno != EINPROGRESS) return errno_text("connect");
        if (!wait_for(fd_, POLLOUT, deadline)) return "connect: timed out";
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return std::string("connect: ") + std::strerror(err);
    }
    if (options_.implicit_tls) return handshake();
    return {};
}

std::string TcpTransport::write_all(std::string_view bytes) {
    const auto deadline = Clock::now() + options_.line_timeout;
    while (!bytes.empty()) {
        const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            // The server is not reading (a full window): read meanwhile so that its replies
            // cannot fill our buffer and deadlock both sides.
            pollfd p{fd_, POLLOUT | POLLIN, 0};
            if (::poll(&p, 1, remaining_ms(deadline)) <= 0 && Clock::now() >= deadline)
                return "send: the server accepted no data for " +
                       std::to_string(options_.line_timeout.count()) + " ms";
            if ((p.revents & POLLIN) && !peer_closed_) read_some(Clock::now());
            continue;
        }
        if (errno == EPIPE || errno == ECONNRESET)
            return "the client sent data after the server closed the connection";
        return errno_text("send");
    }
    return {};
}

bool TcpTransport::read_some(Clock::time_point deadline) {
    if (peer_closed_) return false;
    char buffer[65536];
    while (true) {
        const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n > 0) {
            const std::string_view data(buffer, static_cast<std::size_t>(n));
            if (tls_) {
                auto out = tls_->received(data);
                if (!out.to_peer.empty()) write_all(out.to_peer);  // handshake, alerts
                input_ += out.plaintext;
                if (out.closed) {
                    peer_closed_ = true;
                    read_error_ = out.error;
                }
            } else {
                input_.append(data);
            }
            split_lines();
            return true;
        }
        if (n == 0) {
            peer_closed_ = true;
            return false;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!wait_for(fd_, POLLIN, deadline)) return false;
            continue;
        }
        // A reset is how a server that closes with unread input ends; it is still a close.
        peer_closed_ = true;
        read_error_ = errno_text("recv");
        return false;
    }
}

void TcpTransport::split_lines() {
    static const std::regex queued(R"((250 2\.0\.0 OK: queued as )(\S+))");
    std::size_t crlf;
    while ((crlf = input_.find("\r\n")) != std::string::npos) {
        std::string line = input_.substr(0, crlf);
        input_.erase(0, crlf + 2);
        std::smatch m;
        if (std::regex_match(line, m, queued)) {
            queue_ids_.push_back(m[2].str());
            line = m[1].str() + "Q" + std::to_string(queue_ids_.size());
        }
        lines_.push_back(std::move(line));
    }
}

std::optional<std::string> TcpTransport::line_within(std::chrono::milliseconds wait) {
    const auto deadline = Clock::now() + wait;
    while (true) {
        if (!lines_.empty()) {
            auto line = std::move(lines_.front());
            lines_.pop_front();
            return line;
        }
        if (peer_closed_ || Clock::now() >= deadline) return std::nullopt;
        read_some(deadline);
    }
}

std::optional<std::string> TcpTransport::receive_line() { return line_within(options_.line_timeout); }

std::optional<std::string> TcpTransport::poll_line() { return line_within(options_.quiet_grace); }

bool TcpTransport::closed() {
    const auto deadline = Clock::now() + options_.line_timeout;
    while (!peer_closed_ && Clock::now() < deadline) read_some(deadline);
    return peer_closed_;
}

std::string TcpTransport::send(std::string_view bytes) {
    if (peer_closed_) return "the client sent data after the server closed the connection";
    if (sent_eof_) return "the client sent data after EOF";
    if (!tls_) return write_all(bytes);
    auto out = tls_->send(bytes);
    if (out.closed) return "TLS: " + (out.error.empty() ? std::string("closed") : out.error);
    return write_all(out.to_peer);
}

std::string TcpTransport::start_tls() {
    if (tls_) return "TLS: the connection is already inside TLS";
    // The client speaks first in TLS, so anything already read is plaintext the server sent
    // after its 220: complete lines stay readable (a NOSERVER will catch them), a fragment
    // would be mistaken for the start of the handshake.
    if (!input_.empty()) return "TLS: the server sent plaintext after 220: " + escape(input_);
    if (peer_closed_) return "TLS: the server has closed the connection";
    return handshake();
}

std::string TcpTransport::handshake() {
    tls_ = std::make_unique<tls::TlsClientChannel>(client_context(), std::string());
    auto out = tls_->start();
    if (auto error = write_all(out.to_peer); !error.empty()) return "TLS: " + error;
    const auto deadline = Clock::now() + options_.line_timeout;
    while (!tls_->established()) {
        if (peer_closed_)
            return "TLS handshake failed: " +
                   (read_error_.empty() ? std::string("the server closed the connection")
                                        : read_error_);
        if (Clock::now() >= deadline) return "TLS handshake timed out";
        read_some(deadline);
    }
    return {};
}

std::string TcpTransport::timeout() {
    if (!options_.server_times_out)
        return "TIMEOUT cannot be injected over TCP (the server needs a tiny command timeout)";
    return {};  // the server's own timer fires within about a second; the next S: waits
}

std::string TcpTransport::eof() {
    if (sent_eof_) return "EOF twice";
    sent_eof_ = true;
    // No close_notify inside TLS: a closed channel reads nothing more, and the transcript
    // still has to see what the server does (say nothing, close). A bare FIN is what a
    // client that goes away looks like anyway.
    if (::shutdown(fd_, SHUT_WR) != 0 && errno != ENOTCONN) return errno_text("shutdown");
    return {};
}

}  // namespace pigeon::conformance
