// Tests for policy/auth_throttle.hpp: AUTH failures per client over a sliding minute, in bounded
// memory.
#include "policy/auth_throttle.hpp"

#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include <string>

using pigeon::policy::AuthFailureThrottle;

BOOST_AUTO_TEST_SUITE(auth_throttle)

BOOST_AUTO_TEST_CASE(limit_failures_within_a_minute_throttle_until_the_oldest_expires) {
    AuthFailureThrottle t(3);
    t.record_failure("192.0.2.1", 1000);
    t.record_failure("192.0.2.1", 1010);
    BOOST_TEST(!t.throttled("192.0.2.1", 1020));
    t.record_failure("192.0.2.1", 1020);
    BOOST_TEST(t.throttled("192.0.2.1", 1020));
    BOOST_TEST(t.throttled("192.0.2.1", 1059));
    BOOST_TEST(!t.throttled("192.0.2.1", 1060));  // the failure at 1000 has left the window
    BOOST_TEST(!t.throttled("192.0.2.2", 1020));  // another client is not affected
}

BOOST_AUTO_TEST_CASE(limit_zero_never_throttles_and_keeps_nothing) {
    AuthFailureThrottle t(0);
    for (int i = 0; i < 10; ++i) t.record_failure("192.0.2.1", 1000);
    BOOST_TEST(!t.throttled("192.0.2.1", 1000));
    BOOST_TEST(t.tracked_keys() == 0u);
}

BOOST_AUTO_TEST_CASE(a_client_that_comes_back_after_a_minute_is_forgotten) {
    AuthFailureThrottle t(2);
    t.record_failure("192.0.2.1", 1000);
    BOOST_TEST(t.tracked_keys() == 1u);
    BOOST_TEST(!t.throttled("192.0.2.1", 1061));
    BOOST_TEST(t.tracked_keys() == 0u);
}

// The leak this replaces: one entry per address that ever failed, never removed.
BOOST_AUTO_TEST_CASE(stale_clients_are_swept_as_the_table_grows) {
    AuthFailureThrottle t(5);
    std::int64_t now = 1000;
    for (int i = 0; i < 100000; ++i) {
        if (i % 1000 == 0) now += 61;  // a thousand new clients per minute, each failing once
        t.record_failure("10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) +
                             "." + std::to_string(i % 256),
                         now);
    }
    // Only the last minute's clients, plus what has not been swept yet (< 2x the survivors
    // or the first sweep threshold).
    BOOST_TEST(t.tracked_keys() <= 2 * AuthFailureThrottle::min_sweep_keys);
}

BOOST_AUTO_TEST_CASE(the_table_never_exceeds_max_keys_and_known_clients_stay_throttled) {
    AuthFailureThrottle t(2, 100);
    t.record_failure("192.0.2.1", 1000);
    t.record_failure("192.0.2.1", 1000);
    for (int i = 0; i < 1000; ++i) t.record_failure("10.0." + std::to_string(i / 256) + "." +
                                                        std::to_string(i % 256), 1001);
    BOOST_TEST(t.tracked_keys() <= 100u);
    BOOST_TEST(t.throttled("192.0.2.1", 1001));  // recorded before the table filled
    // A minute later the sweep makes room again.
    t.record_failure("198.51.100.1", 1062);
    t.record_failure("198.51.100.1", 1062);
    BOOST_TEST(t.throttled("198.51.100.1", 1062));
    BOOST_TEST(t.tracked_keys() == 1u);
}

// Whatever the order of failures and checks, throttled() agrees with a count over the last
// minute (capped at the limit), and a key never holds more than `limit` times.
RC_BOOST_PROP(throttled_matches_a_count_of_the_last_minute, ()) {
    const auto limit = *rc::gen::inRange<std::uint32_t>(1, 6);
    const auto steps = *rc::gen::container<std::vector<std::pair<bool, int>>>(
        rc::gen::pair(rc::gen::arbitrary<bool>(), rc::gen::inRange(0, 40)));
    AuthFailureThrottle t(limit);
    std::vector<std::int64_t> model;
    std::int64_t now = 1000;
    for (const auto& [fail, advance] : steps) {
        now += advance;
        if (fail) {
            t.record_failure("k", now);
            model.push_back(now);
        } else {
            std::size_t recent = 0;
            for (auto time : model) recent += time > now - 60 ? 1 : 0;
            RC_ASSERT(t.throttled("k", now) == (recent >= limit));
        }
    }
    RC_ASSERT(t.tracked_keys() <= 1u);
}

BOOST_AUTO_TEST_SUITE_END()
