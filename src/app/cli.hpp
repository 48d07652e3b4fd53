// pigeon/app/cli.hpp: the `pigeon` command line (CLI11).
//
// Contract:
//   pigeon serve [--config FILE]           run the server (embedded default without --config)
//   pigeon check-config --config FILE      validate; "OK: 3 listeners, 2 local domains, 1 user"
//   pigeon show-config [--config FILE]     print the effective configuration as TOML
//   pigeon passwd                          read a password on stdin, print its hash
//   pigeon queue list|show ID|delete ID|flush|retry ID [--config FILE]
//   pigeon reload [--config FILE]          the running server re-reads its configuration
//   pigeon --version                       "pigeon 0.1.0";  --help on every command
// Exit status: 0 success; 1 the command failed; 2 the configuration is invalid or cannot be
// read (the message names the file, line and key); 64 (EX_USAGE) the command line is wrong.
// run_cli() does no I/O except through `io` (and, when io.stdin_is_tty, turning terminal
// echo off on file descriptor 0 while a password is typed). The commands that run the
// server or touch the queue are injected (`Commands`), so tests can drive the parser.
#pragma once
#include <functional>
#include <optional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "app/commands.hpp"

namespace pigeon::app {

inline constexpr std::string_view version_string = "pigeon 0.1.0";

inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;
inline constexpr int exit_bad_config = 2;
inline constexpr int exit_usage = 64;  // EX_USAGE, sysexits.h

struct Io;

struct Commands {
    // config_path: the file the configuration was read from (reloads read it again); empty:
    // the embedded default.
    std::function<int(const config::Config&, const std::string& config_path)> serve;
    std::function<int(const config::Config&)> queue_list;
    std::function<int(const config::Config&, const std::string& id)> queue_show;
    std::function<int(const config::Config&, const std::string& id)> queue_delete;
    // pigeon spf check (see commands.hpp): 0 for any result, 2 for bad arguments.
    std::function<int(const SpfCheckArgs&, Io&)> spf_check;
    // pigeon sim run (sim/run.hpp): the exit status of the run.
    std::function<int(const SimRunArgs&, Io&)> sim_run = {};
    // pigeon sim swarm (sim/swarm.hpp): 0 when every seed kept every invariant.
    std::function<int(const SimSwarmArgs&, Io&)> sim_swarm = {};
    // Password -> "$argon2id$..." / "$2b$..."; may throw on failure.
    std::function<std::string(std::string_view password)> hash_password;
};

struct Io {
    std::istream& in;
    std::ostream& out;
    std::ostream& err;
    bool stdin_is_tty = false;  // prompt and hide the typed password
};

// The file's configuration, or the embedded default when `path` is empty; nullopt after
// printing why the file cannot be used.
std::optional<config::Config> effective_config(const std::string& path, Io& io);

// args[0] is the program name, as in argv.
int run_cli(const std::vector<std::string>& args, const Commands& commands, Io io);

}  // namespace pigeon::app
