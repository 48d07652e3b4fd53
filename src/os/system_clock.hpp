// pigeon/os/system_clock.hpp: the real wall clock behind core::Clock.
//
// Contract: now_unix_seconds() reads std::chrono::system_clock. Only the binary and its
// adapters use it; protocol and queue code take a core::Clock& and never read time directly.
#pragma once
#include "core/clock.hpp"

namespace pigeon::os {

class SystemClock final : public core::Clock {
public:
    std::int64_t now_unix_seconds() const override;
};

}  // namespace pigeon::os
