// Tests for delivery/local_delivery.hpp: spool -> Maildir, states persisted, the message removed
// when nothing is pending, remote recipients left queued, failures deferred, the worker thread.
#include "delivery/local_delivery.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "os/group_commit.hpp"
#include "queue/memory_storage.hpp"
#include "queue/spool_fixtures.hpp"

using namespace pigeon;
using delivery::LocalTarget;
using queue::RecipientState;
namespace fs = std::filesystem;

namespace {

std::size_t count_files(const fs::path& dir) {
    std::size_t n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); ++it) ++n;
    return n;
}

// local.example is ours: bob and carol have mailboxes, anyone else there is unknown.
struct World {
    test::TempDir dir;
    queue::MemoryStorage storage;
    core::FixedClock clock{1'790'000'000};
    test::SeededRandom random{5};
    queue::Spool spool{storage, clock, random};
    test::SeededRandom maildir_random{6};
    delivery::MaildirWriter writer{clock, maildir_random, "mx.local.example", 77};
    delivery::LocalDelivery local{spool, [this](const core::Path& p) { return resolve(p); }, writer};

    World() { BOOST_REQUIRE(spool.recover().ok()); }

    LocalTarget resolve(const core::Path& p) const {
        if (p.kind != core::Path::Kind::mailbox || p.mailbox.domain().lowercase() != "local.example") {
            return LocalTarget::remote();
        }
        const std::string& user = p.mailbox.local_part();
        if (user != "bob" && user != "carol") return LocalTarget::unknown("5.1.1 no such user here");
        return LocalTarget::mailbox(box(user));
    }
    fs::path box(const std::string& user) const {
        return delivery::maildir_path(dir.path(), "local.example", user).value();
    }
    std::string commit(std::vector<std::string> to, std::string folder = {}) {
        auto id = spool.commit({test::make_envelope("alice@remote.example", to), test::make_message("hi"), folder});
        BOOST_REQUIRE(id.ok());
        return *id;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(local_delivery)

BOOST_AUTO_TEST_CASE(all_local_recipients_delivered_then_removed) {
    World w;
    const auto id = w.commit({"bob@local.example", "carol@local.example", "bob@LOCAL.example"});
    const auto report = w.local.deliver(id);
    BOOST_REQUIRE_MESSAGE(report.ok(), test::why(report));
    BOOST_TEST(report->delivered == 3u);
    BOOST_TEST(report->removed);
    BOOST_TEST(count_files(w.box("bob") / "new") == 1u);  // one copy per mailbox
    BOOST_TEST(count_files(w.box("carol") / "new") == 1u);
    BOOST_TEST(w.spool.size() == 0u);
    BOOST_TEST(w.storage.files().empty());
    const fs::path file = fs::directory_iterator(w.box("carol") / "new")->path();
    std::ifstream in(file);
    std::string first_line;
    std::getline(in, first_line);
    BOOST_TEST(first_line == "Return-Path: <alice@remote.example>");
}

// The crash window of local delivery: the copy is in the Maildir, but the spool never learnt
// it (killed between the rename and the removal). Delivering again must not add a copy.
std::filesystem::path deliver_behind_the_spools_back(World& w, const std::string& id) {
    auto record = w.spool.show(id);
    BOOST_REQUIRE(record.ok());
    const auto& e = record->entry;
    const auto content =
        delivery::maildir_content(e.envelope.reverse_path, e.envelope.recipients[0], record->message);
    const auto name =
        delivery::maildir_delivery_name(e.arrival_unix_seconds, id, 0, "localhost", content.size());
    auto path = w.writer.deliver_once(w.box("bob"), "", content, name, false);
    BOOST_REQUIRE(path.ok());
    return *path;
}

BOOST_AUTO_TEST_CASE(a_delivery_repeated_after_a_crash_makes_no_second_copy) {
    World w;
    const auto id = w.commit({"bob@local.example"});
    deliver_behind_the_spools_back(w, id);
    const auto report = w.local.deliver(id);
    BOOST_REQUIRE_MESSAGE(report.ok(), test::why(report));
    BOOST_TEST(report->removed);
    BOOST_TEST(count_files(w.box("bob") / "new") == 1u);
    BOOST_TEST(count_files(w.box("bob") / "tmp") == 0u);
}

BOOST_AUTO_TEST_CASE(after_a_restart_a_copy_already_moved_to_cur_is_found) {
    World w;
    const auto id = w.commit({"bob@local.example"});
    const auto first = deliver_behind_the_spools_back(w, id);
    // A mail reader saw it: new/<name> -> cur/<name>:2,S (the Maildir convention).
    fs::rename(first, w.box("bob") / "cur" / (first.filename().string() + ":2,S"));
    const auto report = w.local.deliver(id, /*after_restart=*/true);
    BOOST_REQUIRE_MESSAGE(report.ok(), test::why(report));
    BOOST_TEST(report->removed);
    BOOST_TEST(count_files(w.box("bob") / "new") == 0u);
    BOOST_TEST(count_files(w.box("bob") / "cur") == 1u);
}

BOOST_AUTO_TEST_CASE(delivery_names_are_stable_and_distinct_per_recipient) {
    using delivery::maildir_delivery_name;
    BOOST_TEST(maildir_delivery_name(1790000000, "01ABC", 2, "mx.example", 420) ==
               "1790000000.Q01ABCR2.mx.example,S=420");
    BOOST_TEST(maildir_delivery_name(1790000000, "01ABC", 2, "mx.example", 420) !=
               maildir_delivery_name(1790000000, "01ABC", 3, "mx.example", 420));
}

BOOST_AUTO_TEST_CASE(remote_recipients_stay_queued_and_states_are_durable) {
    World w;
    const auto id = w.commit({"bob@local.example", "dave@remote.example", "nobody@local.example"}, "Junk");
    const auto report = w.local.deliver(id);
    BOOST_REQUIRE(report.ok());
    BOOST_TEST(report->delivered == 1u);
    BOOST_TEST(report->failed == 1u);
    BOOST_TEST(report->remote == 1u);
    BOOST_TEST(!report->removed);
    BOOST_TEST(count_files(w.box("bob") / ".Junk" / "new") == 1u);

    // The states survive a crash: nothing is delivered twice after recovery.
    w.storage.crash();
    queue::Spool again(w.storage, w.clock, w.random);
    BOOST_REQUIRE(again.recover().ok());
    const auto rec = again.show(id);
    BOOST_REQUIRE(rec.ok());
    BOOST_TEST(rec->entry.status[0].state == RecipientState::delivered);
    BOOST_TEST(rec->entry.status[1].state == RecipientState::pending);
    BOOST_TEST(rec->entry.status[2].state == RecipientState::failed);
    BOOST_TEST(rec->entry.status[2].diagnostic == "5.1.1 no such user here");
    delivery::LocalDelivery local2(again, [&w](const core::Path& p) { return w.resolve(p); }, w.writer);
    BOOST_TEST(local2.deliver_pending() == 0u);  // only a remote recipient is pending
    BOOST_TEST(count_files(w.box("bob") / ".Junk" / "new") == 1u);
}

BOOST_AUTO_TEST_CASE(a_mailbox_write_error_defers_and_a_later_attempt_delivers) {
    World w;
    const auto id = w.commit({"bob@local.example", "carol@local.example"});
    // carol's mailbox path is blocked by a file: her delivery fails, bob's succeeds.
    fs::create_directories(w.box("carol").parent_path());
    std::ofstream(w.box("carol").string()) << "in the way";
    const auto first = w.local.deliver(id);
    BOOST_REQUIRE(first.ok());
    BOOST_TEST(first->delivered == 1u);
    BOOST_TEST(first->deferred == 1u);
    BOOST_TEST(!first->removed);
    BOOST_TEST(first->notes.size() == 1u);
    BOOST_TEST(w.spool.show(id)->entry.status[1].state == RecipientState::pending);

    fs::remove(w.box("carol"));
    BOOST_TEST(w.local.deliver_pending() == 1u);
    BOOST_TEST(w.spool.size() == 0u);
    BOOST_TEST(count_files(w.box("bob") / "new") == 1u);  // not delivered twice
    BOOST_TEST(count_files(w.box("carol") / "new") == 1u);
}

BOOST_AUTO_TEST_CASE(a_spool_failure_keeps_the_message) {
    World w;
    const auto id = w.commit({"bob@local.example", "dave@remote.example"});
    w.storage.fail_syncs("Input/output error");
    const auto report = w.local.deliver(id);
    BOOST_REQUIRE(!report.ok());
    BOOST_TEST(report.error().find("Input/output error") != std::string::npos);
    BOOST_TEST(w.spool.show(id)->entry.status[0].state == RecipientState::pending);
}

BOOST_AUTO_TEST_CASE(worker_delivers_what_group_commit_accepts) {
    World w;
    const auto early = w.commit({"bob@local.example"});  // pending before the worker starts
    delivery::LocalDeliveryWorker::Options options;
    options.rescan_interval = std::chrono::milliseconds(50);
    delivery::LocalDeliveryWorker worker(w.local, options);
    os::GroupCommitter::Options gc;
    gc.on_committed = [&](const std::string& id) { worker.notify(id); };
    os::GroupCommitter committer(w.spool, gc);
    std::atomic<int> answered{0};
    for (int i = 0; i < 10; ++i) {
        committer.submit(test::make_envelope("a@remote.example", {"carol@local.example"}), test::make_message("m"), "",
                         [&](os::GroupCommitter::Outcome o) { answered += o.ok() ? 1 : 100; });
    }
    committer.stop();
    BOOST_TEST(answered.load() == 10);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (w.spool.size() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    worker.stop();
    BOOST_TEST(w.spool.size() == 0u);
    BOOST_TEST(count_files(w.box("carol") / "new") == 10u);
    BOOST_TEST(count_files(w.box("bob") / "new") == 1u);
    BOOST_TEST(!w.spool.show(early).ok());
}

BOOST_AUTO_TEST_SUITE_END()
