// pigeon/queue/retry.hpp: the retry schedule of deferred recipients, and when to give up or
// warn the sender (docs/queue.md has the schedule and the reasons for its defaults).
//
// Contract: pure functions of their arguments. No clock, no random source: the caller passes
// `now` and a value it drew from the injected RandomSource.
//   next_attempt_at    after `attempts` failed attempts (>= 1; 0 is treated as 1), the time of
//                      the next one: first_retry_seconds doubled per further attempt, capped at
//                      max_retry_interval_seconds, then +-10% jitter drawn from `random`.
//                      Always > now (at least 1 s later), never more than max + 10% later, and
//                      for one `random` value non-decreasing in `attempts`. Saturates instead
//                      of overflowing.
//   expired            true once give_up_after_seconds have passed since arrival: the
//                      recipient fails with a DSN instead of another attempt.
//   delay_warning_due  true when a "delayed" DSN should go out for this recipient now: it is
//                      pending, none was sent yet (delay_notified), delay_warning_after_seconds
//                      (> 0) have passed since arrival, and it has not expired (then the
//                      "failed" DSN says it all).
//   will_retry_until   arrival + give_up_after_seconds (the DSN's Will-Retry-Until).
// RFC 5321 4.5.4.1: the retry interval SHOULD be at least 30 minutes and the give-up time
// generally at least 4-5 days. The default starts at 5 minutes (greylisting and short outages
// clear quickly) and doubles: 5, 10, 20, 40, 80 minutes, then every 2 hours, so from the
// fourth retry on every interval is at least 30 minutes and over the 5 days the average is
// close to 2 hours.
#pragma once
#include <cstdint>

#include "queue/record.hpp"

namespace pigeon::queue {

struct RetryPolicy {
    std::int64_t first_retry_seconds = 300;             // after the first failed attempt
    std::int64_t max_retry_interval_seconds = 2 * 3600; // the cap of the doubling
    std::int64_t give_up_after_seconds = 5 * 24 * 3600; // since arrival
    std::int64_t delay_warning_after_seconds = 4 * 3600;  // 0: never send a delay DSN
};

// The interval without jitter after `attempts` failed attempts (>= 1 s).
std::int64_t retry_interval(const RetryPolicy& policy, std::uint32_t attempts);

std::int64_t next_attempt_at(const RetryPolicy& policy, std::uint32_t attempts,
                             std::int64_t now_unix, std::uint64_t random);

bool expired(const RetryPolicy& policy, std::int64_t arrival_unix, std::int64_t now_unix);

bool delay_warning_due(const RetryPolicy& policy, std::int64_t arrival_unix,
                       std::int64_t now_unix, const RecipientStatus& status);

std::int64_t will_retry_until(const RetryPolicy& policy, std::int64_t arrival_unix);

}  // namespace pigeon::queue
