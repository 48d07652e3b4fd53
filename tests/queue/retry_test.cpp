// Tests for queue/retry.hpp: the default schedule, its laws (monotone, bounded, never before
// now) as properties, give-up and delay-warning decisions.
#include "queue/retry.hpp"

#include <rapidcheck/boost_test.h>

#include <limits>
#include <vector>

using namespace pigeon;
using queue::RecipientState;
using queue::RecipientStatus;
using queue::RetryPolicy;

namespace {

constexpr std::int64_t t0 = 1'790'000'000;

rc::Gen<RetryPolicy> gen_policy() {
    return rc::gen::exec([] {
        RetryPolicy p;
        p.first_retry_seconds = *rc::gen::inRange<std::int64_t>(-5, 100'000);
        p.max_retry_interval_seconds = *rc::gen::inRange<std::int64_t>(-5, 10'000'000);
        p.give_up_after_seconds = *rc::gen::inRange<std::int64_t>(0, 30 * 86400);
        p.delay_warning_after_seconds = *rc::gen::inRange<std::int64_t>(0, 10 * 86400);
        return p;
    });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(retry)

BOOST_AUTO_TEST_CASE(default_schedule_starts_at_five_minutes_and_doubles_to_two_hours) {
    const RetryPolicy p;
    const std::vector<std::int64_t> expected = {300, 600, 1200, 2400, 4800, 7200, 7200, 7200};
    for (std::size_t i = 0; i < expected.size(); ++i) {
        BOOST_TEST(queue::retry_interval(p, static_cast<std::uint32_t>(i + 1)) == expected[i]);
    }
    BOOST_TEST(queue::retry_interval(p, 0) == 300);  // treated as the first failure
    BOOST_TEST(queue::retry_interval(p, std::numeric_limits<std::uint32_t>::max()) == 7200);
    // RFC 5321 4.5.4.1: at least 30 minutes from the fourth retry on.
    for (std::uint32_t a = 4; a < 100; ++a) BOOST_TEST(queue::retry_interval(p, a) >= 1800);
    // And the give-up time is at least 4-5 days.
    BOOST_TEST(p.give_up_after_seconds >= 4 * 86400);
}

BOOST_AUTO_TEST_CASE(jitter_is_ten_percent_either_way) {
    const RetryPolicy p;
    // random = 0 picks the low end, the top value the high end, the middle no jitter at all.
    BOOST_TEST(queue::next_attempt_at(p, 1, t0, 0) == t0 + 270);
    BOOST_TEST(queue::next_attempt_at(p, 1, t0, std::numeric_limits<std::uint64_t>::max()) == t0 + 330);
    BOOST_TEST(queue::next_attempt_at(p, 1, t0, std::uint64_t{1} << 63) == t0 + 300);
    BOOST_TEST(queue::next_attempt_at(p, 9, t0, 0) == t0 + 6480);
    BOOST_TEST(queue::next_attempt_at(p, 9, t0, std::numeric_limits<std::uint64_t>::max()) == t0 + 7920);
}

RC_BOOST_PROP(next_attempt_is_after_now_and_within_the_cap, ()) {
    const RetryPolicy p = *gen_policy();
    const auto attempts = *rc::gen::arbitrary<std::uint32_t>();
    const auto now = *rc::gen::inRange<std::int64_t>(-1'000'000'000, 4'000'000'000);
    const auto random = *rc::gen::arbitrary<std::uint64_t>();
    const std::int64_t at = queue::next_attempt_at(p, attempts, now, random);
    RC_ASSERT(at > now);
    const std::int64_t cap = std::max<std::int64_t>({1, p.first_retry_seconds, p.max_retry_interval_seconds});
    RC_ASSERT(at - now <= cap + cap / 10);
    const std::int64_t base = queue::retry_interval(p, attempts);
    RC_ASSERT(at - now >= std::max<std::int64_t>(1, base - base / 10));
    RC_ASSERT(at - now <= base + base / 10);
}

RC_BOOST_PROP(the_schedule_never_shrinks_as_attempts_grow, ()) {
    const RetryPolicy p = *gen_policy();
    const auto now = *rc::gen::inRange<std::int64_t>(0, 4'000'000'000);
    const auto random = *rc::gen::arbitrary<std::uint64_t>();
    const auto a = *rc::gen::inRange<std::uint32_t>(0, 200);
    // Without jitter, and also with one fixed random value.
    RC_ASSERT(queue::retry_interval(p, a) <= queue::retry_interval(p, a + 1));
    RC_ASSERT(queue::next_attempt_at(p, a, now, random) <= queue::next_attempt_at(p, a + 1, now, random));
}

BOOST_AUTO_TEST_CASE(no_overflow_at_the_edges) {
    RetryPolicy p;
    p.max_retry_interval_seconds = std::numeric_limits<std::int64_t>::max();
    p.first_retry_seconds = std::numeric_limits<std::int64_t>::max() / 3;
    const auto big = std::numeric_limits<std::int64_t>::max();
    BOOST_TEST(queue::next_attempt_at(p, 1000, big - 10, ~std::uint64_t{0}) == big);
    BOOST_TEST(queue::retry_interval(p, 1000) == big);
    p.give_up_after_seconds = big;
    BOOST_TEST(!queue::expired(p, t0, big - 1));
}

BOOST_AUTO_TEST_CASE(expiry_after_the_give_up_time) {
    const RetryPolicy p;
    BOOST_TEST(!queue::expired(p, t0, t0));
    BOOST_TEST(!queue::expired(p, t0, t0 + 5 * 86400 - 1));
    BOOST_TEST(queue::expired(p, t0, t0 + 5 * 86400));
    BOOST_TEST(queue::will_retry_until(p, t0) == t0 + 5 * 86400);
}

BOOST_AUTO_TEST_CASE(delay_warning_once_after_four_hours_while_pending) {
    const RetryPolicy p;
    RecipientStatus s;  // pending, never notified
    BOOST_TEST(!queue::delay_warning_due(p, t0, t0 + 4 * 3600 - 1, s));
    BOOST_TEST(queue::delay_warning_due(p, t0, t0 + 4 * 3600, s));
    BOOST_TEST(queue::delay_warning_due(p, t0, t0 + 3 * 86400, s));
    // Expired: the failure DSN says it all.
    BOOST_TEST(!queue::delay_warning_due(p, t0, t0 + 5 * 86400, s));
    s.delay_notified = true;
    BOOST_TEST(!queue::delay_warning_due(p, t0, t0 + 86400, s));
    s.delay_notified = false;
    s.state = RecipientState::failed;
    BOOST_TEST(!queue::delay_warning_due(p, t0, t0 + 86400, s));
    s.state = RecipientState::delivered;
    BOOST_TEST(!queue::delay_warning_due(p, t0, t0 + 86400, s));
    RetryPolicy never = p;
    never.delay_warning_after_seconds = 0;
    BOOST_TEST(!queue::delay_warning_due(never, t0, t0 + 86400, RecipientStatus{}));
}

BOOST_AUTO_TEST_SUITE_END()
