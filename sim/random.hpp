// pigeon/sim/random.hpp: the simulator's one source of randomness - a seeded std::mt19937_64
// with our own distribution code.
//
// Contract: the same seed gives the same sequence of values on every compiler and standard
// library. std::mt19937_64's output is fixed by the C++ standard; the std::*_distribution
// classes are not (libstdc++ and libc++ differ), so none is used: below() uses rejection
// sampling over whole 64-bit draws, unit() takes the top 53 bits. Each use of the generator
// is one or more whole next_u64() calls, so reordering nothing reorders nothing.
#pragma once
#include <cstdint>
#include <random>

#include "queue/queue_id.hpp"

namespace pigeon::sim {

class Rng final : public queue::RandomSource {
public:
    explicit Rng(std::uint64_t seed) : engine_(seed) {}

    std::uint64_t next_u64() override { return engine_(); }

    // Uniform in [0, n); 0 when n == 0. Rejection sampling: no modulo bias.
    std::uint64_t below(std::uint64_t n) {
        if (n == 0) return 0;
        const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // a multiple of n
        std::uint64_t x;
        do x = engine_();
        while (x >= limit);
        return x % n;
    }
    // Uniform in [lo, hi] (inclusive); lo when hi <= lo.
    std::int64_t between(std::int64_t lo, std::int64_t hi) {
        if (hi <= lo) return lo;
        return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
    }
    // Uniform in [0, 1), 53 bits.
    double unit() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
    // True with probability p (p <= 0: never, and no draw; p >= 1: always, and no draw).
    bool chance(double p) {
        if (p <= 0) return false;
        if (p >= 1) return true;
        return unit() < p;
    }

private:
    std::mt19937_64 engine_;
};

}  // namespace pigeon::sim
