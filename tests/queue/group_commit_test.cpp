// Tests for os/group_commit.hpp: many concurrent submitters share barriers; every request is
// answered exactly once; stop() drains; failures reach the callback.
#include "os/group_commit.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "queue/memory_storage.hpp"
#include "queue/forwarding_storage.hpp"
#include "queue/spool_fixtures.hpp"

using namespace pigeon;

namespace {

// MemoryStorage whose barrier takes a while, as a disk's does, and counts barriers.
class SlowStorage final : public test::ForwardingStorage {
public:
    explicit SlowStorage(std::chrono::microseconds delay) : delay_(delay) {}
    queue::Status sync() override {
        std::this_thread::sleep_for(delay_);
        ++barriers;
        return inner.sync();
    }
    std::atomic<std::size_t> barriers{0};

private:
    std::chrono::microseconds delay_;
};

class ThreadSafeRandom final : public queue::RandomSource {
public:
    std::uint64_t next_u64() override {
        std::lock_guard lock(mutex_);
        return seeded_.next_u64();
    }

private:
    std::mutex mutex_;
    test::SeededRandom seeded_{3};
};

// Counts answers and lets the test wait for all of them.
struct Answers {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<os::GroupCommitter::Outcome> outcomes;
    void add(os::GroupCommitter::Outcome o) {
        std::lock_guard lock(mutex);
        outcomes.push_back(std::move(o));
        cv.notify_all();
    }
    bool wait_for(std::size_t n) {
        std::unique_lock lock(mutex);
        return cv.wait_for(lock, std::chrono::seconds(60), [&] { return outcomes.size() >= n; });
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(group_commit)

BOOST_AUTO_TEST_CASE(concurrent_sessions_share_barriers) {
    constexpr int threads = 8;
    constexpr int per_thread = 40;
    SlowStorage storage(std::chrono::milliseconds(2));
    core::FixedClock clock(1'790'000'000);
    ThreadSafeRandom random;
    queue::Spool spool(storage, clock, random);
    BOOST_REQUIRE(spool.recover().ok());
    Answers answers;
    std::atomic<int> committed_hook{0};
    os::GroupCommitter::Options options;
    options.on_committed = [&](const std::string&, const std::vector<core::Path>& to) {
        if (to.size() == 1) ++committed_hook;
    };
    os::GroupCommitter committer(spool, options);

    std::vector<std::thread> sessions;
    for (int t = 0; t < threads; ++t) {
        sessions.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                committer.submit(test::make_envelope("a@x.example", {"b@y.example"}),
                                 test::make_message(std::to_string(t) + "-" + std::to_string(i)), "",
                                 [&](os::GroupCommitter::Outcome o) { answers.add(std::move(o)); });
            }
        });
    }
    for (auto& s : sessions) s.join();
    BOOST_REQUIRE(answers.wait_for(threads * per_thread));
    committer.stop();

    std::set<std::string> ids;
    for (const auto& o : answers.outcomes) {
        BOOST_REQUIRE_MESSAGE(o.ok(), test::why(o));
        ids.insert(*o);
    }
    const auto stats = committer.stats();
    BOOST_TEST_MESSAGE(threads * per_thread << " messages, " << storage.barriers.load() << " barriers, largest batch "
                                            << stats.largest_batch);
    BOOST_TEST(ids.size() == std::size_t{threads * per_thread});
    BOOST_TEST(spool.size() == std::size_t{threads * per_thread});
    BOOST_TEST(committed_hook.load() == threads * per_thread);
    BOOST_TEST(stats.messages == std::uint64_t{threads * per_thread});
    BOOST_TEST(stats.batches == storage.barriers.load());
    BOOST_TEST(storage.barriers.load() < std::size_t{threads * per_thread});
    BOOST_TEST(stats.largest_batch > 1u);
}

BOOST_AUTO_TEST_CASE(stop_answers_everything_submitted_and_refuses_later_requests) {
    SlowStorage storage(std::chrono::microseconds(500));
    core::FixedClock clock(1'790'000'000);
    ThreadSafeRandom random;
    queue::Spool spool(storage, clock, random);
    BOOST_REQUIRE(spool.recover().ok());
    Answers answers;
    os::GroupCommitter committer(spool);
    for (int i = 0; i < 100; ++i) {
        committer.submit(test::make_envelope("a@x.example", {"b@y.example"}), test::make_message("m"), "",
                         [&](os::GroupCommitter::Outcome o) { answers.add(std::move(o)); });
    }
    committer.stop();
    BOOST_TEST(answers.outcomes.size() == 100u);
    for (const auto& o : answers.outcomes) BOOST_TEST(o.ok());

    committer.submit(test::make_envelope("a@x.example", {"b@y.example"}), test::make_message("late"), "",
                     [&](os::GroupCommitter::Outcome o) { answers.add(std::move(o)); });
    BOOST_REQUIRE(answers.outcomes.size() == 101u);
    BOOST_TEST(!answers.outcomes.back().ok());
    committer.stop();  // idempotent
}

BOOST_AUTO_TEST_CASE(a_full_disk_reaches_every_callback_as_a_reason) {
    SlowStorage storage(std::chrono::microseconds(0));
    core::FixedClock clock(1'790'000'000);
    ThreadSafeRandom random;
    queue::Spool spool(storage, clock, random);
    BOOST_REQUIRE(spool.recover().ok());
    storage.inner.fail_creates("No space left on device");
    Answers answers;
    {
        os::GroupCommitter committer(spool);
        for (int i = 0; i < 5; ++i) {
            committer.submit(test::make_envelope("a@x.example", {"b@y.example"}), test::make_message("m"), "",
                             [&](os::GroupCommitter::Outcome o) { answers.add(std::move(o)); });
        }
        // A throwing callback must not take the committer down.
        committer.submit(test::make_envelope("a@x.example", {"b@y.example"}), test::make_message("m"), "",
                         [](os::GroupCommitter::Outcome) { throw std::runtime_error("careless callback"); });
        committer.submit(test::make_envelope("a@x.example", {"b@y.example"}), test::make_message("m"), "",
                         [&](os::GroupCommitter::Outcome o) { answers.add(std::move(o)); });
    }  // the destructor stops and drains
    BOOST_REQUIRE(answers.outcomes.size() == 6u);
    for (const auto& o : answers.outcomes) {
        BOOST_REQUIRE(!o.ok());
        BOOST_TEST(o.error().message.find("No space left on device") != std::string::npos);
    }
    BOOST_TEST(storage.inner.files().empty());
    BOOST_TEST(spool.size() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
