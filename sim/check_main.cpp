// pigeon/sim/check_main.cpp: pigeon-sim-check, the ctest driver for the scenarios.
//
//   pigeon-sim-check SCENARIO_DIR EXPECTED_DIR
//       runs every SCENARIO_DIR/*.toml and compares its transcript with EXPECTED_DIR/<name>.txt;
//       PIGEON_SIM_REGENERATE=1 in the environment writes the files instead.
//   pigeon-sim-check --twice SCENARIO_FILE
//       runs one scenario twice (and once more with another seed) and requires the same
//       digest for the same seed.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "sim/run.hpp"
#include "sim/scenario.hpp"
#include "sim/simulator.hpp"

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    using namespace pigeon::sim;
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 2 && args[0] == "--twice") {
        auto s = load_scenario(args[1]);
        if (!s.ok()) {
            std::cerr << s.error().message << "\n";
            return 2;
        }
        const RunResult a = run_scenario(*s), b = run_scenario(*s);
        RunOptions other;
        other.seed = s->seed + 1;
        const RunResult c = run_scenario(*s, other);
        std::cout << "seed " << a.seed << ": " << a.digest << " and " << b.digest << "; seed " << c.seed
                  << ": " << c.digest << "\n";
        if (a.digest != b.digest || a.trace != b.trace) {
            std::cerr << "FAIL: the same seed gave two different runs\n";
            return 1;
        }
        if (a.trace.empty() || a.digest.size() != 16) {
            std::cerr << "FAIL: empty trace\n";
            return 1;
        }
        return 0;
    }
    if (args.size() != 2) {
        std::cerr << "usage: pigeon-sim-check SCENARIO_DIR EXPECTED_DIR | --twice SCENARIO_FILE\n";
        return 2;
    }
    const char* env = std::getenv("PIGEON_SIM_REGENERATE");
    const bool regenerate = env != nullptr && std::string(env) == "1";
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(args[0]))
        if (e.path().extension() == ".toml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    int failed = 0;
    for (const auto& f : files) {
        const auto expected = fs::path(args[1]) / (f.stem().string() + ".txt");
        const std::string problem = check_transcript(f.string(), expected.string(), regenerate);
        std::cout << (problem.empty() ? "ok    " : "FAIL  ") << f.stem().string() << "\n";
        if (!problem.empty()) {
            std::cout << problem;
            ++failed;
        }
    }
    std::cout << files.size() - failed << " of " << files.size() << " scenarios passed"
              << (regenerate ? " (transcripts regenerated)" : "") << "\n";
    return failed == 0 && !files.empty() ? 0 : 1;
}
