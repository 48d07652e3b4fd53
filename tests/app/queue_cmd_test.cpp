// pigeon queue list|show|flush|retry (app/queue_cmd.cpp) on a real state directory: the
// per-recipient schedule in the listing, flush and retry applied directly when no server holds
// the lock, and sent through the control channel when one does.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "app/commands.hpp"
#include "app/control.hpp"
#include "os/posix_storage.hpp"
#include "os/random.hpp"
#include "os/system_clock.hpp"
#include "queue/spool.hpp"

namespace fs = std::filesystem;
using namespace pigeon;

namespace {

struct State {
    fs::path path;
    config::Config config = config::default_config("mx.test.example");
    State() {
        char dir[] = "/tmp/pigeon-queue-cmd-XXXXXX";
        BOOST_REQUIRE(::mkdtemp(dir) != nullptr);
        path = dir;
        config.state_dir = path.string();
    }
    ~State() { fs::remove_all(path); }

    // Queues a message to `to`, its first recipient deferred until `next`.
    std::string queue_message(const std::vector<std::string>& to, std::int64_t next) {
        auto storage = os::PosixStorage::open((path / "queue").string());
        BOOST_REQUIRE(storage.ok());
        os::SystemClock clock;
        os::SystemRandom random;
        queue::Spool spool(**storage, clock, random);
        BOOST_REQUIRE(spool.recover().ok());
        queue::Submission s;
        s.envelope.reverse_path = core::Path::of(core::Mailbox::parse("alice@example.org").value());
        for (const auto& r : to) s.envelope.recipients.push_back(core::Path::of(core::Mailbox::parse(r).value()));
        s.message = std::make_shared<const std::string>("Subject: t\r\n\r\nx\r\n");
        auto id = spool.commit(s);
        BOOST_REQUIRE(id.ok());
        queue::RecipientStatus deferred{queue::RecipientState::pending, "451 4.7.1 try later", 2, next, false};
        BOOST_REQUIRE(spool.mark(*id, {{0, deferred}}).ok());
        return *id;
    }

    std::vector<queue::RecipientStatus> states(const std::string& id) {
        auto storage = os::PosixStorage::open((path / "queue").string());
        os::SystemClock clock;
        os::SystemRandom random;
        queue::Spool spool(**storage, clock, random);
        BOOST_REQUIRE(spool.recover(queue::Spool::Recovery::read_only).ok());
        auto e = spool.entry(id);
        BOOST_REQUIRE(e.ok());
        return e->status;
    }
};

struct Out {
    int status;
    std::string out, err;
};

template <class F>
Out capture(F&& f) {
    std::ostringstream out, err;
    const int status = f(out, err);
    return {status, out.str(), err.str()};
}

// Holds <state>/pigeon.lock as a running server does.
struct FakeServerLock {
    int fd;
    explicit FakeServerLock(const fs::path& state) {
        fd = ::open((state / "pigeon.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        BOOST_REQUIRE(fd >= 0);
        BOOST_REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
    }
    ~FakeServerLock() { ::close(fd); }
};

volatile std::sig_atomic_t usr1 = 0;
void on_usr1(int) { usr1 = 1; }

const std::int64_t later = os::SystemClock().now_unix_seconds() + 3600;

}  // namespace

BOOST_AUTO_TEST_SUITE(queue_cmd)

BOOST_AUTO_TEST_CASE(list_and_show_print_attempts_and_next_attempt) {
    State s;
    const std::string id = s.queue_message({"bob@example.net", "carol@example.com"}, 1'900'000'000);
    auto r = capture([&](auto& o, auto& e) { return app::print_queue_list(s.config, o, e); });
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out.find(id) != std::string::npos);
    BOOST_TEST(r.out.find("<bob@example.net>  pending  attempts 2, next 2030-03-17 17:46:40Z  (451 4.7.1 try later)") !=
               std::string::npos, r.out);
    BOOST_TEST(r.out.find("<carol@example.com>  pending  attempts 0, next now") != std::string::npos, r.out);
    r = capture([&](auto& o, auto& e) { return app::print_queue_show(s.config, id, o, e); });
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out.find("attempts 2, next 2030-03-17 17:46:40Z") != std::string::npos, r.out);
    r = capture([&](auto& o, auto& e) { return app::print_queue_show(s.config, "0000000000000000", o, e); });
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err == "pigeon: no message 0000000000000000 in the queue\n");
}

BOOST_AUTO_TEST_CASE(flush_and_retry_without_a_server_change_the_spool_directly) {
    State s;
    const std::string a = s.queue_message({"bob@example.net"}, later);
    const std::string b = s.queue_message({"carol@example.com"}, later);
    auto r = capture([&](auto& o, auto& e) { return app::run_queue_retry(s.config, b, o, e); });
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out.find("no server is running: " + b + " is due now") != std::string::npos, r.out);
    BOOST_TEST(s.states(b)[0].next_attempt_unix <= os::SystemClock().now_unix_seconds());
    BOOST_TEST(s.states(b)[0].attempts == 2u);
    BOOST_TEST(s.states(a)[0].next_attempt_unix == later);

    r = capture([&](auto& o, auto& e) { return app::run_queue_flush(s.config, o, e); });
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out.find("no server is running: 2 message(s)") != std::string::npos, r.out);
    BOOST_TEST(s.states(a)[0].next_attempt_unix <= os::SystemClock().now_unix_seconds());
    BOOST_TEST(!fs::exists(s.path / "control"));  // nothing was sent

    r = capture([&](auto& o, auto& e) { return app::run_queue_retry(s.config, "0000000000000000", o, e); });
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err.find("no message 0000000000000000 in the queue") != std::string::npos, r.err);
    r = capture([&](auto& o, auto& e) { return app::run_queue_retry(s.config, "nonsense", o, e); });
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err.find("is not a queue id") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_empty_or_missing_queue_is_said_so) {
    State s;
    auto r = capture([&](auto& o, auto& e) { return app::run_queue_flush(s.config, o, e); });
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out == "queue is empty\n");
    config::Config missing = s.config;
    missing.state_dir = (s.path / "nowhere").string();
    r = capture([&](auto& o, auto& e) { return app::run_queue_flush(missing, o, e); });
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out.find("queue is empty (no state directory") == 0u, r.out);
    config::Config file = s.config;
    std::ofstream(s.path / "a-file") << "x";
    file.state_dir = (s.path / "a-file").string();
    r = capture([&](auto& o, auto& e) { return app::run_queue_flush(file, o, e); });
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err.find("cannot read the state directory") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(with_a_server_running_the_request_goes_through_the_control_channel) {
    State s;
    const std::string a = s.queue_message({"bob@example.net"}, later);
    FakeServerLock lock(s.path);
    BOOST_REQUIRE(app::write_pid_file(s.config.state_dir).ok());
    usr1 = 0;
    auto previous = std::signal(SIGUSR1, on_usr1);
    auto r = capture([&](auto& o, auto& e) { return app::run_queue_retry(s.config, a, o, e); });
    std::signal(SIGUSR1, previous);
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out == "asked the running server to retry " + a + " now\n");
    BOOST_TEST(usr1 == 1);
    BOOST_TEST(s.states(a)[0].next_attempt_unix == later);  // the server's job, not ours
    const auto taken = app::take_control_requests(s.config.state_dir, nullptr);
    BOOST_REQUIRE(taken.size() == 1u);
    BOOST_TEST(taken[0].id == a);

    // Unknown ids are refused before anything is sent.
    r = capture([&](auto& o, auto& e) { return app::run_queue_retry(s.config, "0000000000000000", o, e); });
    BOOST_TEST(r.status == 1);
    BOOST_TEST(app::take_control_requests(s.config.state_dir, nullptr).empty());

    // A locked state dir without a live pid: the request waits for the next start.
    app::remove_pid_file(s.config.state_dir);
    r = capture([&](auto& o, auto& e) { return app::run_queue_flush(s.config, o, e); });
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out.find("waits in") != std::string::npos, r.out);
    BOOST_TEST(app::take_control_requests(s.config.state_dir, nullptr).size() == 1u);
}

// Issue 13: delete/hold/release. Without a server they change the spool under the lock; a
// held message is shown as such; with a server holding the lock that does not answer they
// fail and change nothing (never a second writer on the server's spool).
BOOST_AUTO_TEST_CASE(delete_hold_release_without_a_server_change_the_spool_directly) {
    using K = app::ControlRequest::Kind;
    State s;
    const std::string a = s.queue_message({"bob@example.net"}, later);
    const std::string b = s.queue_message({"carol@example.com"}, later);
    auto r = capture([&](auto& o, auto& e) { return app::run_queue_change(s.config, K::hold, a, o, e); });
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out == "held " + a + "\n");
    r = capture([&](auto& o, auto& e) { return app::print_queue_list(s.config, o, e); });
    BOOST_TEST(r.out.find(a + "  ") != std::string::npos);
    BOOST_TEST(r.out.find("from <alice@example.org>  HELD\n") != std::string::npos, r.out);
    BOOST_TEST(r.out.find(b) != std::string::npos);
    r = capture([&](auto& o, auto& e) { return app::print_queue_show(s.config, a, o, e); });
    BOOST_TEST(r.out.find("held:      yes, not delivered until `pigeon queue release " + a + "`") !=
               std::string::npos, r.out);
    r = capture([&](auto& o, auto& e) { return app::print_queue_show(s.config, b, o, e); });
    BOOST_TEST(r.out.find("held:") == std::string::npos, r.out);
    BOOST_TEST(s.states(a)[0].attempts == 2u);  // the states stay as they were

    r = capture([&](auto& o, auto& e) { return app::run_queue_change(s.config, K::release, a, o, e); });
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out == "released " + a + "\n");
    r = capture([&](auto& o, auto& e) { return app::print_queue_list(s.config, o, e); });
    BOOST_TEST(r.out.find("HELD") == std::string::npos, r.out);

    r = capture([&](auto& o, auto& e) { return app::run_queue_change(s.config, K::remove, a, o, e); });
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out == "deleted " + a + "\n");
    r = capture([&](auto& o, auto& e) { return app::print_queue_show(s.config, a, o, e); });
    BOOST_TEST(r.status == 1);
    r = capture([&](auto& o, auto& e) { return app::run_queue_change(s.config, K::remove, a, o, e); });
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err == "pigeon: no message " + a + " in the queue\n");
    r = capture([&](auto& o, auto& e) { return app::run_queue_change(s.config, K::hold, "nonsense", o, e); });
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err.find("is not a queue id") != std::string::npos);
    BOOST_TEST(!fs::exists(s.path / "control"));  // nothing was sent
}

// hold --all / release --all without a server: every message, under the lock; the text says how
// many changed; a missing state directory is an empty queue. With a server they are requests.
BOOST_AUTO_TEST_CASE(hold_all_and_release_all_change_every_message) {
    using K = app::ControlRequest::Kind;
    State s;
    auto r = capture([&](auto& o, auto& e) { return app::run_queue_change(s.config, K::hold_all, "", o, e); });
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out == "queue is empty\n");
    const std::string a = s.queue_message({"bob@example.net"}, later);
    const std::string b = s.queue_message({"carol@example.com"}, later);
    const std::string c = s.queue_message({"dave@example.com"}, later);
    BOOST_REQUIRE(app::run_queue_change(s.config, K::hold, b, std::cout, std::cerr) == 0);
    r = capture([&](auto& o, auto& e) { return app::run_queue_change(s.config, K::hold_all, "", o, e); });
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out == "held 2 of 3 queued message(s)\n");
    r = capture([&](auto& o, auto& e) { return app::print_queue_json(s.config, o, e); });
    BOOST_TEST(r.out.find("\"held\": false") == std::string::npos, r.out);
    r = capture([&](auto& o, auto& e) { return app::run_queue_change(s.config, K::release_all, "", o, e); });
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out == "released 3 of 3 queued message(s)\n");
    r = capture([&](auto& o, auto& e) { return app::print_queue_json(s.config, o, e); });
    BOOST_TEST(r.out.find("\"held\": true") == std::string::npos, r.out);
    BOOST_TEST(s.states(c)[0].attempts == 2u);  // the states stay as they were
    BOOST_TEST(!fs::exists(s.path / "control"));  // nothing was sent

    // A server holds the lock and never answers: nothing changes, the request is withdrawn.
    FakeServerLock lock(s.path);
    r = capture([&](auto& o, auto& e) {
        return app::run_queue_change(s.config, K::hold_all, "", o, e, std::chrono::milliseconds(100));
    });
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err.find("did not answer within 1 s; nothing was changed") != std::string::npos, r.err);
    BOOST_TEST(app::take_control_requests(s.config.state_dir, nullptr).empty());
    r = capture([&](auto& o, auto& e) { return app::print_queue_json(s.config, o, e); });
    BOOST_TEST(r.out.find("\"held\": true") == std::string::npos, r.out);

    State none;
    none.config.state_dir = (none.path / "missing").string();
    r = capture([&](auto& o, auto& e) { return app::run_queue_change(none.config, K::release_all, "", o, e); });
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out.find("queue is empty (no state directory") == 0u, r.out);
}

// Held messages are not flushed, and a queue of only held messages is not "empty"; retry of
// a held message reschedules it (it is tried once released).
BOOST_AUTO_TEST_CASE(flush_skips_held_messages_and_says_so) {
    using K = app::ControlRequest::Kind;
    State s;
    const std::string a = s.queue_message({"bob@example.net"}, later);
    BOOST_REQUIRE(app::run_queue_change(s.config, K::hold, a, std::cout, std::cerr) == 0);
    auto r = capture([&](auto& o, auto& e) { return app::run_queue_flush(s.config, o, e); });
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out == "nothing to retry: the 1 queued message(s) are held (`pigeon queue release ID`)\n");
    BOOST_TEST(s.states(a)[0].next_attempt_unix == later);
    r = capture([&](auto& o, auto& e) { return app::run_queue_retry(s.config, a, o, e); });
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(s.states(a)[0].next_attempt_unix <= os::SystemClock().now_unix_seconds());
}

BOOST_AUTO_TEST_CASE(a_server_that_does_not_answer_gets_a_clear_refusal_and_nothing_changes) {
    using K = app::ControlRequest::Kind;
    State s;
    const std::string a = s.queue_message({"bob@example.net"}, later);
    FakeServerLock lock(s.path);
    const auto files_before = [&] {
        std::map<std::string, std::uintmax_t> out;
        for (const auto& f : fs::directory_iterator(s.path / "queue")) out[f.path().filename()] = f.file_size();
        return out;
    }();
    for (const K kind : {K::remove, K::hold, K::release}) {
        // No pid file: nobody to signal. With a pid file naming us, who never reads: the same.
        for (const bool with_pid : {false, true}) {
            if (with_pid) BOOST_REQUIRE(app::write_pid_file(s.config.state_dir).ok());
            auto previous = std::signal(SIGUSR1, on_usr1);
            auto r = capture([&](auto& o, auto& e) {
                return app::run_queue_change(s.config, kind, a, o, e, std::chrono::milliseconds(100));
            });
            std::signal(SIGUSR1, previous);
            app::remove_pid_file(s.config.state_dir);
            BOOST_TEST(r.status == 1);
            BOOST_TEST(r.out.empty());
            BOOST_TEST(r.err.find("did not answer within 1 s; nothing was changed") != std::string::npos, r.err);
        }
    }
    BOOST_TEST(app::take_control_requests(s.config.state_dir, nullptr).empty());  // all withdrawn
    std::map<std::string, std::uintmax_t> files_after;
    for (const auto& f : fs::directory_iterator(s.path / "queue")) files_after[f.path().filename()] = f.file_size();
    BOOST_TEST((files_after == files_before));  // not one octet written to the server's spool
    BOOST_TEST(s.states(a)[0].attempts == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(queue_formats)

namespace {
queue::MessageSummary summary(const char* id, std::uint64_t size, bool held) {
    queue::MessageSummary m;
    m.id = id;
    m.arrival_unix_seconds = 1796558400;  // 2026-12-06 12:00:00 UTC, a Sunday
    m.sender = core::Path::of(core::Mailbox::parse("alice@test.example").value());
    m.size_octets = size;
    m.held = held;
    queue::RecipientSummary pending{core::Path::of(core::Mailbox::parse("bob@remote.example").value()), {}};
    pending.status.attempts = 2;
    pending.status.next_attempt_unix = 1796562000;
    pending.status.diagnostic = "451 4.7.1 \"greylisted\"\ttry later";
    queue::RecipientSummary done{core::Path::of(core::Mailbox::parse("carol@test.example").value()), {}};
    done.status.state = queue::RecipientState::delivered;
    m.recipients = {pending, done};
    return m;
}
}  // namespace

BOOST_AUTO_TEST_CASE(mailq_has_postfix_layout_and_trailer) {
    BOOST_TEST(app::format_mailq({}) == "Mail queue is empty\n");
    const std::string out = app::format_mailq({summary("01NHDNRD0000GBVF", 1500, false), summary("01NHDNRD0000GBVG", 700, true)});
    BOOST_TEST(out.rfind("-Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------\n", 0) == 0u);
    BOOST_TEST(out.find("01NHDNRD0000GBVF      1500 Sun Dec  6 12:00:00  alice@test.example\n") != std::string::npos);
    BOOST_TEST(out.find("01NHDNRD0000GBVG!      700 ") != std::string::npos);  // held
    BOOST_TEST(out.find("(451 4.7.1 \"greylisted\"\ttry later)\n" + std::string(50, ' ') + "bob@remote.example\n") !=
               std::string::npos);
    BOOST_TEST(out.find("carol@test.example") == std::string::npos);  // delivered: not listed
    BOOST_TEST(out.substr(out.size() - 28) == "\n-- 3 Kbytes in 2 Requests.\n");
    BOOST_TEST(app::format_mailq({summary("01NHDNRD0000GBVF", 1, false)}).find("-- 1 Kbytes in 1 Request.\n") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(queue_json_has_every_field_escaped) {
    BOOST_TEST(app::format_queue_json({}) == "[]\n");
    const std::string out = app::format_queue_json({summary("01NHDNRD0000GBVF", 1500, true)});
    BOOST_TEST(out ==
               "[\n {\"id\": \"01NHDNRD0000GBVF\", \"sender\": \"<alice@test.example>\", \"size\": 1500, "
               "\"arrival\": 1796558400, \"held\": true, \"recipients\": ["
               "{\"address\": \"<bob@remote.example>\", \"state\": \"pending\", \"attempts\": 2, "
               "\"next_attempt\": 1796562000, \"last_reply\": \"451 4.7.1 \\\"greylisted\\\"\\u0009try later\"}, "
               "{\"address\": \"<carol@test.example>\", \"state\": \"delivered\", \"attempts\": 0, "
               "\"next_attempt\": null, \"last_reply\": null}]}\n]\n");
}

BOOST_AUTO_TEST_SUITE_END()
