// Tests for net/server.hpp over loopback: output backpressure (a client that pipelines and
// never reads its replies) and the flow of a long pipeline whose replies are read.
#include "net/server.hpp"

#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "core/clock.hpp"

using namespace std::chrono_literals;
namespace net = pigeon::net;
namespace smtp = pigeon::smtp;

namespace {

// Answers every question at once: accept, queue, refuse logins.
class AcceptAll final : public net::Services {
public:
    void handle(const net::ConnectionInfo&, const smtp::Action& action,
                std::function<void(smtp::Event)> done) override {
        if (std::holds_alternative<smtp::Enqueue>(action)) return done(smtp::Enqueued{"Q1"});
        if (std::holds_alternative<smtp::Authenticate>(action))
            return done(smtp::AuthResult{smtp::AuthResult::Outcome::bad_credentials, {}});
        done(smtp::Verdict{});
    }
};

// A Server on 127.0.0.1 (port chosen by the OS) running on its own thread.
class RunningServer {
public:
    explicit RunningServer(std::chrono::seconds command_timeout) {
        net::ServerOptions o;
        o.listeners.push_back(net::ListenerOptions{"127.0.0.1", 0, smtp::Role::inbound,
                                                   net::TlsMode::none});
        o.limits.command_timeout = command_timeout;
        o.limits.shutdown_grace = 1s;
        o.session.hostname = "mx.test.example";
        o.threads = 1;
        o.clock = &clock_;
        server_ = std::make_unique<net::Server>(std::move(o), services_);
        port = server_->bound_ports().at(0);
        thread_ = std::thread([this] { server_->run(); });
    }
    ~RunningServer() {
        server_->stop();
        thread_.join();
    }
    net::Server& server() { return *server_; }
    std::uint16_t port = 0;

private:
    pigeon::core::FixedClock clock_{1795000000};
    AcceptAll services_;
    std::unique_ptr<net::Server> server_;
    std::thread thread_;
};

// A non-blocking loopback client socket; a small receive buffer so that unread replies back up
// into the server quickly.
int connect_to(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    BOOST_REQUIRE(fd >= 0);
    int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    pollfd p{fd, POLLOUT, 0};
    BOOST_REQUIRE(::poll(&p, 1, 5000) == 1);
    return fd;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return done();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(server_tests)

// The reply flood: before backpressure the server read all of it and grew by ~13 octets per
// octet sent, and each reply re-armed the timer so the connection never ended.
BOOST_AUTO_TEST_CASE(a_client_that_never_reads_is_stopped_and_closed_after_the_timeout) {
    RunningServer s(2s);
    const int fd = connect_to(s.port);
    std::string chunk;
    for (int i = 0; i < 4096; ++i) chunk += "HELP\r\n";
    constexpr std::size_t total = 64 * 1024 * 1024;
    std::size_t sent = 0;
    std::size_t offset = 0;
    while (sent < total) {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, 1500) != 1) break;  // the server stopped reading
        const auto n = ::send(fd, chunk.data() + offset, chunk.size() - offset, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
        offset = (offset + static_cast<std::size_t>(n)) % chunk.size();
    }
    BOOST_TEST_MESSAGE("sent " << sent << " octets before the server stopped reading");
    // What the kernel buffers on both sides plus the server's mark, nowhere near 64 MiB.
    BOOST_TEST(sent < std::size_t{16} * 1024 * 1024);
    BOOST_TEST(s.server().connection_count() == 1u);
    // Not read within the command timeout: closed (no 421 can reach this client).
    BOOST_TEST(wait_until([&] { return s.server().connection_count() == 0; }, 6s));
    ::close(fd);
}

// The same long pipeline from a client that reads: every reply arrives, in order, through
// however many pauses and resumptions backpressure takes.
BOOST_AUTO_TEST_CASE(a_client_that_reads_gets_every_reply_of_a_long_pipeline) {
    RunningServer s(10s);
    const int fd = connect_to(s.port);
    std::string out;
    constexpr int commands = 100000;
    for (int i = 0; i < commands; ++i) out += "NOOP\r\n";
    out += "QUIT\r\n";
    std::string in;
    std::size_t offset = 0;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    bool eof = false;
    char buf[65536];
    while (!eof && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, static_cast<short>(POLLIN | (offset < out.size() ? POLLOUT : 0)), 0};
        if (::poll(&p, 1, 1000) <= 0) continue;
        if (p.revents & POLLOUT) {
            const auto n = ::send(fd, out.data() + offset, out.size() - offset, MSG_NOSIGNAL);
            if (n > 0) offset += static_cast<std::size_t>(n);
        }
        if (p.revents & (POLLIN | POLLHUP)) {
            const auto n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) eof = true;
            else in.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    BOOST_TEST(eof);
    std::string expected = "220 mx.test.example ESMTP Pigeon\r\n";
    for (int i = 0; i < commands; ++i) expected += "250 2.0.0 OK\r\n";
    expected += "221 2.0.0 mx.test.example closing connection\r\n";
    BOOST_TEST(in.size() == expected.size());
    BOOST_TEST((in == expected));
}

BOOST_AUTO_TEST_SUITE_END()
