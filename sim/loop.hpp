// pigeon/sim/loop.hpp: the event loop, the virtual clock, and the seeded random source Botan draws
// from.
// Part of the simulator's run (sim/simulator.cpp includes it); not for other users.
#pragma once
#include <botan/rng.h>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "sim/random.hpp"

namespace pigeon::sim::detail {

using Fn = std::function<void()>;

// "   12.345" for 12345 ms: fixed width, integer arithmetic only.
inline std::string stamp_ms(std::int64_t ms) {
    char b[32];
    std::snprintf(b, sizeof b, "%7lld.%03lld", static_cast<long long>(ms / 1000),
                  static_cast<long long>(ms % 1000));
    return b;
}

class Loop {
public:
    std::int64_t now_ms = 0;

    std::uint64_t at(std::int64_t when_ms, Fn fn) {
        const std::uint64_t id = next_++;
        const auto key = std::make_pair(std::max(when_ms, now_ms), id);
        events_.emplace(key, std::move(fn));
        keys_.emplace(id, key.first);
        return id;
    }
    void cancel(std::uint64_t id) {
        auto k = keys_.find(id);
        if (k == keys_.end()) return;
        events_.erase({k->second, id});
        keys_.erase(k);
    }
    // Runs the next event if it is due no later than until_ms; false when there is none.
    bool step(std::int64_t until_ms) {
        if (events_.empty()) return false;
        auto it = events_.begin();
        if (it->first.first > until_ms) return false;
        now_ms = it->first.first;
        Fn fn = std::move(it->second);
        keys_.erase(it->first.second);
        events_.erase(it);
        fn();
        return true;
    }

private:
    std::map<std::pair<std::int64_t, std::uint64_t>, Fn> events_;  // (time, order) -> work
    std::map<std::uint64_t, std::int64_t> keys_;
    std::uint64_t next_ = 1;
};

class SimClock final : public core::Clock {
public:
    SimClock(const Loop& loop, std::int64_t start) : loop_(loop), start_(start) {}
    std::int64_t now_unix_seconds() const override { return start_ + loop_.now_ms / 1000; }

private:
    const Loop& loop_;
    std::int64_t start_;
};

// Botan's RNG interface over the simulator's generator (DKIM signing, key loading).
class BotanRng final : public Botan::RandomNumberGenerator {
public:
    explicit BotanRng(Rng& rng) : rng_(rng) {}
    void randomize(std::uint8_t out[], std::size_t n) override {
        for (std::size_t i = 0; i < n; i += 8) {
            std::uint64_t x = rng_.next_u64();
            for (std::size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<std::uint8_t>(x >> (8 * j));
        }
    }
    bool accepts_input() const override { return false; }
    void add_entropy(const std::uint8_t[], std::size_t) override {}
    std::string name() const override { return "pigeon-sim"; }
    void clear() override {}
    bool is_seeded() const override { return true; }

private:
    Rng& rng_;
};

}  // namespace pigeon::sim::detail
