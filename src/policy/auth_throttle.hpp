// pigeon/policy/auth_throttle.hpp: failed AUTH attempts per client over a sliding minute, the
// state behind auth_failures_per_ip_per_minute (AppServices refuses AUTH with 454 4.7.0 while a
// client is throttled).
//
// Contract:
//   - Clients are keys from net::client_key (an IPv4 address, an IPv6 /N network): a client
//     with many IPv6 addresses is one client here, as it is for max_connections_per_ip.
//   - throttled(key, now) is true while the key has `limit` or more failures in the minute
//     before now (a failure at t counts until t + 60 s). limit 0 turns throttling off.
//   - record_failure(key, now) remembers one failure. A key keeps at most `limit` times: older
//     ones can no longer change the answer.
//   - Bounded memory: a sweep drops every key whose newest failure is a minute old whenever
//     the table reaches sweep_at; the next sweep is due at twice the survivors (at least
//     min_sweep_keys), so sweeping costs O(1) amortized per failure. At most max_keys keys are
//     held: a new key that finds the table full after a sweep is not recorded (that client is
//     not throttled until room frees up, within a minute) - the bound wins over the throttle,
//     so an attacker with more addresses than max_keys cannot grow the server.
//   - Time comes from the caller (unix seconds from its injected clock). Thread-safe.
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace pigeon::policy {

class AuthFailureThrottle {
public:
    static constexpr std::int64_t window_seconds = 60;
    static constexpr std::size_t min_sweep_keys = 1024;
    static constexpr std::size_t default_max_keys = 65536;  // about 10 MB at the default limit

    explicit AuthFailureThrottle(std::uint32_t limit, std::size_t max_keys = default_max_keys);

    bool throttled(const std::string& key, std::int64_t now);
    void record_failure(const std::string& key, std::int64_t now);
    std::size_t tracked_keys() const;  // for tests and metrics

private:
    void sweep(std::int64_t now);  // with mutex_ held

    const std::uint32_t limit_;
    const std::size_t max_keys_;
    mutable std::mutex mutex_;  // guards what follows
    std::unordered_map<std::string, std::vector<std::int64_t>> failures_;  // key -> times, oldest first
    std::size_t sweep_at_ = min_sweep_keys;
};

}  // namespace pigeon::policy
