// Tests for what only the segment layout of queue/spool.hpp has: torn segment tails, removal
// records, the deletion of segments oldest first, copying long-lived messages out of old
// segments, and a crash at every storage operation of a sequence that does all of these.
#include "queue/spool.hpp"

#include <boost/test/unit_test.hpp>

#include <map>
#include <set>

#include "queue/forwarding_storage.hpp"
#include "queue/memory_storage.hpp"
#include "queue/spool_checks.hpp"
#include "queue/spool_fixtures.hpp"

using namespace pigeon;
using test::by_subject;
using queue::MemoryStorage;
using queue::RecipientState;
using queue::Spool;
using queue::Submission;

namespace {

constexpr std::int64_t t0 = test::spool_t0;
using test::spool_submission;

// Segments so small that every commit starts a new one: rotation, deletion and migration
// happen within a few operations.
queue::SpoolOptions tiny_segments() {
    queue::SpoolOptions o;
    o.segment_octets = 64;
    o.migrate_after_segments = 2;
    o.retire_idle_octets = 0;
    return o;
}

struct Harness {
    explicit Harness(queue::SpoolOptions o = tiny_segments()) : options(o), spool(storage, clock, random, o) {}
    queue::SpoolOptions options;
    MemoryStorage storage;
    core::FixedClock clock{t0};
    test::SeededRandom random{7};
    Spool spool;
};


std::size_t count_suffix(const MemoryStorage& storage, const std::string& suffix) {
    std::size_t n = 0;
    for (const auto& [name, bytes] : storage.files()) {
        n += name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    }
    return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spool_segments)

BOOST_AUTO_TEST_CASE(a_batch_is_one_append_and_one_barrier_and_no_new_file_per_message) {
    queue::SpoolOptions o;
    o.retire_idle_octets = 0;
    Harness h(o);
    BOOST_REQUIRE(h.spool.recover().ok());
    std::vector<Submission> batch;
    for (int i = 0; i < 20; ++i) batch.push_back(spool_submission("m" + std::to_string(i)));
    const auto before = h.storage.mutation_count();
    const auto out = h.spool.commit_batch(std::move(batch));
    for (const auto& id : out) BOOST_REQUIRE(id.ok());
    BOOST_TEST(h.storage.mutation_count() - before == 2u);  // one append, one sync
    BOOST_TEST(h.storage.files().size() == 1u);
    BOOST_TEST(h.storage.files().count(Spool::segment_file(1)) == 1u);
    // Removing all of them: one append of removal records, one barrier; the segment is then
    // empty and deleted.
    std::vector<std::string> ids;
    for (const auto& id : out) ids.push_back(*id);
    const auto syncs = h.storage.sync_count();
    for (const auto& s : h.spool.remove_batch(ids)) BOOST_TEST(s.ok());
    BOOST_TEST(h.storage.sync_count() - syncs == 1u);
    BOOST_TEST(h.spool.size() == 0u);
    BOOST_TEST(h.storage.files().empty());
}

BOOST_AUTO_TEST_CASE(remove_batch_reports_unknown_and_repeated_ids_alone) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto a = *h.spool.commit(spool_submission("a"));
    const auto b = *h.spool.commit(spool_submission("b"));
    const auto out = h.spool.remove_batch({a, "0000000000000000", b, a});
    BOOST_REQUIRE(out.size() == 4u);
    BOOST_TEST(out[0].ok());
    BOOST_TEST(!out[1].ok());
    BOOST_TEST(out[2].ok());
    BOOST_TEST(!out[3].ok());
    BOOST_TEST(!queue::is_unknown_message(out[0]));
    BOOST_TEST(queue::is_unknown_message(out[1]));
    BOOST_TEST(queue::is_unknown_message(out[3]));
    BOOST_TEST(queue::is_unknown_message(h.spool.remove(a)));  // removed already
    BOOST_TEST((out[1].code() == queue::ErrorCode::unknown_message));
    BOOST_TEST(out[1].error().message == "no message 0000000000000000 in the spool");
    BOOST_TEST(!h.spool.show(a).ok());
    BOOST_TEST((h.spool.show(a).code() == queue::ErrorCode::unknown_message));
    BOOST_TEST(h.spool.size() == 0u);
    BOOST_TEST(h.spool.remove_batch({}).empty());
    // The code decides, not the text: a storage failure whose message happens to start the
    // same way is not an unknown message, and the code survives the trip through Status.
    const queue::Status look_alike = queue::Error{"no message store on this disk"};
    BOOST_TEST(!queue::is_unknown_message(look_alike));
    BOOST_TEST(!queue::is_unknown_message(queue::Status::success()));
}

BOOST_AUTO_TEST_CASE(a_torn_tail_is_discarded_and_never_appended_to) {
    queue::SpoolOptions o;
    o.retire_idle_octets = 0;
    Harness h(o);
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto a = *h.spool.commit(spool_submission("a"));
    const auto b = *h.spool.commit(spool_submission("b"));
    // Half of a third entry, as a crash in the middle of an append leaves it.
    const std::string seg1 = h.storage.read(Spool::segment_file(1)).value();
    BOOST_REQUIRE(h.storage.append(Spool::segment_file(1), seg1.substr(0, seg1.size() / 3)).ok());
    BOOST_REQUIRE(h.storage.sync().ok());

    Spool again(h.storage, h.clock, h.random, o);
    const auto report = again.recover();
    BOOST_REQUIRE(report.ok());
    BOOST_TEST(report->recovered == 2u);
    BOOST_TEST(report->discarded == 1u);
    BOOST_REQUIRE(report->problems.size() == 1u);
    BOOST_TEST(report->problems[0].find("torn entry at offset " + std::to_string(seg1.size())) != std::string::npos);
    BOOST_TEST(again.show(a)->message == *test::make_message("a"));
    BOOST_TEST(again.show(b)->message == *test::make_message("b"));
    const auto c = again.commit(spool_submission("c"));
    BOOST_REQUIRE(c.ok());
    BOOST_TEST(h.storage.files().count(Spool::segment_file(2)) == 1u);  // a new segment
    // Read-only recovery sees the same and changes nothing.
    const auto files = h.storage.files();
    Spool reader(h.storage, h.clock, h.random, o);
    const auto r = reader.recover(Spool::Recovery::read_only);
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r->recovered == 3u);
    BOOST_TEST((h.storage.files() == files));
}

BOOST_AUTO_TEST_CASE(a_corrupt_entry_ends_the_segment_there) {
    queue::SpoolOptions o;
    o.retire_idle_octets = 0;
    Harness h(o);
    BOOST_REQUIRE(h.spool.recover().ok());
    std::vector<Submission> batch;
    batch.push_back(spool_submission("a"));
    batch.push_back(spool_submission("b"));
    const auto ids = h.spool.commit_batch(std::move(batch));
    std::string bytes = h.storage.read(Spool::segment_file(1)).value();
    bytes[bytes.size() - 30] ^= 0x01;  // one bit of b's record
    h.storage.remove(Spool::segment_file(1));
    BOOST_REQUIRE(h.storage.create(Spool::segment_file(1), bytes).ok());
    Spool again(h.storage, h.clock, h.random, o);
    const auto report = again.recover();
    BOOST_REQUIRE(report.ok());
    BOOST_TEST(report->recovered == 1u);
    BOOST_TEST(report->discarded == 1u);
    BOOST_TEST(again.show(*ids[0]).ok());
    BOOST_TEST(!again.show(*ids[1]).ok());
}

BOOST_AUTO_TEST_CASE(segments_are_deleted_oldest_first_once_nothing_in_them_lives) {
    queue::SpoolOptions o = tiny_segments();
    o.migrate_after_segments = 100;  // no copying out in this test
    Harness h(o);
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto a = *h.spool.commit(spool_submission("a"));  // segment 1
    const auto b = *h.spool.commit(spool_submission("b"));  // segment 2
    const auto c = *h.spool.commit(spool_submission("c"));  // segment 3
    BOOST_TEST(h.spool.segment_count() == 3u);
    // b's segment is empty but not the oldest: it stays (its removal records could refer to
    // an older segment's messages).
    BOOST_REQUIRE(h.spool.remove(b).ok());
    BOOST_TEST(h.storage.files().count(Spool::segment_file(2)) == 1u);
    BOOST_REQUIRE(h.spool.remove(a).ok());
    BOOST_TEST(h.storage.files().count(Spool::segment_file(1)) == 0u);
    // One deletion per barrier: segment 2 goes with the next one.
    BOOST_TEST(h.storage.files().count(Spool::segment_file(2)) == 1u);
    BOOST_REQUIRE(h.spool.commit(spool_submission("d")).ok());
    BOOST_TEST(h.storage.files().count(Spool::segment_file(2)) == 0u);
    Spool again(h.storage, h.clock, h.random, o);
    BOOST_REQUIRE(again.recover().ok());
    const auto found = by_subject(again);
    BOOST_TEST(found.size() == 2u);
    BOOST_TEST(found.count("c") == 1u);
    BOOST_TEST(found.at("c") == c);
    BOOST_TEST(found.count("d") == 1u);
}

BOOST_AUTO_TEST_CASE(a_long_lived_message_is_copied_out_of_its_old_segment) {
    Harness h;
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto slow = *h.spool.commit(spool_submission("slow", {"a@x.example", "b@x.example"}));
    BOOST_REQUIRE(h.spool.mark(slow, {{0, {RecipientState::delivered, "done"}}}).ok());
    for (int i = 0; i < 5; ++i) {
        const auto id = *h.spool.commit(spool_submission("quick" + std::to_string(i)));
        BOOST_REQUIRE(h.spool.remove(id).ok());
    }
    // The slow message now has its own file, its segment is gone, and only recent segments
    // remain.
    BOOST_TEST(h.storage.files().count(Spool::message_file(slow)) == 1u);
    BOOST_TEST(h.storage.files().count(Spool::segment_file(1)) == 0u);
    BOOST_TEST(count_suffix(h.storage, ".seg") <= 4u);  // migrate_after_segments + 2
    const auto rec = h.spool.show(slow);
    BOOST_REQUIRE(rec.ok());
    BOOST_TEST(rec->message == *test::make_message("slow"));
    BOOST_TEST(rec->entry.status[0].state == RecipientState::delivered);

    Spool again(h.storage, h.clock, h.random, h.options);
    const auto report = again.recover();
    BOOST_REQUIRE(report.ok());
    BOOST_TEST(report->recovered == 1u);
    BOOST_TEST(again.show(slow)->entry.status[0].diagnostic == "done");
    // Removing it removes its file; the old segment copies stay dead.
    BOOST_REQUIRE(again.remove(slow).ok());
    Spool third(h.storage, h.clock, h.random, h.options);
    BOOST_REQUIRE(third.recover().ok());
    BOOST_TEST(third.size() == 0u);
}

BOOST_AUTO_TEST_CASE(a_spool_of_message_files_from_before_segments_keeps_working) {
    MemoryStorage storage;
    core::FixedClock clock{t0};
    test::SeededRandom random{9};
    std::string old_id;
    {
        Spool before(storage, clock, random, queue::SpoolOptions{0});  // one file per message
        BOOST_REQUIRE(before.recover().ok());
        old_id = *before.commit(spool_submission("old", {"a@x.example", "b@x.example"}));
        BOOST_REQUIRE(before.mark(old_id, {{0, {RecipientState::delivered, "done"}}}).ok());
    }
    queue::SpoolOptions o;
    o.retire_idle_octets = 0;
    Spool after(storage, clock, random, o);
    const auto report = after.recover();
    BOOST_REQUIRE(report.ok());
    BOOST_TEST(report->recovered == 1u);
    BOOST_TEST(after.show(old_id)->entry.status[0].diagnostic == "done");
    const auto fresh = *after.commit(spool_submission("new"));
    BOOST_TEST(storage.files().count(Spool::segment_file(1)) == 1u);
    BOOST_TEST(storage.files().count(Spool::message_file(fresh)) == 0u);
    BOOST_REQUIRE(after.remove(old_id).ok());
    BOOST_TEST(storage.files().count(Spool::message_file(old_id)) == 0u);
    BOOST_REQUIRE(after.remove(fresh).ok());
    BOOST_TEST(storage.files().empty());
}

BOOST_AUTO_TEST_CASE(a_full_disk_in_the_middle_of_a_segment_retires_it) {
    queue::SpoolOptions o;
    o.retire_idle_octets = 0;
    Harness h(o);
    BOOST_REQUIRE(h.spool.recover().ok());
    const auto a = *h.spool.commit(spool_submission("a"));
    h.storage.fail_creates("No space left on device");
    const auto b = h.spool.commit(spool_submission("b"));
    BOOST_REQUIRE(!b.ok());
    BOOST_TEST(b.error().message.find("No space left on device") != std::string::npos);
    h.storage.fail_creates(std::nullopt);
    const auto c = h.spool.commit(spool_submission("c"));
    BOOST_REQUIRE(c.ok());
    BOOST_TEST(h.storage.files().count(Spool::segment_file(2)) == 1u);  // not after the torn bytes
    Spool again(h.storage, h.clock, h.random, o);
    const auto report = again.recover();
    BOOST_REQUIRE(report.ok());
    BOOST_TEST(report->recovered == 2u);
    BOOST_TEST(report->discarded == 1u);
    const auto found = by_subject(again);
    BOOST_TEST(found.at("a") == a);
    BOOST_TEST(found.at("c") == *c);
}

namespace {

// MemoryStorage whose n-th sync (counting from 1) fails once, the process going on.
class OneFailedSync final : public test::ForwardingStorage {
public:
    queue::Status sync() override {
        if (++syncs == fail_at) return queue::Error{"sync: I/O error (injected)"};
        return inner.sync();
    }
    std::size_t syncs = 0;
    std::size_t fail_at = 0;
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_failed_copy_out_leaves_the_segment_copy_in_charge) {
    // Find the barrier of the copying out in a clean run, then fail exactly that one.
    std::size_t copy_barrier = 0;
    for (int pass = 0; pass < 2; ++pass) {
        OneFailedSync storage;
        storage.fail_at = copy_barrier;
        core::FixedClock clock{t0};
        test::SeededRandom random{7};
        Spool spool(storage, clock, random, tiny_segments());
        BOOST_REQUIRE(spool.recover().ok());
        const auto slow = *spool.commit(spool_submission("slow", {"a@x.example", "b@x.example"}));
        std::size_t before_copy = 0;
        for (int i = 0; i < 5 && storage.inner.files().count(Spool::message_file(slow)) == 0; ++i) {
            const auto id = *spool.commit(spool_submission("quick" + std::to_string(i)));
            before_copy = storage.syncs;
            BOOST_REQUIRE(spool.remove(id).ok());
            if (pass == 1 && storage.syncs >= copy_barrier) break;
        }
        if (pass == 0) {
            BOOST_REQUIRE(storage.inner.files().count(Spool::message_file(slow)) == 1u);
            copy_barrier = before_copy + 2;  // remove()'s own barrier, then the copy's
            continue;
        }
        // The copy's barrier failed: its file is gone again and the segment copy still counts.
        BOOST_TEST(storage.syncs >= copy_barrier);
        BOOST_TEST(storage.inner.files().count(Spool::message_file(slow)) == 0u);
        BOOST_REQUIRE(spool.show(slow).ok());
        BOOST_REQUIRE(spool.remove(slow).ok());
        Spool again(storage, clock, random, tiny_segments());
        BOOST_REQUIRE(again.recover().ok());
        BOOST_TEST(again.size() == 0u);  // removed stays removed
    }
}

// ---- crash at every point of a sequence with rotation, deletion and copying out ----------

namespace {

struct Expect {
    std::map<std::string, std::string> ids;           // subject -> id, commit returned ok
    std::set<std::string> refused;
    std::set<std::string> removed;                    // remove returned ok
    std::set<std::string> remove_tried;
    std::map<std::string, RecipientState> first_state;  // confirmed state of recipient 0
    std::map<std::string, RecipientState> first_tried;  // a mark of it was attempted
};

Expect run(Spool& spool) {
    Expect e;
    const auto commit = [&](const std::string& s) {
        auto id = spool.commit(spool_submission(s, {"a@x.example", "b@x.example"}));
        if (id.ok()) {
            e.ids[s] = *id;
            e.first_state[s] = RecipientState::pending;
        } else {
            e.refused.insert(s);
        }
    };
    const auto mark = [&](const std::string& s, RecipientState st) {
        if (!e.ids.count(s)) return;
        e.first_tried[s] = st;
        if (spool.mark(e.ids[s], {{0, {st, "x"}}}).ok()) e.first_state[s] = st;
    };
    const auto remove = [&](const std::string& s) {
        if (!e.ids.count(s)) return;
        e.remove_tried.insert(s);
        if (spool.remove(e.ids[s]).ok()) e.removed.insert(s);
    };
    commit("A");
    commit("B");
    mark("A", RecipientState::delivered);  // A will live long and be copied out
    commit("C");
    remove("B");
    commit("D");
    remove("C");
    commit("E");
    remove("D");
    mark("E", RecipientState::failed);
    commit("F");
    remove("E");
    remove("A");
    commit("G");
    return e;
}

void check(const Spool& spool, const Expect& e, const std::string& where, bool may_keep_refused) {
    const auto found = by_subject(spool);
    for (const auto& [s, id] : e.ids) {
        if (e.removed.count(s)) {
            BOOST_CHECK_MESSAGE(found.count(s) == 0, where << ": removed " << s << " came back");
            continue;
        }
        if (e.remove_tried.count(s) && found.count(s) == 0) continue;  // removal in flight
        BOOST_REQUIRE_MESSAGE(found.count(s) == 1, where << ": committed " << s << " lost");
        BOOST_CHECK_MESSAGE(found.at(s) == id, where << ": " << s << " changed id");
        const auto st = spool.show(id)->entry.status[0].state;
        const bool confirmed = st == e.first_state.at(s);
        const bool in_flight = e.first_tried.count(s) && st == e.first_tried.at(s);
        BOOST_CHECK_MESSAGE(confirmed || in_flight, where << ": " << s << " has state " << queue::state_name(st));
    }
    for (const auto& [s, id] : found) {
        BOOST_CHECK_MESSAGE(e.ids.count(s) == 1 || (may_keep_refused && e.refused.count(s) == 1),
                            where << ": unknown message " << s);
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(crash_at_every_point_of_rotation_deletion_and_copying_out) {
    std::size_t total = 0;
    {
        Harness h;
        BOOST_REQUIRE(h.spool.recover().ok());
        const Expect e = run(h.spool);
        BOOST_REQUIRE(e.ids.size() == 7u);
        BOOST_REQUIRE(e.removed.size() == 5u);
        // The sequence really exercises what it is for.
        BOOST_REQUIRE(h.storage.files().count(Spool::segment_file(1)) == 0u);
        total = h.storage.mutation_count();
    }
    BOOST_TEST_MESSAGE("sequence has " << total << " storage operations");
    const std::size_t cases = test::for_each_crash_point(total, 12, [&](const test::CrashPoint& c) {
        Harness h;
        BOOST_REQUIRE(h.spool.recover().ok());
        h.storage.set_operation_budget(c.ops);
        const Expect e = run(h.spool);
        h.storage.crash(c.model, c.seed * 7919 + c.ops);
        Spool recovered(h.storage, h.clock, h.random, h.options);
        BOOST_REQUIRE_MESSAGE(recovered.recover().ok(), c.where);
        check(recovered, e, c.where, c.model == MemoryStorage::CrashModel::tear_unsynced);
        // It keeps working, and a second crash right after recovery changes nothing.
        BOOST_REQUIRE_MESSAGE(recovered.commit(spool_submission("Z")).ok(), c.where);
        const auto before = by_subject(recovered);
        h.storage.crash(c.model, c.seed + 1);
        Spool twice(h.storage, h.clock, h.random, h.options);
        BOOST_REQUIRE(twice.recover().ok());
        BOOST_CHECK_MESSAGE(by_subject(twice) == before, c.where << ": second crash changed the spool");
    });
    BOOST_TEST(cases == (total + 1) * 13);
}

BOOST_AUTO_TEST_SUITE_END()
