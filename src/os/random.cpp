// pigeon/os/random.cpp: getrandom(2), with std::random_device as the fallback.
#include "os/random.hpp"

#include <sys/random.h>

#include <cerrno>

namespace pigeon::os {

std::uint64_t SystemRandom::next_u64() {
    std::uint64_t value = 0;
    for (;;) {
        const ssize_t n = ::getrandom(&value, sizeof value, 0);
        if (n == static_cast<ssize_t>(sizeof value)) {
            return value;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        break;  // ENOSYS (old kernel, seccomp) or a short read: use the fallback
    }
    std::lock_guard lock(mutex_);
    return (std::uint64_t{fallback_()} << 32) ^ fallback_();
}

}  // namespace pigeon::os
