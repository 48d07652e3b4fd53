// pigeon/app/commands.hpp: the subcommands that run the server or touch its state.
//
// Contract: each takes a validated Config and returns the process exit status (0 success,
// 1 failure). They are implemented outside the CLI layer (serve*.cpp, queue_cmd.cpp) and
// wired to the command line by main.cpp, so the parsing in cli.cpp is testable without them.
//   run_serve         runs until SIGTERM/SIGINT, then shuts down within
//                     limits.shutdown_grace_seconds; SIGHUP reloads config_path (live reload,
//                     config/reload.hpp). An empty config_path: no --config was given
//                     (create the state dir, the self-signed certificate and, when
//                     config.create_demo_user, the demo user, printing its password once).
//   run_queue_list    prints the queued messages.
//   run_queue_show    prints one queued message's envelope and status.
//   run_queue_delete  removes one queued message; run_queue_change: delete, hold or release
//                     one (a held message stays queued, is not delivered, and survives
//                     restarts). With no server running they change the spool under the
//                     state lock; else the server does and answers (app/control.hpp), and
//                     without its answer within `wait` (control_answer_wait from the command
//                     line) nothing is changed and they fail.
//                     kind hold_all / release_all (id empty): every queued message, the same
//                     way; it prints "held N of M queued message(s)" (hold_all_messages).
//   hold_all_messages on a spool this process owns (the server's, or the CLI's under the
//                     lock): Spool::hold_all, then on_released(id) for each message released
//                     (the server wakes its deliverers); the text says how many changed.
//   run_queue_flush   every deferred recipient is due now; run_queue_retry: one message's.
//                     With no server running (its <state>/pigeon.lock is free) they change the
//                     spool directly; else they ask the server (app/control.hpp). 0 done or
//                     nothing queued, 1 failure (unknown id, unreadable state directory).
//   print_queue_list/show are run_queue_list/show writing to the given streams (tests).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "app/control.hpp"
#include "queue/spool.hpp"

namespace pigeon::app {

int run_serve(const config::Config& config, const std::string& config_path);
// `pigeon reload`: asks the server running on config.state_dir to re-read its configuration
// file (control request "reload") and prints its answer: 0 reloaded (the text says what needs
// a restart, if anything), 1 the server kept its configuration (the error, with key and line),
// no server answered, or the request could not be sent.
inline constexpr std::chrono::milliseconds reload_answer_wait{30'000};
int run_reload(const config::Config& config, std::ostream& out, std::ostream& err,
               std::chrono::milliseconds wait = reload_answer_wait);
int run_queue_list(const config::Config& config);
int run_queue_show(const config::Config& config, const std::string& id);
int run_queue_delete(const config::Config& config, const std::string& id);
inline constexpr std::chrono::milliseconds control_answer_wait{10'000};
int run_queue_change(const config::Config& config, ControlRequest::Kind kind, const std::string& id, std::ostream& out,
                     std::ostream& err, std::chrono::milliseconds wait = control_answer_wait);
queue::Result<std::string> hold_all_messages(queue::Spool& spool, bool held,
                                             const std::function<void(const std::string&)>& on_released);
int print_queue_list(const config::Config& config, std::ostream& out, std::ostream& err);
// `pigeon queue list --json`: one JSON array, a message an object: id, sender, size (octets),
// arrival (unix seconds), held, recipients (address, state, attempts, next_attempt: unix
// seconds or null once final, last_reply: the last diagnostic or null).
std::string format_queue_json(const std::vector<queue::MessageSummary>& messages);
int print_queue_json(const config::Config& config, std::ostream& out, std::ostream& err);
// `pigeon mailq`, `mailq`, `sendmail -bp`: Postfix's mailq layout (a held message's id ends in
// "!"; each pending recipient under its last diagnostic in parentheses) and the
// "-- N Kbytes in M Requests." trailer; "Mail queue is empty" when it is.
std::string format_mailq(const std::vector<queue::MessageSummary>& messages);
int print_mailq(const config::Config& config, std::ostream& out, std::ostream& err);
int print_queue_show(const config::Config& config, const std::string& id, std::ostream& out, std::ostream& err);
int run_queue_flush(const config::Config& config, std::ostream& out, std::ostream& err);
int run_queue_retry(const config::Config& config, const std::string& id, std::ostream& out, std::ostream& err);

// pigeon spf check: 0 for any SPF result, 2 for bad arguments (a bad IP, sender or zone file).
struct SpfCheckArgs {
    std::string ip, sender, helo, zone;
    bool explain = false;
};
int run_spf_check(const SpfCheckArgs& args, std::ostream& out, std::ostream& err);

// pigeon sim run FILE [--seed N] [--explain] [--trace FILE]: implemented in sim/run.hpp
// (sim::run_command; the simulator links above app/, so main.cpp wires it in).
struct SimRunArgs {
    std::string file;
    std::optional<std::uint64_t> seed;
    bool explain = false;
    std::string trace_file;
    std::uint64_t repeat = 0;  // --repeat N: N runs, only `scenarios_per_second <float>`
};

// pigeon sim swarm --seeds N [--start S] [--explain] [--verbose] [--trace FILE]: sim/swarm.hpp.
struct SimSwarmArgs {
    std::uint64_t seeds = 100, start = 1;
    bool explain = false, verbose = false;
    std::string trace_file;
};

}  // namespace pigeon::app
