// Tests for net/dovecot_auth_client.hpp: the transport's answers for what a real Dovecot
// cannot be made to do on purpose (garbage, a CONT out of place, answers out of order, an
// answer for a request not asked), over a Unix socket served by a scripted peer in this
// process. The real Dovecot is tests/integration/test_dovecot_auth.py.
#include "net/dovecot_auth_client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

using pigeon::net::DovecotAuthClient;
using Outcome = DovecotAuthClient::Result::Outcome;

namespace {

const std::string handshake = "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nSPID\t1\nCUID\t1\nCOOKIE\tab\nDONE\n";

// A peer on a Unix socket: each accepted connection is handed to `script` (on its own thread).
class ScriptedPeer {
public:
    using Script = std::function<void(int fd)>;
    explicit ScriptedPeer(Script script) : script_(std::move(script)) {
        path_ = (std::filesystem::temp_directory_path() / ("pigeon-dovecot-" + std::to_string(::getpid()) + "-" +
                                                           std::to_string(counter_++)))
                    .string();
        ::unlink(path_.c_str());
        listener_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
        BOOST_REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        BOOST_REQUIRE(::listen(listener_, 8) == 0);
        thread_ = std::thread([this] {
            while (true) {
                int fd = ::accept(listener_, nullptr, nullptr);
                if (fd < 0) return;
                ++accepted;
                script_(fd);
                ::close(fd);
            }
        });
    }
    ~ScriptedPeer() {
        ::shutdown(listener_, SHUT_RDWR);
        ::close(listener_);
        thread_.join();
        ::unlink(path_.c_str());
    }
    const std::string& path() const { return path_; }
    std::atomic<int> accepted{0};

private:
    static inline int counter_ = 0;
    Script script_;
    std::string path_;
    int listener_ = -1;
    std::thread thread_;
};

void write_all(int fd, const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
        auto n = ::write(fd, s.data() + off, s.size() - off);
        if (n <= 0) return;
        off += static_cast<std::size_t>(n);
    }
}

// Reads lines until `count` lines starting with AUTH arrived (or EOF); returns them.
std::vector<std::string> read_auth_lines(int fd, std::size_t count) {
    std::vector<std::string> lines;
    std::string buf;
    char c;
    while (lines.size() < count && ::read(fd, &c, 1) == 1) {
        if (c != '\n') {
            buf += c;
            continue;
        }
        if (buf.rfind("AUTH\t", 0) == 0) lines.push_back(buf);
        buf.clear();
    }
    return lines;
}

std::string id_of(const std::string& auth_line) {
    auto a = auth_line.find('\t') + 1;
    return auth_line.substr(a, auth_line.find('\t', a) - a);
}

struct Fixture {
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
    std::thread runner{[this] { io.run(); }};
    std::vector<std::string> logged;
    std::mutex log_mutex;
    ~Fixture() {
        work.reset();
        runner.join();
    }
    std::unique_ptr<DovecotAuthClient> client(const std::string& path, int reply_ms = 2000, std::size_t max = 8) {
        DovecotAuthClient::Options o;
        o.endpoint.unix_socket = true;
        o.endpoint.path = path;
        o.name = "unix:" + path;
        o.connect_timeout = std::chrono::milliseconds(1000);
        o.reply_timeout = std::chrono::milliseconds(reply_ms);
        o.max_in_flight = max;
        o.log = [this](pigeon::net::LogLevel, std::string_view line) {
            std::lock_guard lock(log_mutex);
            logged.emplace_back(line);
        };
        return std::make_unique<DovecotAuthClient>(io.get_executor(), std::move(o));
    }
};

std::future<DovecotAuthClient::Result> ask(DovecotAuthClient& c, std::string user, std::string password = "pw") {
    auto promise = std::make_shared<std::promise<DovecotAuthClient::Result>>();
    auto f = promise->get_future();
    c.authenticate({std::move(user), std::move(password), true, "192.0.2.1"},
                   [promise](DovecotAuthClient::Result r) { promise->set_value(std::move(r)); });
    return f;
}

DovecotAuthClient::Result get(std::future<DovecotAuthClient::Result>& f) {
    BOOST_REQUIRE(f.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    return f.get();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dovecot_auth_client)

BOOST_FIXTURE_TEST_CASE(answers_are_matched_by_id_out_of_order_on_one_connection, Fixture) {
    ScriptedPeer peer([](int fd) {
        write_all(fd, handshake);
        auto lines = read_auth_lines(fd, 2);
        if (lines.size() != 2) return;
        // The second first; user= says which request each answer is for.
        write_all(fd, "FAIL\t" + id_of(lines[1]) + "\n");
        write_all(fd, "OK\t" + id_of(lines[0]) + "\tuser=first@test.example\n");
        read_auth_lines(fd, 1);  // until the client closes
    });
    auto c = client(peer.path());
    auto first = ask(*c, "first@test.example");
    auto second = ask(*c, "second@test.example");
    auto r1 = get(first);
    auto r2 = get(second);
    BOOST_TEST((r1.outcome == Outcome::ok));
    BOOST_TEST(r1.user == "first@test.example");
    BOOST_TEST((r2.outcome == Outcome::fail));
    BOOST_TEST(peer.accepted == 1);
}

BOOST_FIXTURE_TEST_CASE(garbage_is_a_temporary_failure_and_the_next_request_reconnects, Fixture) {
    std::atomic<int> connection{0};
    ScriptedPeer peer([&connection](int fd) {
        write_all(fd, handshake);
        auto lines = read_auth_lines(fd, 1);
        if (lines.empty()) return;
        if (connection++ == 0) write_all(fd, "HELLO\tworld\n");
        else write_all(fd, "OK\t" + id_of(lines[0]) + "\tuser=bob@test.example\n");
        read_auth_lines(fd, 1);
    });
    auto c = client(peer.path());
    auto f = ask(*c, "bob@test.example");
    auto r = get(f);
    BOOST_TEST((r.outcome == Outcome::temporary));
    BOOST_TEST(r.reason.find("unknown command") != std::string::npos);
    auto again = ask(*c, "bob@test.example");
    BOOST_TEST((get(again).outcome == Outcome::ok));
    BOOST_TEST(peer.accepted == 2);
}

BOOST_FIXTURE_TEST_CASE(cont_and_answers_for_unknown_ids_are_temporary_failures, Fixture) {
    const std::vector<std::string> answers{"CONT\t%\tUGFzc3dvcmQ6\n", "OK\t999\tuser=x\n"};
    for (const std::string& bad : answers) {
        ScriptedPeer peer([bad](int fd) {
            write_all(fd, handshake);
            auto lines = read_auth_lines(fd, 1);
            if (lines.empty()) return;
            std::string line = bad;
            if (auto p = line.find('%'); p != std::string::npos) line.replace(p, 1, id_of(lines[0]));
            write_all(fd, line);
            read_auth_lines(fd, 1);
        });
        auto c = client(peer.path());
        auto f = ask(*c, "bob@test.example");
        BOOST_TEST((get(f).outcome == Outcome::temporary), bad);
    }
}

BOOST_FIXTURE_TEST_CASE(fail_with_temp_is_temporary, Fixture) {
    ScriptedPeer peer([](int fd) {
        write_all(fd, handshake);
        auto lines = read_auth_lines(fd, 1);
        if (!lines.empty()) write_all(fd, "FAIL\t" + id_of(lines[0]) + "\ttemp\n");
        read_auth_lines(fd, 1);
    });
    auto c = client(peer.path());
    auto f = ask(*c, "bob@test.example");
    BOOST_TEST((get(f).outcome == Outcome::temporary));
}

BOOST_FIXTURE_TEST_CASE(silence_meets_the_reply_timeout_and_a_missing_handshake_the_connect_timeout, Fixture) {
    ScriptedPeer answers_nothing([](int fd) {
        write_all(fd, handshake);
        read_auth_lines(fd, 2);
    });
    auto c = client(answers_nothing.path(), 300);
    auto f = ask(*c, "bob@test.example");
    auto r = get(f);
    BOOST_TEST((r.outcome == Outcome::temporary));
    BOOST_TEST(r.reason.find("no answer within") != std::string::npos);

    ScriptedPeer no_handshake([](int fd) { read_auth_lines(fd, 2); });
    auto d = client(no_handshake.path());
    auto g = ask(*d, "bob@test.example");
    auto s = get(g);
    BOOST_TEST((s.outcome == Outcome::temporary));
    BOOST_TEST(s.reason.find("no connection and handshake within 1 s") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(no_listener_and_no_plain_are_temporary_failures, Fixture) {
    auto c = client("/nonexistent/pigeon-test/auth-client");
    auto f = ask(*c, "bob@test.example");
    auto r = get(f);
    BOOST_TEST((r.outcome == Outcome::temporary));
    BOOST_TEST(r.reason.find("cannot connect") != std::string::npos);

    ScriptedPeer login_only([](int fd) {
        write_all(fd, "VERSION\t1\t2\nMECH\tLOGIN\tplaintext\nDONE\n");
        read_auth_lines(fd, 1);
    });
    auto d = client(login_only.path());
    auto g = ask(*d, "bob@test.example");
    auto s = get(g);
    BOOST_TEST((s.outcome == Outcome::temporary));
    BOOST_TEST(s.reason.find("no PLAIN") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(requests_past_the_bound_are_temporary_at_once, Fixture) {
    ScriptedPeer slow([](int fd) {
        write_all(fd, handshake);
        read_auth_lines(fd, 100);
    });
    auto c = client(slow.path(), 3000, 2);
    auto a = ask(*c, "a@test.example");
    auto b = ask(*c, "b@test.example");
    auto third = ask(*c, "c@test.example");
    auto r = get(third);
    BOOST_TEST((r.outcome == Outcome::temporary));
    BOOST_TEST(r.reason.find("too many") != std::string::npos);
    c->close();  // answers the two in flight
    BOOST_TEST((get(a).outcome == Outcome::temporary));
    BOOST_TEST((get(b).outcome == Outcome::temporary));
}

BOOST_FIXTURE_TEST_CASE(passwords_never_reach_the_log, Fixture) {
    ScriptedPeer garbage([](int fd) {
        write_all(fd, handshake);
        read_auth_lines(fd, 1);
        write_all(fd, "OK\tnot-a-number\n");
    });
    auto c = client(garbage.path());
    auto f = ask(*c, "bob@test.example", "Sup3r-secret");
    BOOST_TEST((get(f).outcome == Outcome::temporary));
    std::lock_guard lock(log_mutex);
    BOOST_TEST(!logged.empty());
    for (const auto& line : logged) {
        BOOST_TEST(line.find("Sup3r-secret") == std::string::npos);
        BOOST_TEST(line.find("U3VwM3Itc2VjcmV0") == std::string::npos);  // base64 of it
    }
}

BOOST_AUTO_TEST_SUITE_END()
