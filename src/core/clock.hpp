// pigeon/core/clock.hpp: the injected wall clock. Protocol code never reads a clock itself;
// the binary passes SystemClock (src/net), the simulator its virtual clock.
#pragma once
#include <cstdint>
#include <string>

namespace pigeon::core {

class Clock {
public:
    virtual ~Clock() = default;
    virtual std::int64_t now_unix_seconds() const = 0;
};

// A clock that always says the same time: tests and transcripts.
class FixedClock final : public Clock {
public:
    explicit FixedClock(std::int64_t t) : t_(t) {}
    std::int64_t now_unix_seconds() const override { return t_; }
    void set(std::int64_t t) { t_ = t; }

private:
    std::int64_t t_;
};

// RFC 5322 3.3 date-time in UTC, e.g. "Sun, 22 Nov 2026 04:50:59 +0000".
std::string format_rfc5322_date(std::int64_t unix_seconds);

}  // namespace pigeon::core
