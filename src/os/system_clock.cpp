// pigeon/os/system_clock.cpp: std::chrono::system_clock as unix seconds.
#include "os/system_clock.hpp"

#include <chrono>

namespace pigeon::os {

std::int64_t SystemClock::now_unix_seconds() const {
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
}

}  // namespace pigeon::os
