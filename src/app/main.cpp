// pigeon/app/main.cpp: the `pigeon` executable: wires the real commands into the CLI.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "app/commands.hpp"
#include "sim/run.hpp"
#include "sim/swarm.hpp"
#include "tls/password.hpp"

namespace {

// The simulator's stopwatch (sim/run.hpp): only the CLI reads the clock.
double steady_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
    using namespace pigeon::app;
    const Commands commands{
        .serve = run_serve,
        .queue_list = run_queue_list,
        .queue_show = run_queue_show,
        .queue_delete = run_queue_delete,
        .spf_check = [](const SpfCheckArgs& a, Io& io) { return run_spf_check(a, io.out, io.err); },
        .sim_run = [](const SimRunArgs& a, Io& io) {
            return pigeon::sim::run_command({a.file, a.seed, a.explain, a.trace_file, a.repeat, steady_seconds},
                                            io.out, io.err);
        },
        .sim_swarm = [](const SimSwarmArgs& a, Io& io) {
            return pigeon::sim::swarm_command(
                {a.seeds, a.start, a.explain, a.verbose, a.trace_file, steady_seconds, {}}, io.out, io.err);
        },
        .hash_password = [](std::string_view password) {
            return pigeon::tls::hash_password(password);
        },
    };
    const std::vector<std::string> args(argv, argv + argc);
    return run_cli(args, commands, Io{std::cin, std::cout, std::cerr, ::isatty(STDIN_FILENO) == 1});
}
