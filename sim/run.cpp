// pigeon/sim/run.cpp: the `pigeon sim run` command and the transcript check.
#include "sim/run.hpp"

#include "core/assert.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "sim/scenario.hpp"
#include "sim/simulator.hpp"

namespace pigeon::sim {

bool write_trace(const RunResult& r, const std::string& path, std::ostream& out, std::ostream& err) {
    if (path == "-") {
        out << r.trace;
        return true;
    }
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << r.transcript();
    if (!f) {
        err << path << ": cannot write the trace\n";
        return false;
    }
    return true;
}

int run_command(const CommandArgs& args, std::ostream& out, std::ostream& err) {
    core::enable_costly_assertions();  // the simulator checks every invariant, in every build
    auto scenario = load_scenario(args.file);
    if (!scenario.ok()) {
        err << scenario.error().message << "\n";
        return 2;
    }
    if (args.repeat > 0) {
        const std::uint64_t first = args.seed.value_or(scenario->seed);
        const double t0 = args.stopwatch ? args.stopwatch() : 0.0;
        for (std::uint64_t i = 0; i < args.repeat; ++i) {
            RunOptions options;
            options.seed = first + i;
            (void)run_scenario(*scenario, options);
        }
        const double seconds = args.stopwatch ? args.stopwatch() - t0 : 0.0;
        char line[64];
        std::snprintf(line, sizeof line, "scenarios_per_second %.3f\n",
                      seconds > 0 ? static_cast<double>(args.repeat) / seconds : 0.0);
        out << line;
        return 0;
    }
    RunOptions options;
    options.seed = args.seed;
    options.explain = args.explain;
    const RunResult r = run_scenario(*scenario, options);
    if (args.explain) out << r.explain << "\n";
    if (!args.trace_file.empty()) {
        if (!write_trace(r, args.trace_file, out, err)) return 2;
    }
    out << "scenario " << scenario->name << " (seed " << r.seed << "): " << r.passed.size()
        << " expectation(s) met, " << r.failures.size() << " failed\n";
    for (const auto& p : r.passed) out << "ok    " << p << "\n";
    for (const auto& f : r.failures) out << "FAIL  " << f << "\n";
    out << "digest " << r.digest << "\n";
    if (!r.ok()) out << "reproduce: pigeon sim run " << args.file << " --seed " << r.seed << "\n";
    return r.ok() ? 0 : 1;
}

std::string check_transcript(const std::string& scenario_file, const std::string& expected_file,
                             bool regenerate) {
    auto scenario = load_scenario(scenario_file);
    if (!scenario.ok()) return scenario.error().message;
    const RunResult r = run_scenario(*scenario);
    const std::string got = r.transcript();
    std::string problems;
    for (const auto& f : r.failures) problems += "  FAIL " + f + "\n";
    if (regenerate) {
        std::ofstream f(expected_file, std::ios::binary | std::ios::trunc);
        f << got;
        if (!f) return expected_file + ": cannot write";
        return problems.empty() ? "" : scenario_file + ": expectations failed:\n" + problems;
    }
    std::ifstream in(expected_file, std::ios::binary);
    if (!in) return expected_file + ": missing (set PIGEON_SIM_REGENERATE=1 to write it)";
    std::ostringstream want;
    want << in.rdbuf();
    if (want.str() != got) {
        // The first line that differs.
        std::istringstream a(want.str()), b(got);
        std::string la, lb;
        std::size_t n = 0;
        while (true) {
            ++n;
            const bool ea = !std::getline(a, la), eb = !std::getline(b, lb);
            if (ea && eb) break;
            if (ea || eb || la != lb) {
                problems += "  " + expected_file + ":" + std::to_string(n) + ": differs\n    expected: " +
                            (ea ? "(end of file)" : la) + "\n    got:      " + (eb ? "(end of run)" : lb) + "\n";
                break;
            }
        }
        problems += "  (the run's digest is " + r.digest + "; set PIGEON_SIM_REGENERATE=1 to accept the new transcript)\n";
    }
    return problems.empty() ? "" : scenario_file + ":\n" + problems;
}

}  // namespace pigeon::sim
