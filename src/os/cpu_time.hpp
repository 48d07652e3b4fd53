// pigeon/os/cpu_time.hpp: CPU time consumed by the calling thread (CLOCK_THREAD_CPUTIME_ID),
// for budgets on work that runs on a pool thread (DKIM verification). Only the server's
// adapters read it; protocol code gets a budget predicate injected instead.
#pragma once
#include <cstdint>

namespace pigeon::os {

std::int64_t thread_cpu_nanoseconds();

}  // namespace pigeon::os
