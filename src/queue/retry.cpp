// pigeon/queue/retry.cpp: exponential backoff with bounded jitter, give-up and delay warnings.
#include "queue/retry.hpp"

#include <algorithm>
#include <limits>

namespace pigeon::queue {
namespace {

constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

// a + b for b >= 0, saturating at the top instead of overflowing.
std::int64_t plus(std::int64_t a, std::int64_t b) {
    if (b > 0 && a > int64_max - b) {
        return int64_max;
    }
    return a + b;
}

}  // namespace

std::int64_t retry_interval(const RetryPolicy& policy, std::uint32_t attempts) {
    const std::int64_t first = std::max<std::int64_t>(1, policy.first_retry_seconds);
    const std::int64_t cap = std::max(first, policy.max_retry_interval_seconds);
    std::int64_t interval = first;
    for (std::uint32_t i = 1; i < attempts && interval < cap; ++i) {
        interval = interval > cap / 2 ? cap : interval * 2;
    }
    return std::min(interval, cap);
}

std::int64_t next_attempt_at(const RetryPolicy& policy, std::uint32_t attempts,
                             std::int64_t now_unix, std::uint64_t random) {
    const std::int64_t base = retry_interval(policy, attempts);
    // Jitter in [-base/10, +base/10]: offset = floor(u * (2j + 1)) - j with u = random / 2^64
    // in [0, 1). For a fixed u it never decreases when base grows, so the schedule stays
    // monotone in attempts; spreading retries keeps a queue that filled during an outage
    // from hitting the recovered peer all in the same second.
    const std::int64_t j = base / 10;
    const auto width = static_cast<unsigned __int128>(2 * j + 1);
    const auto pick = static_cast<std::int64_t>((static_cast<unsigned __int128>(random) * width) >> 64);
    const std::int64_t interval = std::max<std::int64_t>(1, plus(base - j, pick));
    return plus(now_unix, interval);
}

bool expired(const RetryPolicy& policy, std::int64_t arrival_unix, std::int64_t now_unix) {
    return now_unix >= will_retry_until(policy, arrival_unix);
}

bool delay_warning_due(const RetryPolicy& policy, std::int64_t arrival_unix,
                       std::int64_t now_unix, const RecipientStatus& status) {
    return policy.delay_warning_after_seconds > 0 && status.state == RecipientState::pending &&
           !status.delay_notified &&
           now_unix >= plus(arrival_unix, policy.delay_warning_after_seconds) &&
           !expired(policy, arrival_unix, now_unix);
}

std::int64_t will_retry_until(const RetryPolicy& policy, std::int64_t arrival_unix) {
    return plus(arrival_unix, std::max<std::int64_t>(0, policy.give_up_after_seconds));
}

}  // namespace pigeon::queue
