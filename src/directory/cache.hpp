// pigeon/directory/cache.hpp: the directory's answers kept for a short time, bounded in
// entries: found and not-found answers alike (a flood of RCPTs to unknown users must not each
// reach the database), never an unavailable one (a backend that is down must not make its
// users unknown for the cache time).
//
// Contract:
//   - get(key) returns the answer stored less than `ttl_seconds` ago (by the injected clock),
//     else nullopt; put() stores found/not-found answers and ignores unavailable ones.
//   - At most `max_entries` keys: putting one more evicts the least recently stored or used.
//     ttl_seconds == 0 or max_entries == 0 turns the cache off.
//   - Thread-safe (one mutex); no I/O.
#pragma once
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/clock.hpp"
#include "policy/user_directory.hpp"

namespace pigeon::directory {

template <class T>
class AnswerCache {
public:
    AnswerCache(const core::Clock& clock, std::uint32_t ttl_seconds, std::size_t max_entries)
        : clock_(clock), ttl_(ttl_seconds), max_(max_entries) {}

    std::optional<policy::Lookup<T>> get(const std::string& key) {
        std::lock_guard lock(mutex_);
        auto it = map_.find(key);
        if (it == map_.end()) return std::nullopt;
        if (clock_.now_unix_seconds() >= it->second.expires) {
            order_.erase(it->second.position);
            map_.erase(it);
            return std::nullopt;
        }
        order_.splice(order_.end(), order_, it->second.position);  // recently used
        return it->second.answer;
    }

    void put(const std::string& key, const policy::Lookup<T>& answer) {
        if (answer.status == policy::Found::unavailable || ttl_ == 0 || max_ == 0) return;
        std::lock_guard lock(mutex_);
        const std::int64_t expires = clock_.now_unix_seconds() + ttl_;
        if (auto it = map_.find(key); it != map_.end()) {
            it->second.answer = answer;
            it->second.expires = expires;
            order_.splice(order_.end(), order_, it->second.position);
            return;
        }
        while (map_.size() >= max_) {
            map_.erase(order_.front());
            order_.pop_front();
        }
        order_.push_back(key);
        map_.emplace(key, Entry{answer, expires, std::prev(order_.end())});
    }

    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return map_.size();
    }

private:
    struct Entry {
        policy::Lookup<T> answer;
        std::int64_t expires;
        std::list<std::string>::iterator position;
    };
    const core::Clock& clock_;
    const std::int64_t ttl_;
    const std::size_t max_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Entry> map_;
    std::list<std::string> order_;  // least recently used first
};

}  // namespace pigeon::directory
