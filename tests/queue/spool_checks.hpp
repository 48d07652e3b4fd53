// Shared pieces of the spool tests: a spool over a MemoryStorage in either layout, the
// tests' submissions, and what a spool holds by the subject line of each message (the
// tests' messages are "Subject: <subject>\r\n\r\n...").
#pragma once
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "queue/memory_storage.hpp"
#include "queue/spool.hpp"
#include "queue/spool_fixtures.hpp"

namespace pigeon::test {

inline constexpr std::int64_t spool_t0 = 1'790'000'000;

// One file per message (segments = false), or segments so small (4 KiB) that the tests see
// rotation; idle segments are always retired, so an emptied spool keeps no file.
inline queue::SpoolOptions spool_layout(bool segments) {
    queue::SpoolOptions o;
    o.segment_octets = segments ? 4096 : 0;
    o.retire_idle_octets = 0;
    return o;
}

struct SpoolHarness {
    explicit SpoolHarness(queue::SpoolOptions options) : spool{storage, clock, random, options} {}
    queue::MemoryStorage storage;
    core::FixedClock clock{spool_t0};
    SeededRandom random{42};
    queue::Spool spool;
};

// A point at which a sequence of storage operations is cut short by a crash.
struct CrashPoint {
    std::size_t ops = 0;  // operations that complete; every later one fails (the process died)
    queue::MemoryStorage::CrashModel model = queue::MemoryStorage::CrashModel::drop_unsynced;
    std::uint64_t seed = 0;  // tear_unsynced: which unsynced changes survive
    std::string where;       // "crash after K ops, model M seed S", for failure messages
};

// Calls f(point) for every crash point of a sequence of `total` storage operations: after
// 0..total of them, under drop_unsynced once and under tear_unsynced with seeds
// 0..adversarial_seeds-1. Returns how many points it visited.
template <class F>
std::size_t for_each_crash_point(std::size_t total, std::uint64_t adversarial_seeds, F&& f) {
    std::size_t visited = 0;
    for (std::size_t k = 0; k <= total; ++k) {
        for (auto model : {queue::MemoryStorage::CrashModel::drop_unsynced,
                           queue::MemoryStorage::CrashModel::tear_unsynced}) {
            const std::uint64_t seeds =
                model == queue::MemoryStorage::CrashModel::drop_unsynced ? 1 : adversarial_seeds;
            for (std::uint64_t seed = 0; seed < seeds; ++seed) {
                f(CrashPoint{k, model, seed,
                             "crash after " + std::to_string(k) + " ops, model " +
                                 std::to_string(static_cast<int>(model)) + " seed " + std::to_string(seed)});
                ++visited;
            }
        }
    }
    return visited;
}

inline queue::Submission spool_submission(const std::string& subject,
                                          std::vector<std::string> to = {"bob@example.net"},
                                          std::string folder = {}) {
    return queue::Submission{make_envelope("alice@example.org", to), make_message(subject),
                             std::move(folder)};
}

// The subject of every message in the spool -> its id; checks each is there once and readable.
inline std::map<std::string, std::string> by_subject(const queue::Spool& spool) {
    std::map<std::string, std::string> out;
    for (const auto& m : spool.list()) {
        auto rec = spool.show(m.id);
        BOOST_REQUIRE_MESSAGE(rec.ok(), why(rec));
        const std::string& msg = rec->message;
        const std::string subject = msg.substr(9, msg.find("\r\n") - 9);
        BOOST_CHECK_MESSAGE(out.count(subject) == 0, "message " << subject << " recovered twice");
        out[subject] = m.id;
    }
    return out;
}

}  // namespace pigeon::test
