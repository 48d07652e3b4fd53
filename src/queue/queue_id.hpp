// pigeon/queue/queue_id.hpp: queue ids ("queued as <id>") and the injected random source.
//
// Contract: an id is queue_id_length (16) characters of the Crockford base32 alphabet
// 0-9 A-Z without I L O U, whose ASCII order is numeric order:
//   8 chars  arrival time, unix seconds (40 bits: good until the year 36812)
//   4 chars  a counter that restarts each second (20 bits: 1,048,576 ids per second)
//   4 chars  random bits (20 bits), so ids from two runs in one second still differ
// Ids therefore sort by arrival time, and by order of issue within one generator.
// The generator never reads a clock or a random source itself: both are passed in.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace pigeon::queue {

// The injected random source: the OS one in production (src/os/random.hpp), a seeded one in
// tests and the simulator.
class RandomSource {
public:
    virtual ~RandomSource() = default;
    virtual std::uint64_t next_u64() = 0;
};

inline constexpr std::size_t queue_id_length = 16;  // characters

bool is_valid_queue_id(std::string_view id);

// The unix time encoded in an id's first 8 characters; -1 for an invalid id.
std::int64_t queue_id_time(std::string_view id);

class QueueIdGenerator {
public:
    // Not thread-safe: the spool calls it under its own lock.
    std::string next(std::int64_t now_unix_seconds, RandomSource& random);

private:
    std::int64_t second_ = -1;
    std::uint32_t counter_ = 0;
};

}  // namespace pigeon::queue
