// pigeon/sim/run.hpp: `pigeon sim run FILE [--seed N] [--explain] [--trace FILE]`, and the
// expected-transcript check behind the ctests.
//
// Contract:
//   run_command       loads the scenario, runs it, prints the expectations, the digest and, when
//                     one failed, the line that reproduces the run (`pigeon sim run FILE --seed
//                     N`). --explain prints the annotated transcript first; --trace writes the
//                     plain trace to FILE ("-": standard output). Exit status: 0 every
//                     expectation met, 1 one failed, 2 the scenario could not be loaded or the
//                     trace not written.
//   check_transcript  runs a scenario and compares RunResult::transcript() with the expected
//                     file; with `regenerate` it writes the file instead. Returns "" when they
//                     match (and every expectation is met), else what differs.
#pragma once
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

namespace pigeon::sim {

struct CommandArgs {
    std::string file;
    std::optional<std::uint64_t> seed;
    bool explain = false;
    std::string trace_file;
};

int run_command(const CommandArgs& args, std::ostream& out, std::ostream& err);

std::string check_transcript(const std::string& scenario_file, const std::string& expected_file,
                             bool regenerate);

}  // namespace pigeon::sim
