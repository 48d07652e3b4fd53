// Tests for queue/spool.hpp over MemoryStorage: commit, list/show/remove, recipient states,
// recovery after a crash at every point of a commit sequence, and disk errors.
#include "queue/spool.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "queue/memory_storage.hpp"
#include "queue/spool_checks.hpp"
#include "queue/spool_fixtures.hpp"

using namespace pigeon;
using test::by_subject;
using queue::MemoryStorage;
using queue::RecipientState;
using queue::RecipientStatus;
using queue::Spool;
using queue::Submission;

#ifndef SPOOL_TEST_SEGMENTS
// This file runs for the layout of one file per message; spool_segments_test.cpp includes it
// again with SPOOL_TEST_SEGMENTS defined, for segments (where an idle spool keeps no file).
#define SPOOL_TEST_SEGMENTS 0
#endif

namespace {

queue::SpoolOptions layout() { return test::spool_layout(SPOOL_TEST_SEGMENTS); }

constexpr std::int64_t t0 = test::spool_t0;
using test::spool_submission;

struct Harness : test::SpoolHarness {
    Harness() : SpoolHarness(layout()) {}
};


}  // namespace

#if SPOOL_TEST_SEGMENTS
BOOST_AUTO_TEST_SUITE(spool_in_segments)
#else
BOOST_AUTO_TEST_SUITE(spool)
#endif

BOOST_AUTO_TEST_CASE(commit_list_show_remove) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    auto id = h.spool.commit(spool_submission("one", {"bob@example.net", "carol@example.com"}, "Junk"));
    BOOST_REQUIRE_MESSAGE(id.ok(), test::why(id));
    BOOST_TEST(queue::is_valid_queue_id(*id));
    BOOST_TEST(queue::queue_id_time(*id) == t0);
    BOOST_TEST(h.storage.sync_count() == 1u);

    const auto list = h.spool.list();
    BOOST_REQUIRE(list.size() == 1u);
    BOOST_TEST(list[0].id == *id);
    BOOST_TEST(list[0].arrival_unix_seconds == t0);
    BOOST_TEST(list[0].sender.to_string() == "<alice@example.org>");
    BOOST_REQUIRE(list[0].recipients.size() == 2u);
    BOOST_TEST(list[0].recipients[1].path.to_string() == "<carol@example.com>");
    BOOST_TEST(list[0].recipients[1].status.state == RecipientState::pending);
    BOOST_TEST(list[0].size_octets == test::make_message("one")->size());
    BOOST_TEST(list[0].folder == "Junk");

    auto rec = h.spool.show(*id);
    BOOST_REQUIRE(rec.ok());
    BOOST_TEST(rec->message == *test::make_message("one"));
    BOOST_TEST(rec->entry.envelope.helo == "client.example");
    BOOST_TEST(rec->entry.envelope.client_address == "192.0.2.7");
    BOOST_TEST(rec->entry.folder == "Junk");

    BOOST_TEST(h.spool.remove(*id).ok());
    BOOST_TEST(h.spool.list().empty());
    BOOST_TEST(h.storage.files().empty());
    BOOST_TEST(!h.spool.show(*id).ok());
    BOOST_TEST(!h.spool.remove(*id).ok());
}

BOOST_AUTO_TEST_CASE(a_batch_shares_one_barrier_and_bad_items_fail_alone) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    std::vector<Submission> batch;
    for (int i = 0; i < 10; ++i) batch.push_back(spool_submission("m" + std::to_string(i)));
    batch.push_back(Submission{test::make_envelope("a@b.example", {}), test::make_message("x"), {}});
    batch.push_back(Submission{test::make_envelope("a@b.example", {"c@d.example"}), core::MessageRef{}, {}});
    const auto out = h.spool.commit_batch(std::move(batch));
    BOOST_REQUIRE(out.size() == 12u);
    std::set<std::string> ids;
    for (int i = 0; i < 10; ++i) {
        BOOST_REQUIRE(out[i].ok());
        ids.insert(*out[i]);
    }
    BOOST_TEST(ids.size() == 10u);
    BOOST_TEST(!out[10].ok());
    BOOST_TEST(out[10].error().message == "spool: no recipients");
    BOOST_TEST(!out[11].ok());
    BOOST_TEST(h.storage.sync_count() == 1u);
    // list() is oldest first, which is issue order within one second.
    const auto list = h.spool.list();
    BOOST_REQUIRE(list.size() == 10u);
    for (int i = 0; i < 10; ++i) BOOST_TEST(list[i].id == *out[i]);
}

BOOST_AUTO_TEST_CASE(recipient_states_persist_across_restart_and_crash) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto id = *h.spool.commit(spool_submission("s", {"a@x.example", "b@x.example", "c@y.example"}));
    BOOST_REQUIRE(h.spool.mark(id, {{0, {RecipientState::delivered, "new/1"}}}).ok());
    BOOST_REQUIRE(h.spool.mark(id, {{1, {RecipientState::failed, "5.1.1 unknown"}}}).ok());
    BOOST_TEST(!h.spool.mark(id, {{3, {RecipientState::delivered, ""}}}).ok());
    BOOST_TEST(!h.spool.mark("0000000000000000", {}).ok());

    const std::vector<RecipientStatus> expected = {{RecipientState::delivered, "new/1"},
                                                   {RecipientState::failed, "5.1.1 unknown"},
                                                   {RecipientState::pending, ""}};
    // Only the newest state file is kept.
    BOOST_TEST(h.storage.files().size() == 2u);

    h.storage.crash();
    Spool again(h.storage, h.clock, h.random, layout());
    const auto report = again.recover();
    BOOST_REQUIRE(report.ok());
    BOOST_TEST(report->recovered == 1u);
    BOOST_TEST(report->discarded == 0u);
    const auto rec = again.show(id);
    BOOST_REQUIRE(rec.ok());
    BOOST_TEST(rec->entry.status == expected);
    BOOST_TEST(again.list()[0].recipients[1].status.diagnostic == "5.1.1 unknown");

    // A further mark after recovery takes a fresh sequence number and wins next time.
    BOOST_REQUIRE(again.mark(id, {{2, {RecipientState::delivered, "remote"}}}).ok());
    Spool third(h.storage, h.clock, h.random, layout());
    const auto r3 = third.recover();
    BOOST_REQUIRE(r3.ok());
    // Everything is final now: recovery removes the message.
    BOOST_TEST(r3->finished == 1u);
    BOOST_TEST(third.size() == 0u);
    BOOST_TEST(h.storage.files().empty());
}

BOOST_AUTO_TEST_CASE(a_torn_newest_state_file_falls_back_to_the_previous_one) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto id = *h.spool.commit(spool_submission("t", {"a@x.example", "b@x.example"}));
    BOOST_REQUIRE(h.spool.mark(id, {{0, {RecipientState::delivered, "ok"}}}).ok());
    const std::string good = h.storage.read(Spool::state_file(id, 1)).value();
    BOOST_REQUIRE(h.storage.create(Spool::state_file(id, 2), good.substr(0, good.size() - 5)).ok());
    BOOST_REQUIRE(h.storage.create("unrelated.txt", "keep me").ok());

    Spool again(h.storage, h.clock, h.random, layout());
    const auto report = again.recover();
    BOOST_REQUIRE(report.ok());
    BOOST_TEST(report->stale_state_files == 1u);
    BOOST_TEST(report->unknown_files == 1u);
    BOOST_TEST(h.storage.files().count("unrelated.txt") == 1u);
    BOOST_TEST(again.show(id)->entry.status[0].state == RecipientState::delivered);
    BOOST_REQUIRE(again.mark(id, {{1, {RecipientState::failed, "x"}}}).ok());
    BOOST_TEST(h.storage.files().count(Spool::state_file(id, 3)) == 1u);
}

#if !SPOOL_TEST_SEGMENTS  // message files edited by hand (segments: spool_segment_crash_test.cpp)
BOOST_AUTO_TEST_CASE(torn_and_corrupt_message_files_are_discarded_and_counted) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto keep = *h.spool.commit(spool_submission("keep"));
    const auto torn = *h.spool.commit(spool_submission("torn"));
    const auto bad = *h.spool.commit(spool_submission("bad"));
    std::string bytes = h.storage.read(Spool::message_file(torn)).value();
    h.storage.remove(Spool::message_file(torn));
    h.storage.create(Spool::message_file(torn), bytes.substr(0, bytes.size() / 2));
    bytes = h.storage.read(Spool::message_file(bad)).value();
    bytes[bytes.size() / 2] ^= 0x20;
    h.storage.remove(Spool::message_file(bad));
    h.storage.create(Spool::message_file(bad), bytes);
    h.storage.sync();

    Spool again(h.storage, h.clock, h.random, layout());
    const auto report = again.recover();
    BOOST_REQUIRE(report.ok());
    BOOST_TEST(report->recovered == 1u);
    BOOST_TEST(report->discarded == 2u);
    BOOST_TEST(report->problems.size() == 2u);
    BOOST_TEST(again.list()[0].id == keep);
    BOOST_TEST(h.storage.files().size() == 1u);
}

// `pigeon queue list` reads a live spool: a file the server is writing right now looks torn,
// and must not be deleted from under it.
BOOST_AUTO_TEST_CASE(read_only_recovery_reports_but_never_removes) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto keep = *h.spool.commit(spool_submission("keep"));
    const auto torn = *h.spool.commit(spool_submission("torn"));
    std::string bytes = h.storage.read(Spool::message_file(torn)).value();
    h.storage.remove(Spool::message_file(torn));
    h.storage.create(Spool::message_file(torn), bytes.substr(0, bytes.size() / 2));
    h.storage.sync();
    const auto before = h.storage.files();

    Spool reader(h.storage, h.clock, h.random, layout());
    const auto report = reader.recover(Spool::Recovery::read_only);
    BOOST_REQUIRE(report.ok());
    BOOST_TEST(report->recovered == 1u);
    BOOST_TEST(report->discarded == 1u);
    BOOST_TEST(reader.list()[0].id == keep);
    BOOST_TEST((h.storage.files() == before));
}

#endif

BOOST_AUTO_TEST_CASE(with_pending_selects_messages_by_recipient) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto a = *h.spool.commit(spool_submission("a", {"u@local.example", "v@remote.example"}));
    const auto b = *h.spool.commit(spool_submission("b", {"w@remote.example"}));
    const auto is_local = [](const core::Path& p) { return p.mailbox.domain().text() == "local.example"; };
    BOOST_TEST(h.spool.with_pending(is_local) == std::vector<std::string>{a});
    BOOST_REQUIRE(h.spool.mark(a, {{0, {RecipientState::delivered, ""}}}).ok());
    BOOST_TEST(h.spool.with_pending(is_local).empty());
    const auto all = h.spool.with_pending([](const core::Path&) { return true; });
    BOOST_TEST(all == (std::vector<std::string>{a, b}));
}

// ---- disk errors -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_full_disk_fails_cleanly_and_leaves_nothing) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    h.storage.fail_creates("No space left on device");
    const auto out = h.spool.commit(spool_submission("full"));
    BOOST_REQUIRE(!out.ok());
    BOOST_TEST(out.error().message.find("No space left on device") != std::string::npos);
    BOOST_TEST(h.storage.files().empty());  // the torn prefix was removed
    BOOST_TEST(h.spool.size() == 0u);
    h.storage.fail_creates(std::nullopt);
    BOOST_TEST(h.spool.commit(spool_submission("after")).ok());
}

BOOST_AUTO_TEST_CASE(a_failed_barrier_fails_the_batch_and_never_resurfaces) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    h.storage.fail_syncs("Input/output error");
    std::vector<Submission> batch;
    batch.push_back(spool_submission("x1"));
    batch.push_back(spool_submission("x2"));
    const auto out = h.spool.commit_batch(std::move(batch));
    for (const auto& o : out) {
        BOOST_REQUIRE(!o.ok());
        BOOST_TEST(o.error().message.find("Input/output error") != std::string::npos);
    }
    h.storage.fail_syncs(std::nullopt);
    BOOST_REQUIRE(h.spool.commit(spool_submission("ok")).ok());  // its barrier covers the removals
    h.storage.crash();
    Spool again(h.storage, h.clock, h.random, layout());
    BOOST_REQUIRE(again.recover().ok());
    const auto subjects = by_subject(again);
    BOOST_TEST(subjects.size() == 1u);
    BOOST_TEST(subjects.count("ok") == 1u);
}

BOOST_AUTO_TEST_CASE(failed_mark_and_remove_report_errors_and_keep_the_old_state) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto id = *h.spool.commit(spool_submission("m", {"a@x.example", "b@x.example"}));
    h.storage.fail_syncs("Input/output error");
    const auto marked = h.spool.mark(id, {{0, {RecipientState::delivered, ""}}});
    BOOST_REQUIRE(!marked.ok());
    BOOST_TEST(marked.error().message.find("not saved") != std::string::npos);
    BOOST_TEST(h.spool.show(id)->entry.status[0].state == RecipientState::pending);
    BOOST_TEST(!h.spool.remove(id).ok());
    h.storage.crash();
    Spool again(h.storage, h.clock, h.random, layout());
    BOOST_REQUIRE(again.recover().ok());
    BOOST_TEST(again.show(id)->entry.status[0].state == RecipientState::pending);
}

// ---- crash at every point ------------------------------------------------------------------

namespace {

struct Expectations {
    std::set<std::string> committed;      // commit returned an id
    std::set<std::string> refused;        // commit returned an error
    std::map<std::string, RecipientState> first_state;  // subject -> state of recipient 0
    std::set<std::string> removed;        // remove returned ok
    std::set<std::string> remove_tried;   // remove was called
    std::map<std::string, std::string> ids;
};

// A sequence mixing single commits, a batch, marks and a removal.
Expectations run_sequence(Spool& spool) {
    Expectations e;
    const auto note = [&](const std::string& subject, const queue::Result<std::string>& id) {
        if (id.ok()) {
            e.committed.insert(subject);
            e.ids[subject] = *id;
            e.first_state[subject] = RecipientState::pending;
        } else {
            e.refused.insert(subject);
        }
    };
    note("A", spool.commit(spool_submission("A", {"a@x.example", "b@x.example"})));
    std::vector<Submission> batch;
    batch.push_back(spool_submission("B", {"c@x.example", "d@x.example"}));
    batch.push_back(spool_submission("C", {"e@x.example", "f@x.example"}));
    const auto out = spool.commit_batch(std::move(batch));
    note("B", out[0]);
    note("C", out[1]);
    if (e.ids.count("A") && spool.mark(e.ids["A"], {{0, {RecipientState::delivered, "d"}}}).ok()) {
        e.first_state["A"] = RecipientState::delivered;
    }
    note("D", spool.commit(spool_submission("D", {"g@x.example", "h@x.example"})));
    if (e.ids.count("B") && spool.mark(e.ids["B"], {{0, {RecipientState::delivered, "d"}}}).ok()) {
        e.first_state["B"] = RecipientState::delivered;
    }
    if (e.ids.count("B")) {
        e.remove_tried.insert("B");
        if (spool.remove(e.ids["B"]).ok()) e.removed.insert("B");
    }
    if (e.ids.count("C") && spool.mark(e.ids["C"], {{0, {RecipientState::failed, "f"}}}).ok()) {
        e.first_state["C"] = RecipientState::failed;
    }
    return e;
}

void check_recovered(const Spool& spool, const Expectations& e, const std::string& where,
                     bool may_keep_refused = false) {
    const auto found = by_subject(spool);
    for (const auto& s : e.committed) {
        if (e.removed.count(s)) {
            BOOST_CHECK_MESSAGE(found.count(s) == 0, where << ": removed " << s << " came back");
            continue;
        }
        if (e.remove_tried.count(s) && found.count(s) == 0) continue;  // unfinished removal
        BOOST_REQUIRE_MESSAGE(found.count(s) == 1, where << ": committed " << s << " lost");
        BOOST_CHECK_MESSAGE(found.at(s) == e.ids.at(s), where << ": " << s << " changed id");
        const auto rec = spool.show(found.at(s));
        BOOST_REQUIRE(rec.ok());
        BOOST_CHECK_MESSAGE(rec->entry.status[0].state == e.first_state.at(s),
                            where << ": " << s << " has state " << queue::state_name(rec->entry.status[0].state));
    }
    for (const auto& s : e.refused) {
        // In a segment, a refused message's record can be followed by other appended bytes;
        // a crash that keeps part of them may keep the refused record whole: a duplicate of
        // what the client retries, never a loss (docs/spool.md, "Duplicates").
        if (may_keep_refused) continue;
        BOOST_CHECK_MESSAGE(found.count(s) == 0, where << ": refused " << s << " appeared");
    }
    for (const auto& [s, id] : found) {
        BOOST_CHECK_MESSAGE(e.committed.count(s) == 1 || (may_keep_refused && e.refused.count(s) == 1),
                            where << ": unknown message " << s);
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(crash_at_every_point_of_a_commit_sequence) {
    std::size_t total = 0;
    {
        Harness h;
        BOOST_REQUIRE(h.spool.recover().ok());
        const auto e = run_sequence(h.spool);
        BOOST_REQUIRE(e.committed.size() == 4u);
        BOOST_REQUIRE(e.removed.size() == 1u);
        total = h.storage.mutation_count();
    }
    BOOST_TEST_MESSAGE("commit sequence has " << total << " storage operations");
    const std::size_t cases = test::for_each_crash_point(total, 8, [&](const test::CrashPoint& c) {
        Harness h;
        BOOST_REQUIRE(h.spool.recover().ok());
        h.storage.set_operation_budget(c.ops);
        const Expectations e = run_sequence(h.spool);
        h.storage.crash(c.model, c.seed * 1000 + c.ops);

        Spool recovered(h.storage, h.clock, h.random, layout());
        const auto report = recovered.recover();
        BOOST_REQUIRE_MESSAGE(report.ok(), c.where);
        check_recovered(recovered, e, c.where,
                        SPOOL_TEST_SEGMENTS && c.model == MemoryStorage::CrashModel::tear_unsynced);

        // The recovered spool keeps working, and a second crash changes nothing durable.
        BOOST_REQUIRE_MESSAGE(recovered.commit(spool_submission("E")).ok(), c.where);
        h.storage.crash(c.model, c.seed);
        Spool twice(h.storage, h.clock, h.random, layout());
        BOOST_REQUIRE(twice.recover().ok());
        // Now exactly what the first recovery held, plus E, must survive.
        const auto before = by_subject(recovered);
        BOOST_TEST_REQUIRE(before.count("E") == 1u);
        const auto after = by_subject(twice);
        BOOST_CHECK_MESSAGE(before == after, c.where << ": second crash changed the spool");
    });
    BOOST_TEST(cases == (total + 1) * 9);
}

// `pigeon queue hold` / `release` (issue 13): held survives restarts and crashes, keeps the
// recipient states, hides the message from both deliverers, and a mark (an attempt that was
// under way) keeps it held.
BOOST_AUTO_TEST_CASE(hold_and_release_persist_and_hide_the_message_from_deliverers) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto id = *h.spool.commit(spool_submission("held", {"a@x.example", "b@y.example"}));
    const auto other = *h.spool.commit(spool_submission("other"));
    const auto all = [](const core::Path&) { return true; };
    BOOST_REQUIRE(h.spool.mark(id, {{0, {RecipientState::pending, "451 later", 1, t0 + 60, false}}}).ok());
    BOOST_REQUIRE(h.spool.hold(id, true).ok());
    BOOST_TEST(h.spool.hold(id, true).ok());  // again: nothing to change
    BOOST_TEST(h.spool.entry(id)->held);
    BOOST_TEST(h.spool.with_pending(all) == std::vector<std::string>{other});
    BOOST_TEST(h.spool.due(t0 + 3600, all) == std::vector<std::string>{other});
    BOOST_REQUIRE(h.spool.remove(other).ok());
    BOOST_TEST(!h.spool.next_due(all).has_value());
    BOOST_TEST(!h.spool.hold("0000000000000000", true).ok());

    // An attempt under way when the hold came: its mark keeps the message held.
    BOOST_REQUIRE(h.spool.mark(id, {{1, {RecipientState::delivered, "250 ok"}}}).ok());
    BOOST_TEST(h.spool.entry(id)->held);
    BOOST_TEST(h.spool.list()[0].held);

    h.storage.crash();  // everything above returned ok: it is durable
    Spool again(h.storage, h.clock, h.random, layout());
    const auto report = again.recover();
    BOOST_REQUIRE(report.ok());
    BOOST_TEST(report->recovered == 1u);
    const auto e = again.entry(id);
    BOOST_REQUIRE(e.ok());
    BOOST_TEST(e->held);
    BOOST_TEST(e->status[0].attempts == 1u);
    BOOST_TEST(e->status[1].state == RecipientState::delivered);
    BOOST_TEST(again.with_pending(all).empty());

    BOOST_REQUIRE(again.hold(id, false).ok());
    BOOST_TEST(again.with_pending(all) == std::vector<std::string>{id});
    BOOST_TEST((again.next_due(all) == std::optional<std::int64_t>(t0 + 60)));
    Spool third(h.storage, h.clock, h.random, layout());
    BOOST_REQUIRE(third.recover().ok());
    BOOST_TEST(!third.entry(id)->held);
    BOOST_TEST(third.with_pending(all) == std::vector<std::string>{id});
}

// `queue hold --all` / `release --all`: only the messages whose flag changes are written and
// returned; one failing barrier changes none of them.
BOOST_AUTO_TEST_CASE(hold_all_changes_every_message_not_yet_so_durably) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto a = *h.spool.commit(spool_submission("a"));
    const auto b = *h.spool.commit(spool_submission("b"));
    const auto c = *h.spool.commit(spool_submission("c"));
    const auto all = [](const core::Path&) { return true; };
    BOOST_REQUIRE(h.spool.hold(b, true).ok());
    auto sorted = [](std::vector<std::string> ids) {
        std::sort(ids.begin(), ids.end());
        return ids;
    };
    const auto held = h.spool.hold_all(true);
    BOOST_REQUIRE(held.ok());
    BOOST_TEST(sorted(*held) == sorted({a, c}));
    BOOST_TEST(h.spool.with_pending(all).empty());
    const auto again = h.spool.hold_all(true);
    BOOST_REQUIRE(again.ok());
    BOOST_TEST(again->empty());

    h.storage.crash();  // returned ok: durable
    Spool after(h.storage, h.clock, h.random, layout());
    BOOST_REQUIRE(after.recover().ok());
    for (const auto& id : {a, b, c}) BOOST_TEST(after.entry(id)->held);

    BOOST_REQUIRE(after.hold(a, false).ok());
    h.storage.fail_syncs("disk gone");
    BOOST_TEST(!after.hold_all(false).ok());
    h.storage.fail_syncs(std::nullopt);
    BOOST_TEST(after.entry(b)->held);  // the failed release changed nothing
    BOOST_TEST(after.entry(c)->held);
    const auto released = after.hold_all(false);
    BOOST_REQUIRE(released.ok());
    BOOST_TEST(sorted(*released) == sorted({b, c}));
    BOOST_TEST(sorted(after.with_pending(all)) == sorted({a, b, c}));
}

// A hold whose barrier fails is not durable and not applied; after a crash at any point of
// hold + release the message is there, whole, held or not.
BOOST_AUTO_TEST_CASE(a_hold_cut_short_by_a_crash_leaves_the_message_whole) {
    const auto run = [](Harness& h, const std::string& id) {
        (void)h.spool.hold(id, true);
        (void)h.spool.hold(id, false);
        (void)h.spool.hold(id, true);
    };
    std::size_t total = 0;
    std::string id;
    {
        Harness h;
        BOOST_REQUIRE(h.spool.recover().ok());
        id = *h.spool.commit(spool_submission("H", {"a@x.example"}));
        const std::size_t before = h.storage.mutation_count();
        run(h, id);
        total = h.storage.mutation_count() - before;
        BOOST_TEST(h.spool.entry(id)->held);
    }
    test::for_each_crash_point(total, 4, [&](const test::CrashPoint& c) {
        Harness h;
        BOOST_REQUIRE(h.spool.recover().ok());
        const auto mine = *h.spool.commit(spool_submission("H", {"a@x.example"}));
        h.storage.set_operation_budget(c.ops);
        run(h, mine);
        h.storage.crash(c.model, c.seed);
        Spool again(h.storage, h.clock, h.random, layout());
        BOOST_REQUIRE(again.recover().ok());
        const auto e = again.entry(mine);
        BOOST_REQUIRE_MESSAGE(e.ok(), c.where);
        BOOST_CHECK_MESSAGE(e->status.size() == 1u && e->status[0].state == RecipientState::pending, c.where);
        if (c.ops >= total) BOOST_CHECK_MESSAGE(e->held, c.where);  // all of it completed
    });

    // A failing barrier: an error, and the index keeps the message as it was.
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto mine = *h.spool.commit(spool_submission("F"));
    h.storage.fail_syncs("disk gone");
    BOOST_TEST(!h.spool.hold(mine, true).ok());
    h.storage.fail_syncs(std::nullopt);
    BOOST_TEST(!h.spool.entry(mine)->held);
}

BOOST_AUTO_TEST_SUITE_END()
