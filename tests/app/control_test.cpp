// The control channel between `pigeon queue flush|retry` and a running server
// (app/control.hpp): request files round trip, oldest first; malformed files are removed and
// reported; the pid file; a dead or reused pid is not signalled; a live one is.
#include "app/control.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using pigeon::app::ControlRequest;

namespace {

struct StateDir {
    fs::path path;
    StateDir() {
        char dir[] = "/tmp/pigeon-control-XXXXXX";
        BOOST_REQUIRE(::mkdtemp(dir) != nullptr);
        path = dir;
    }
    ~StateDir() { fs::remove_all(path); }
    std::string str() const { return path.string(); }
};

volatile std::sig_atomic_t usr1_seen = 0;
void on_usr1(int) { usr1_seen = 1; }

// A pid that surely names no process: a child that has exited and been reaped.
long dead_pid() {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    int status = 0;
    ::waitpid(child, &status, 0);
    return child;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(control)

BOOST_AUTO_TEST_CASE(requests_round_trip_through_files_oldest_first) {
    StateDir state;
    const ControlRequest flush{ControlRequest::Kind::flush, {}};
    const ControlRequest retry{ControlRequest::Kind::retry, "0123456789ABCDEF"};
    // No pid file: written, but nobody signalled.
    auto a = pigeon::app::send_control_request(state.str(), retry);
    BOOST_REQUIRE(a.ok());
    BOOST_TEST(!*a);
    BOOST_REQUIRE(pigeon::app::send_control_request(state.str(), flush).ok());
    BOOST_TEST(((fs::status(state.path / "control").permissions() & fs::perms::all) == fs::perms::owner_all));

    std::vector<std::string> problems;
    const auto taken = pigeon::app::take_control_requests(state.str(), &problems);
    BOOST_TEST(problems.empty());
    BOOST_REQUIRE(taken.size() == 2u);
    BOOST_TEST((taken[0].kind == retry.kind && taken[0].id == retry.id));
    BOOST_TEST((taken[1].kind == flush.kind && taken[1].id.empty()));
    BOOST_TEST(!taken[0].name.empty());  // what an answer is filed under
    BOOST_TEST(taken[0].name < taken[1].name);
    // Taken means deleted.
    BOOST_TEST(pigeon::app::take_control_requests(state.str(), &problems).empty());
    BOOST_TEST(fs::is_empty(state.path / "control"));
}

BOOST_AUTO_TEST_CASE(no_control_directory_means_no_requests) {
    StateDir state;
    std::vector<std::string> problems;
    BOOST_TEST(pigeon::app::take_control_requests(state.str(), &problems).empty());
    BOOST_TEST(problems.empty());
}

BOOST_AUTO_TEST_CASE(malformed_request_files_are_removed_and_reported) {
    StateDir state;
    fs::create_directories(state.path / "control");
    auto put = [&](const std::string& name, const std::string& text) {
        std::ofstream(state.path / "control" / name, std::ios::binary) << text;
    };
    put("1-a.req", "retry 0123456789ABCDEF\n");
    put("2-b.req", "retry not-an-id\n");
    put("3-c.req", "reboot\n");
    put("4-d.req", "flush");                 // no newline
    put("5-e.req", "flush\nflush\n");        // two lines
    put("6-f.req", std::string(100, 'x'));   // too long
    put("7-g.req", "flush\n");
    put("8-h.tmp", "flush\n");               // a CLI still writing: left alone
    std::vector<std::string> problems;
    const auto taken = pigeon::app::take_control_requests(state.str(), &problems);
    BOOST_REQUIRE(taken.size() == 2u);
    BOOST_TEST(taken[0].id == "0123456789ABCDEF");
    BOOST_TEST((taken[1].kind == ControlRequest::Kind::flush));
    BOOST_REQUIRE(problems.size() == 5u);
    BOOST_TEST(problems[0].find("2-b.req") != std::string::npos);
    BOOST_TEST(problems[0].find("not a queue id") != std::string::npos);
    BOOST_TEST(problems[1].find("unknown request") != std::string::npos);
    BOOST_TEST(problems[4].find("longer than 64") != std::string::npos);
    BOOST_TEST(fs::exists(state.path / "control" / "8-h.tmp"));
    BOOST_TEST(std::distance(fs::directory_iterator(state.path / "control"), fs::directory_iterator()) == 1);
    // Without a problems vector it still removes them.
    put("9-i.req", "bad\n");
    BOOST_TEST(pigeon::app::take_control_requests(state.str(), nullptr).empty());
    BOOST_TEST(!fs::exists(state.path / "control" / "9-i.req"));
}

BOOST_AUTO_TEST_CASE(parse_is_strict) {
    BOOST_TEST(pigeon::app::parse_control_request("flush\n").ok());
    BOOST_TEST(!pigeon::app::parse_control_request("").ok());
    BOOST_TEST(!pigeon::app::parse_control_request("flush \n").ok());
    BOOST_TEST(!pigeon::app::parse_control_request("retry \n").ok());
    BOOST_TEST(!pigeon::app::parse_control_request("retry 0123456789abcdef\n").ok());
    BOOST_TEST(!pigeon::app::parse_control_request("delete\n").ok());
    BOOST_TEST(!pigeon::app::parse_control_request("hold  0123456789ABCDEF\n").ok());
    BOOST_TEST(!pigeon::app::parse_control_request("release 0123456789ABCDEF \n").ok());
    BOOST_TEST(!pigeon::app::parse_control_request("flush 0123456789ABCDEF\n").ok());
    BOOST_TEST(!pigeon::app::parse_control_request("DELETE 0123456789ABCDEF\n").ok());
    BOOST_TEST(!pigeon::app::parse_control_request("reload 0123456789ABCDEF\n").ok());
    BOOST_TEST(!pigeon::app::parse_control_request("reload \n").ok());
    BOOST_TEST(pigeon::app::parse_control_request("reload\n").ok());
    BOOST_TEST(pigeon::app::wants_answer(ControlRequest::Kind::reload));
    using K = ControlRequest::Kind;
    for (const ControlRequest& r : {ControlRequest{K::flush, {}}, ControlRequest{K::retry, "0123456789ABCDEF"},
                                    ControlRequest{K::remove, "0123456789ABCDEF"},
                                    ControlRequest{K::hold, "0123456789ABCDEF"},
                                    ControlRequest{K::release, "0123456789ABCDEF"}, ControlRequest{K::reload, {}}}) {
        const auto back = pigeon::app::parse_control_request(pigeon::app::format_control_request(r));
        BOOST_REQUIRE(back.ok());
        BOOST_TEST((back.value() == r));
    }
}

BOOST_AUTO_TEST_CASE(request_texts_are_the_documented_lines) {
    using K = ControlRequest::Kind;
    BOOST_TEST(pigeon::app::format_control_request({K::remove, "0123456789ABCDEF"}) == "delete 0123456789ABCDEF\n");
    BOOST_TEST(pigeon::app::format_control_request({K::hold, "0123456789ABCDEF"}) == "hold 0123456789ABCDEF\n");
    BOOST_TEST(pigeon::app::format_control_request({K::release, "0123456789ABCDEF"}) == "release 0123456789ABCDEF\n");
    BOOST_TEST(pigeon::app::wants_answer(K::remove));
    BOOST_TEST(!pigeon::app::wants_answer(K::flush));
    BOOST_TEST(!pigeon::app::wants_answer(K::retry));
}

// `queue hold --all` / `release --all`: verbs without an id, answered like the one-message ones.
BOOST_AUTO_TEST_CASE(hold_all_and_release_all_are_lines_without_an_id) {
    using K = ControlRequest::Kind;
    BOOST_TEST(pigeon::app::format_control_request({K::hold_all}) == "hold-all\n");
    BOOST_TEST(pigeon::app::format_control_request({K::release_all}) == "release-all\n");
    for (const K kind : {K::hold_all, K::release_all}) {
        const auto back = pigeon::app::parse_control_request(pigeon::app::format_control_request({kind}));
        BOOST_REQUIRE(back.ok());
        BOOST_TEST((back.value() == ControlRequest{kind}));
        BOOST_TEST(pigeon::app::wants_answer(kind));
        BOOST_TEST(!pigeon::app::takes_id(kind));
    }
    for (const char* bad : {"hold-all 0123456789ABCDEF\n", "hold-all \n", "hold-all", "release-all\r\n",
                            "HOLD-ALL\n", "hold all\n", "release-all\nrelease-all\n"})
        BOOST_TEST(!pigeon::app::parse_control_request(bad).ok(), bad);
}

BOOST_AUTO_TEST_CASE(answers_round_trip_and_their_parser_is_strict) {
    using O = pigeon::app::ControlAnswer::Outcome;
    const auto ok = pigeon::app::parse_control_answer(pigeon::app::format_control_answer(true, "done"));
    BOOST_REQUIRE(ok.ok());
    BOOST_TEST((ok->outcome == O::done));
    BOOST_TEST(ok->text == "done");
    // An error text with line breaks (from the spool) still makes one line.
    const auto refused = pigeon::app::parse_control_answer(
        pigeon::app::format_control_answer(false, "no message X\r\nin the queue"));
    BOOST_REQUIRE(refused.ok());
    BOOST_TEST((refused->outcome == O::refused));
    BOOST_TEST(refused->text == "no message X  in the queue");
    const std::string long_text(1000, 'x');
    const auto cut = pigeon::app::parse_control_answer(pigeon::app::format_control_answer(false, long_text));
    BOOST_REQUIRE(cut.ok());
    BOOST_TEST(cut->text.size() == pigeon::app::max_answer_text_octets);
    for (const std::string& bad : std::vector<std::string>{"", "ok done", "ok done\nok\n", "fine\n", "OK done\n", "error\n",
                                  "ok a\rb\n", "ok " + long_text + "\n"})
        BOOST_TEST(!pigeon::app::parse_control_answer(bad).ok(), bad);
}

BOOST_AUTO_TEST_CASE(no_server_no_answer_and_the_request_is_withdrawn) {
    StateDir state;
    const auto got = pigeon::app::ask_server(state.str(), {ControlRequest::Kind::remove, "0123456789ABCDEF"},
                                             std::chrono::milliseconds(50));
    BOOST_REQUIRE(got.ok());
    BOOST_TEST((got->outcome == pigeon::app::ControlAnswer::Outcome::no_answer));
    // Nothing is left for a later start to act on.
    BOOST_TEST(pigeon::app::take_control_requests(state.str(), nullptr).empty());
    BOOST_TEST(fs::is_empty(state.path / "control"));
}

BOOST_AUTO_TEST_CASE(a_signalled_server_that_never_reads_changes_nothing) {
    StateDir state;
    BOOST_REQUIRE(pigeon::app::write_pid_file(state.str()).ok());  // we, the "server", ignore it
    auto previous = std::signal(SIGUSR1, on_usr1);
    const auto got = pigeon::app::ask_server(state.str(), {ControlRequest::Kind::hold, "0123456789ABCDEF"},
                                             std::chrono::milliseconds(100));
    std::signal(SIGUSR1, previous);
    BOOST_REQUIRE(got.ok());
    BOOST_TEST((got->outcome == pigeon::app::ControlAnswer::Outcome::no_answer));
    BOOST_TEST(pigeon::app::take_control_requests(state.str(), nullptr).empty());
}

BOOST_AUTO_TEST_CASE(the_server_answers_and_the_answer_is_consumed) {
    StateDir state;
    BOOST_REQUIRE(pigeon::app::write_pid_file(state.str()).ok());
    auto previous = std::signal(SIGUSR1, on_usr1);
    // The "server": takes requests as they come and answers each.
    std::atomic<bool> stop{false};
    std::atomic<int> answered{0};  // Boost.Test's checks are for the main thread only
    std::thread server([&] {
        while (!stop) {
            for (const auto& r : pigeon::app::take_control_requests(state.str(), nullptr)) {
                const bool release = r.kind == ControlRequest::Kind::release;
                if (pigeon::app::answer_control_request(state.str(), r, !release,
                                                        release ? "no message " + r.id : "done"))
                    ++answered;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    });
    const auto done = pigeon::app::ask_server(state.str(), {ControlRequest::Kind::remove, "0123456789ABCDEF"},
                                              std::chrono::seconds(10));
    const auto refused = pigeon::app::ask_server(state.str(), {ControlRequest::Kind::release, "0123456789ABCDEF"},
                                                 std::chrono::seconds(10));
    stop = true;
    server.join();
    std::signal(SIGUSR1, previous);
    BOOST_REQUIRE(done.ok());
    BOOST_TEST((done->outcome == pigeon::app::ControlAnswer::Outcome::done));
    BOOST_REQUIRE(refused.ok());
    BOOST_TEST((refused->outcome == pigeon::app::ControlAnswer::Outcome::refused));
    BOOST_TEST(refused->text == "no message 0123456789ABCDEF");
    BOOST_TEST(answered == 2);
    BOOST_TEST(fs::is_empty(state.path / "control"));  // answers read are removed
}

BOOST_AUTO_TEST_CASE(a_request_taken_but_never_answered_is_unknown) {
    StateDir state;
    BOOST_REQUIRE(pigeon::app::write_pid_file(state.str()).ok());
    auto previous = std::signal(SIGUSR1, on_usr1);
    std::atomic<bool> taken{false};
    std::thread server([&] {  // takes it, then "hangs" without answering
        for (int i = 0; i < 400 && !taken; ++i) {
            taken = !pigeon::app::take_control_requests(state.str(), nullptr).empty();
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    });
    const auto got = pigeon::app::ask_server(state.str(), {ControlRequest::Kind::hold, "0123456789ABCDEF"},
                                             std::chrono::milliseconds(500));
    server.join();
    std::signal(SIGUSR1, previous);
    BOOST_REQUIRE(taken);
    BOOST_REQUIRE(got.ok());
    BOOST_TEST((got->outcome == pigeon::app::ControlAnswer::Outcome::unknown));
}

BOOST_AUTO_TEST_CASE(stale_answers_are_removed) {
    StateDir state;
    fs::create_directories(state.path / "control");
    const auto old_answer = state.path / "control" / "1-a.ans";
    const auto new_answer = state.path / "control" / "2-b.ans";
    std::ofstream(old_answer) << "ok done\n";
    std::ofstream(new_answer) << "ok done\n";
    fs::last_write_time(old_answer, fs::file_time_type::clock::now() - std::chrono::hours(2));
    BOOST_TEST(pigeon::app::take_control_requests(state.str(), nullptr).empty());
    BOOST_TEST(!fs::exists(old_answer));
    BOOST_TEST(fs::exists(new_answer));  // its CLI may still be waiting
}

BOOST_AUTO_TEST_CASE(pid_file_holds_our_pid_and_start_time) {
    StateDir state;
    BOOST_REQUIRE(pigeon::app::write_pid_file(state.str()).ok());
    std::ifstream in(state.path / "pigeon.pid");
    long pid = 0;
    unsigned long long start = 0;
    in >> pid >> start;
    BOOST_TEST(pid == static_cast<long>(::getpid()));
    BOOST_TEST(start != 0u);
    BOOST_TEST(start == pigeon::app::process_start_time(pid));
    BOOST_TEST(!fs::exists(state.path / "pigeon.pid.tmp"));
    pigeon::app::remove_pid_file(state.str());
    BOOST_TEST(!fs::exists(state.path / "pigeon.pid"));
    pigeon::app::remove_pid_file(state.str());  // already gone: fine
}

BOOST_AUTO_TEST_CASE(a_dead_pid_is_not_signalled) {
    StateDir state;
    const long pid = dead_pid();
    std::ofstream(state.path / "pigeon.pid") << pid << "\n";
    const auto sent = pigeon::app::send_control_request(state.str(), {ControlRequest::Kind::flush, {}});
    BOOST_REQUIRE(sent.ok());
    BOOST_TEST(!*sent);
    BOOST_TEST(pigeon::app::process_start_time(pid) == 0u);
    // The request still waits for the next start.
    BOOST_TEST(pigeon::app::take_control_requests(state.str(), nullptr).size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_reused_pid_is_not_signalled) {
    StateDir state;
    // Our own pid, but with another start time: a different process that got the number.
    std::ofstream(state.path / "pigeon.pid") << ::getpid() << "\n"
                                             << pigeon::app::process_start_time(::getpid()) + 1 << "\n";
    usr1_seen = 0;
    auto previous = std::signal(SIGUSR1, on_usr1);
    const auto sent = pigeon::app::send_control_request(state.str(), {ControlRequest::Kind::flush, {}});
    std::signal(SIGUSR1, previous);
    BOOST_REQUIRE(sent.ok());
    BOOST_TEST(!*sent);
    BOOST_TEST(usr1_seen == 0);
}

BOOST_AUTO_TEST_CASE(a_live_server_is_signalled) {
    StateDir state;
    BOOST_REQUIRE(pigeon::app::write_pid_file(state.str()).ok());  // we play the server
    usr1_seen = 0;
    auto previous = std::signal(SIGUSR1, on_usr1);
    const auto sent = pigeon::app::send_control_request(state.str(),
                                                        {ControlRequest::Kind::retry, "0123456789ABCDEF"});
    std::signal(SIGUSR1, previous);
    BOOST_REQUIRE(sent.ok());
    BOOST_TEST(*sent);
    BOOST_TEST(usr1_seen == 1);  // kill() to ourselves is delivered before it returns
    const auto taken = pigeon::app::take_control_requests(state.str(), nullptr);
    BOOST_REQUIRE(taken.size() == 1u);
    BOOST_TEST(taken[0].id == "0123456789ABCDEF");
}

BOOST_AUTO_TEST_CASE(an_unwritable_state_dir_is_an_error) {
    if (::geteuid() == 0) {
        // root writes anywhere: use a path under a regular file instead.
        StateDir state;
        std::ofstream(state.path / "file") << "x";
        const auto sent = pigeon::app::send_control_request((state.path / "file").string(), {});
        BOOST_TEST(!sent.ok());
        return;
    }
    const auto sent = pigeon::app::send_control_request("/proc/pigeon-no-such-dir", {});
    BOOST_TEST(!sent.ok());
}

BOOST_AUTO_TEST_SUITE_END()
