// pigeon/conformance/pigeon_process.hpp: the real `pigeon serve`, started and stopped by
// the conformance runner.
//
// Contract: PigeonProcess::start() makes a fresh temporary directory (mkdtemp), writes a
// TOML configuration from a ServerSetup into it (state_dir inside it, one loopback listener
// per ServerSetup::listeners entry on a free port), starts `pigeon serve --config` with its
// stderr in a log file there, and returns once the log says "ready" (or an error, with the
// end of the log, after a bounded wait). The process dies with the runner (PDEATHSIG).
// stop() sends SIGTERM, then SIGKILL after a bound, and reaps it; the destructor calls
// stop() and removes the directory, so a failed run leaves neither a process nor files.
// hash_password() runs `pigeon passwd` (password on stdin, hash on stdout), bounded too.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "smtp/server/session.hpp"

namespace pigeon::conformance {

struct ListenerSetup {
    smtp::Role role = smtp::Role::inbound;
    std::string tls = "none";  // the config's listeners.tls: "none", "starttls", "implicit"
    friend bool operator==(const ListenerSetup&, const ListenerSetup&) = default;
};

struct UserSetup {
    std::string address;
    std::string password_hash;
    std::vector<std::string> aliases;
};

struct ServerSetup {
    std::string hostname;
    std::vector<std::string> local_domains;
    std::uint64_t max_message_octets = 0;
    std::size_t max_recipients = 0;
    std::size_t max_errors = 0;
    bool tiny_timeouts = false;  // 1 s command and DATA timeouts (TIMEOUT transcripts)
    std::vector<ListenerSetup> listeners;
    std::vector<UserSetup> users;
    // A certificate to reuse (both or neither): generating one per server start costs time.
    std::filesystem::path cert_file, key_file;
};

// The configuration file for `setup`, with these ports (one per listener) and state_dir.
std::string config_toml(const ServerSetup& setup, const std::vector<std::uint16_t>& ports,
                        const std::filesystem::path& state_dir);

class PigeonProcess {
public:
    static core::Result<std::unique_ptr<PigeonProcess>> start(const std::filesystem::path& pigeon,
                                                               const ServerSetup& setup);
    ~PigeonProcess();
    PigeonProcess(const PigeonProcess&) = delete;
    PigeonProcess& operator=(const PigeonProcess&) = delete;

    std::uint16_t port(std::size_t listener) const { return ports_.at(listener); }
    const std::filesystem::path& state_dir() const { return state_dir_; }
    const std::filesystem::path& directory() const { return dir_; }
    std::string log() const;  // everything the server wrote to stderr so far

    // SIGTERM, SIGKILL after `grace_ms`; idempotent. Empty when the server exited cleanly
    // (status 0, no sanitizer report in its log), else what went wrong.
    std::string stop(int grace_ms = 5000);

private:
    PigeonProcess() = default;
    std::filesystem::path dir_, state_dir_, log_file_;
    std::vector<std::uint16_t> ports_;
    pid_t pid_ = -1;
    std::string stop_result_;
};

// Runs `pigeon passwd` with `password` on stdin; the hash it prints, or why it failed.
core::Result<std::string> hash_password(const std::filesystem::path& pigeon,
                                        const std::string& password);

}  // namespace pigeon::conformance
