// Tests for the retry schedule in queue/spool.hpp: due(), next_due(), reschedule_all() and
// reschedule(), over MemoryStorage, including a crash at every point of a sequence of marks
// and reschedules.
#include <boost/test/unit_test.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "queue/memory_storage.hpp"
#include "queue/spool.hpp"
#include "queue/spool_checks.hpp"
#include "queue/spool_fixtures.hpp"

using namespace pigeon;
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

RecipientStatus deferred(std::uint32_t attempts, std::int64_t next, std::string why = "451 4.7.1 later") {
    return RecipientStatus{RecipientState::pending, std::move(why), attempts, next, false};
}

const auto everyone = [](const core::Path&) { return true; };
const auto remote = [](const core::Path& p) { return p.mailbox.domain().text() != "local.example"; };

std::vector<RecipientStatus> states(const Spool& spool, const std::string& id) {
    const auto e = spool.entry(id);
    BOOST_REQUIRE_MESSAGE(e.ok(), test::why(e));
    return e->status;
}

}  // namespace

#if SPOOL_TEST_SEGMENTS
BOOST_AUTO_TEST_SUITE(spool_schedule_in_segments)
#else
BOOST_AUTO_TEST_SUITE(spool_schedule)
#endif

BOOST_AUTO_TEST_CASE(due_lists_messages_whose_selected_recipients_may_be_tried_now) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto a = *h.spool.commit(spool_submission("a", {"u@local.example", "v@remote.example"}));
    const auto b = *h.spool.commit(spool_submission("b", {"w@remote.example"}));
    const auto c = *h.spool.commit(spool_submission("c", {"x@remote.example", "y@remote.example"}));
    // New messages are due at once (next_attempt_unix 0).
    BOOST_TEST(h.spool.due(t0, everyone) == (std::vector<std::string>{a, b, c}));
    BOOST_TEST(*h.spool.next_due(everyone) == 0);

    BOOST_REQUIRE(h.spool.mark(a, {{1, deferred(1, t0 + 300)}}).ok());
    BOOST_REQUIRE(h.spool.mark(b, {{0, deferred(2, t0 + 600)}}).ok());
    BOOST_REQUIRE(h.spool.mark(c, {{0, deferred(1, t0 + 900)}, {1, {RecipientState::failed, "550 no"}}}).ok());
    // a's local recipient is still due; its remote one is not.
    BOOST_TEST(h.spool.due(t0, everyone) == (std::vector<std::string>{a}));
    BOOST_TEST(h.spool.due(t0, remote).empty());
    BOOST_TEST(*h.spool.next_due(remote) == t0 + 300);
    BOOST_TEST(h.spool.due(t0 + 300, remote) == (std::vector<std::string>{a}));
    BOOST_TEST(h.spool.due(t0 + 899, remote) == (std::vector<std::string>{a, b}));
    BOOST_TEST(h.spool.due(t0 + 900, remote) == (std::vector<std::string>{a, b, c}));

    // Final recipients count for nothing.
    BOOST_REQUIRE(h.spool.mark(a, {{0, {RecipientState::delivered, "new/1"}}, {1, {RecipientState::delivered, "mx"}}}).ok());
    BOOST_TEST(h.spool.due(t0 + 10'000, everyone) == (std::vector<std::string>{b, c}));
    BOOST_TEST(*h.spool.next_due(everyone) == t0 + 600);
    BOOST_TEST(!h.spool.next_due([](const core::Path& p) { return p.mailbox.domain().text() == "local.example"; }));
}

BOOST_AUTO_TEST_CASE(next_due_is_nullopt_for_an_empty_spool) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    BOOST_TEST(!h.spool.next_due(everyone).has_value());
    BOOST_TEST(h.spool.due(t0, everyone).empty());
}

BOOST_AUTO_TEST_CASE(reschedule_all_moves_every_pending_recipient_with_one_barrier) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto a = *h.spool.commit(spool_submission("a", {"v@remote.example", "w@remote.example"}));
    const auto b = *h.spool.commit(spool_submission("b", {"x@remote.example"}));
    const auto c = *h.spool.commit(spool_submission("c", {"y@remote.example"}));
    BOOST_REQUIRE(h.spool.mark(a, {{0, deferred(3, t0 + 2400)}, {1, {RecipientState::failed, "550"}}}).ok());
    BOOST_REQUIRE(h.spool.mark(b, {{0, deferred(1, t0 + 300)}}).ok());
    BOOST_REQUIRE(h.spool.mark(c, {{0, deferred(1, t0 + 100)}}).ok());
    BOOST_REQUIRE(h.spool.reschedule(c, t0 + 5).ok());

    const std::size_t syncs = h.storage.sync_count();
    BOOST_REQUIRE(h.spool.reschedule_all(t0 + 5).ok());
    BOOST_TEST(h.storage.sync_count() == syncs + 1);
    // Attempts, diagnostics and final states are untouched; c was already at t0 + 5.
    BOOST_TEST((states(h.spool, a) == std::vector<RecipientStatus>{deferred(3, t0 + 5), {RecipientState::failed, "550"}}));
    BOOST_TEST((states(h.spool, b) == std::vector<RecipientStatus>{deferred(1, t0 + 5)}));
    BOOST_TEST(h.storage.files().count(Spool::state_file(c, 2)) == 1u);  // not rewritten
    BOOST_TEST(h.storage.files().count(Spool::state_file(c, 3)) == 0u);
    BOOST_TEST(h.spool.due(t0 + 5, everyone) == (std::vector<std::string>{a, b, c}));
    // One state file per message: the superseded ones are gone.
    BOOST_TEST(h.storage.files().size() == (SPOOL_TEST_SEGMENTS ? 4u : 6u));  // 3 messages or 1 segment, 3 state files

    // Durable: a crash right after keeps it.
    h.storage.crash(MemoryStorage::CrashModel::tear_unsynced, 3);
    Spool again(h.storage, h.clock, h.random, layout());
    BOOST_REQUIRE(again.recover().ok());
    BOOST_TEST((states(again, a) == std::vector<RecipientStatus>{deferred(3, t0 + 5), {RecipientState::failed, "550"}}));
    BOOST_TEST(states(again, b)[0].next_attempt_unix == t0 + 5);
    BOOST_TEST(states(again, b)[0].attempts == 1u);

    // Nothing to change: no file, no barrier.
    const std::size_t mutations = h.storage.mutation_count();
    BOOST_REQUIRE(again.reschedule_all(t0 + 5).ok());
    BOOST_TEST(h.storage.mutation_count() == mutations);
}

BOOST_AUTO_TEST_CASE(reschedule_one_message_and_unknown_ids) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto a = *h.spool.commit(spool_submission("a", {"v@remote.example"}));
    const auto b = *h.spool.commit(spool_submission("b", {"x@remote.example"}));
    BOOST_REQUIRE(h.spool.mark(a, {{0, deferred(2, t0 + 600)}}).ok());
    BOOST_REQUIRE(h.spool.mark(b, {{0, deferred(2, t0 + 600)}}).ok());
    BOOST_REQUIRE(h.spool.reschedule(b, t0).ok());
    BOOST_TEST(states(h.spool, a)[0].next_attempt_unix == t0 + 600);
    BOOST_TEST(states(h.spool, b)[0].next_attempt_unix == t0);
    BOOST_TEST(states(h.spool, b)[0].attempts == 2u);
    BOOST_TEST(h.spool.due(t0, everyone) == std::vector<std::string>{b});

    const auto unknown = h.spool.reschedule("0000000000000000", t0);
    BOOST_REQUIRE(!unknown.ok());
    BOOST_TEST(unknown.error().message == "no message 0000000000000000 in the queue");
    BOOST_TEST(!h.spool.entry("0000000000000000").ok());
}

BOOST_AUTO_TEST_CASE(a_failed_reschedule_changes_nothing) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto a = *h.spool.commit(spool_submission("a", {"v@remote.example"}));
    const auto b = *h.spool.commit(spool_submission("b", {"x@remote.example"}));
    BOOST_REQUIRE(h.spool.mark(a, {{0, deferred(1, t0 + 300)}}).ok());
    BOOST_REQUIRE(h.spool.mark(b, {{0, deferred(1, t0 + 300)}}).ok());
    const auto before = h.storage.files();

    h.storage.fail_syncs("Input/output error");
    const auto s = h.spool.reschedule_all(t0);
    BOOST_REQUIRE(!s.ok());
    BOOST_TEST(s.error().message.find("2 messages not saved") != std::string::npos);
    BOOST_TEST(s.error().message.find("Input/output error") != std::string::npos);
    BOOST_TEST(states(h.spool, a)[0].next_attempt_unix == t0 + 300);
    BOOST_TEST((h.storage.files() == before));  // the new state files were taken back
    h.storage.fail_syncs(std::nullopt);

    h.storage.fail_creates("No space left on device");
    BOOST_TEST(!h.spool.reschedule(a, t0).ok());
    BOOST_TEST((h.storage.files() == before));
    h.storage.fail_creates(std::nullopt);

    // The spool still works, and takes fresh sequence numbers.
    BOOST_REQUIRE(h.spool.reschedule_all(t0).ok());
    BOOST_TEST(h.spool.due(t0, everyone) == (std::vector<std::string>{a, b}));
}

// ---- crash at every point ------------------------------------------------------------------

namespace {

// Per message: every state vector the spool was asked to persist, in order, and how many of
// them were confirmed (the last confirmed one is history[confirmed - 1]).
struct Track {
    std::vector<std::vector<RecipientStatus>> history;
    std::size_t confirmed = 0;
};

struct Run {
    std::map<std::string, std::string> ids;  // subject -> id (commits that returned one)
    std::map<std::string, Track> tracks;     // subject -> states
};

std::vector<RecipientStatus> rescheduled(std::vector<RecipientStatus> v, std::int64_t when) {
    for (auto& s : v)
        if (s.state == RecipientState::pending) s.next_attempt_unix = when;
    return v;
}

// Commits, marks with retry state, reschedule_all, reschedule of one, a further mark.
Run run_sequence(Spool& spool) {
    Run r;
    auto commit = [&](const std::string& subject, std::vector<std::string> to) {
        const auto id = spool.commit(spool_submission(subject, to));
        if (id.ok()) {
            r.ids[subject] = *id;
            r.tracks[subject].history.push_back(std::vector<RecipientStatus>(to.size()));
            r.tracks[subject].confirmed = 1;
        }
    };
    // current(): what the index holds = the last confirmed state.
    auto current = [&](const std::string& s) { return r.tracks[s].history[r.tracks[s].confirmed - 1]; };
    auto attempt = [&](const std::string& s, std::vector<RecipientStatus> v, bool ok) {
        Track& t = r.tracks[s];
        t.history.push_back(std::move(v));
        if (ok) t.confirmed = t.history.size();
    };
    auto mark = [&](const std::string& s, std::size_t i, RecipientStatus st) {
        if (!r.ids.count(s)) return;
        auto v = current(s);
        v[i] = st;
        attempt(s, v, spool.mark(r.ids[s], {{i, st}}).ok());
    };
    commit("A", {"a@x.example", "b@x.example"});
    commit("B", {"c@x.example"});
    commit("C", {"d@x.example", "e@x.example"});
    mark("A", 0, deferred(1, t0 + 300));
    mark("B", 0, deferred(2, t0 + 600));
    mark("C", 1, {RecipientState::failed, "550 5.1.1 no"});
    {
        std::vector<std::pair<std::string, std::vector<RecipientStatus>>> planned;
        for (const auto& [s, id] : r.ids) {
            auto v = rescheduled(current(s), t0 + 1);
            if (v != current(s)) planned.emplace_back(s, v);
        }
        const bool ok = spool.reschedule_all(t0 + 1).ok();
        for (auto& [s, v] : planned) attempt(s, v, ok);
    }
    if (r.ids.count("B")) attempt("B", rescheduled(current("B"), t0 + 2), spool.reschedule(r.ids["B"], t0 + 2).ok());
    mark("A", 1, {RecipientState::delivered, "mx"});
    return r;
}

void check_recovered(const Spool& spool, const Run& r, const std::string& where) {
    std::size_t found = 0;
    for (const auto& [subject, id] : r.ids) {
        const auto e = spool.entry(id);
        const Track& t = r.tracks.at(subject);
        const auto& last = t.history[t.confirmed - 1];
        const bool finished = std::none_of(last.begin(), last.end(), [](const RecipientStatus& s) {
            return s.state == RecipientState::pending;
        });
        if (!e.ok()) {
            // Only a message whose confirmed states left nothing pending may be gone (recovery
            // removes finished messages); a later unconfirmed state can also finish it.
            bool may_finish = finished;
            for (std::size_t i = t.confirmed; i < t.history.size(); ++i) {
                may_finish = may_finish || std::none_of(t.history[i].begin(), t.history[i].end(),
                                                        [](const RecipientStatus& s) { return s.state == RecipientState::pending; });
            }
            BOOST_CHECK_MESSAGE(may_finish, where << ": committed " << subject << " lost");
            continue;
        }
        ++found;
        // The recovered states are the last confirmed ones or a later attempted one, whole.
        bool allowed = false;
        for (std::size_t i = t.confirmed - 1; i < t.history.size(); ++i) allowed = allowed || e->status == t.history[i];
        BOOST_CHECK_MESSAGE(allowed, where << ": " << subject << " recovered with states it never had "
                                           << "or older than confirmed: recipient 0 next "
                                           << e->status[0].next_attempt_unix);
    }
    BOOST_CHECK_MESSAGE(spool.size() == found, where << ": unknown messages appeared");
}

}  // namespace

BOOST_AUTO_TEST_CASE(crash_at_every_point_of_marks_and_reschedules) {
    std::size_t total = 0;
    {
        Harness h;
        BOOST_REQUIRE(h.spool.recover().ok());
        const Run r = run_sequence(h.spool);
        BOOST_REQUIRE(r.ids.size() == 3u);
        for (const auto& [s, t] : r.tracks) BOOST_REQUIRE(t.confirmed == t.history.size());
        total = h.storage.mutation_count();
    }
    BOOST_TEST_MESSAGE("sequence has " << total << " storage operations");
    const std::size_t cases = test::for_each_crash_point(total, 8, [&](const test::CrashPoint& c) {
        Harness h;
        BOOST_REQUIRE(h.spool.recover().ok());
        h.storage.set_operation_budget(c.ops);
        const Run r = run_sequence(h.spool);
        h.storage.crash(c.model, c.seed * 1000 + c.ops);
        Spool recovered(h.storage, h.clock, h.random, layout());
        BOOST_REQUIRE_MESSAGE(recovered.recover().ok(), c.where);
        check_recovered(recovered, r, c.where);
        // The recovered spool can be rescheduled, durably.
        BOOST_REQUIRE_MESSAGE(recovered.reschedule_all(t0 + 9).ok(), c.where);
        h.storage.crash(c.model, c.seed);
        Spool twice(h.storage, h.clock, h.random, layout());
        BOOST_REQUIRE(twice.recover().ok());
        BOOST_CHECK_MESSAGE(twice.size() == recovered.size(), c.where << ": second crash lost messages");
        for (const auto& m : twice.list())
            for (const auto& rc : m.recipients)
                if (rc.status.state == RecipientState::pending)
                    BOOST_CHECK_MESSAGE(rc.status.next_attempt_unix == t0 + 9, c.where << ": reschedule not durable");
    });
    BOOST_TEST(cases == (total + 1) * 9);
}

BOOST_AUTO_TEST_SUITE_END()
