#include "os/cpu_time.hpp"

#include <ctime>

namespace pigeon::os {

std::int64_t thread_cpu_nanoseconds() {
    timespec ts{};
    if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace pigeon::os
