// pigeon/os/random.hpp: the operating system's random source behind queue::RandomSource.
//
// Contract: next_u64() returns getrandom(2) bits (the kernel CSPRNG); if getrandom is not
// available it falls back to std::random_device. Thread-safe. Only adapters and the binary
// use it; the queue and protocol code take a RandomSource& (tests and sim/ pass seeded ones).
#pragma once
#include <mutex>
#include <random>

#include "queue/queue_id.hpp"

namespace pigeon::os {

class SystemRandom final : public queue::RandomSource {
public:
    std::uint64_t next_u64() override;

private:
    std::mutex mutex_;  // std::random_device is not safe to share between threads
    std::random_device fallback_;
};

}  // namespace pigeon::os
