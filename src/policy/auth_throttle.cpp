#include "policy/auth_throttle.hpp"

#include <algorithm>

namespace pigeon::policy {

AuthFailureThrottle::AuthFailureThrottle(std::uint32_t limit, std::size_t max_keys)
    : limit_(limit), max_keys_(std::max<std::size_t>(max_keys, 1)) {}

bool AuthFailureThrottle::throttled(const std::string& key, std::int64_t now) {
    if (limit_ == 0) return false;
    std::lock_guard lock(mutex_);
    auto it = failures_.find(key);
    if (it == failures_.end()) return false;
    auto& times = it->second;
    times.erase(times.begin(), std::find_if(times.begin(), times.end(), [&](std::int64_t t) {
                    return t > now - window_seconds;
                }));
    if (times.empty()) {
        failures_.erase(it);
        return false;
    }
    return times.size() >= limit_;
}

void AuthFailureThrottle::record_failure(const std::string& key, std::int64_t now) {
    if (limit_ == 0) return;
    std::lock_guard lock(mutex_);
    auto it = failures_.find(key);
    if (it == failures_.end()) {
        if (failures_.size() >= sweep_at_ || failures_.size() >= max_keys_) sweep(now);
        if (failures_.size() >= max_keys_) return;
        it = failures_.emplace(key, std::vector<std::int64_t>{}).first;
    }
    auto& times = it->second;
    times.push_back(now);
    // Concurrent attempts may all pass throttled() before any failure is recorded; only the
    // newest `limit` times can still decide anything.
    if (times.size() > limit_) times.erase(times.begin(), times.end() - limit_);
}

std::size_t AuthFailureThrottle::tracked_keys() const {
    std::lock_guard lock(mutex_);
    return failures_.size();
}

void AuthFailureThrottle::sweep(std::int64_t now) {
    std::erase_if(failures_, [&](const auto& entry) {
        return entry.second.empty() || entry.second.back() <= now - window_seconds;
    });
    sweep_at_ = std::max(min_sweep_keys, 2 * failures_.size());
}

}  // namespace pigeon::policy
