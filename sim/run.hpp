// pigeon/sim/run.hpp: `pigeon sim run FILE [--seed N] [--explain] [--trace FILE] [--repeat N]`,
// and the expected-transcript check behind the ctests.
//
// Contract:
//   run_command       loads the scenario, runs it, prints the expectations, the digest and, when
//                     one failed, the line that reproduces the run (`pigeon sim run FILE --seed
//                     N`). --explain prints the annotated transcript first; --trace writes the
//                     plain trace to FILE ("-": standard output). Exit status: 0 every
//                     expectation met, 1 one failed, 2 the scenario could not be loaded or the
//                     trace not written.
//                     With repeat = N > 0 it runs the scenario N times (seeds S..S+N-1, S the
//                     --seed or the scenario's), prints nothing else and ends with one line
//                     `scenarios_per_second <float>` (for bench/); exit status 0, or 2 when the
//                     scenario could not be loaded.
//   check_transcript  runs a scenario and compares RunResult::transcript() with the expected
//                     file; with `regenerate` it writes the file instead. Returns "" when they
//                     match (and every expectation is met), else what differs.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>

namespace pigeon::sim {

// Seconds on a monotonic clock, for the throughput figures `run --repeat` and `swarm` print.
// It only times how fast the simulator runs and never enters a scenario; the CLI (src/app)
// passes the system's steady clock, so nothing in sim/ reads a clock itself. Empty: the
// figures are printed as 0.
using Stopwatch = std::function<double()>;

struct CommandArgs {
    std::string file;
    std::optional<std::uint64_t> seed;
    bool explain = false;
    std::string trace_file;
    std::uint64_t repeat = 0;  // > 0: run seeds S..S+repeat-1 quietly, print scenarios_per_second
    Stopwatch stopwatch;       // times --repeat
};

int run_command(const CommandArgs& args, std::ostream& out, std::ostream& err);

struct RunResult;
// --trace: the plain trace to standard output ("-"), or the transcript to the file `path`.
// false (and a message on err) when the file cannot be written.
bool write_trace(const RunResult& r, const std::string& path, std::ostream& out, std::ostream& err);

std::string check_transcript(const std::string& scenario_file, const std::string& expected_file,
                             bool regenerate);

}  // namespace pigeon::sim
