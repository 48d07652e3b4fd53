// pigeon/conformance/tcp_mode.hpp: `pigeon-conformance --tcp`: transcripts played over TCP
// against the real `pigeon serve`.
//
// Contract: run_over_tcp() decides per transcript whether it can run against the binary
// (tcp_skip_reason: the player's test-double policies, config values below the server's
// minimums, clear-text AUTH, bare AUTH user names... are skipped, each with its reason),
// groups the rest by the server configuration they need (tcp_group_key: hostname, limits,
// users, whether TIMEOUT needs tiny timeouts), starts one PigeonProcess per group with a
// listener per (role, TLS mode) the group uses, plays each transcript over a fresh
// TcpTransport, and stops the server afterwards, whatever happened. It prints PASS, FAIL or
// SKIP per transcript and a summary (skips grouped by reason); returns 0 when nothing
// failed, 1 otherwise (a server that cannot start or that stops badly is a failure too).
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "transcript.hpp"

namespace pigeon::conformance {

// Why `t` cannot run over TCP against the binary, or empty when it can.
std::string tcp_skip_reason(const Transcript& t);

struct TcpRunOptions {
    std::filesystem::path pigeon;  // the `pigeon` executable
    bool verbose = false;
    // Prints one failed transcript (main.cpp's format, shared with the in-memory mode).
    std::function<void(const std::filesystem::path&, const Transcript&, const PlayResult&)>
        print_failure;
};

int run_over_tcp(const std::vector<std::filesystem::path>& files, const TcpRunOptions& options);

}  // namespace pigeon::conformance
