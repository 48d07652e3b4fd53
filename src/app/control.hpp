// pigeon/app/control.hpp: how `pigeon queue flush|retry` reach a running server: request
// files in <state>/control/ and a SIGUSR1 to the pid in <state>/pigeon.pid.
//
// Contract:
//   write_pid_file      (server, after taking <state>/pigeon.lock) writes "<pid>\n<start>\n" to
//                       <state>/pigeon.pid atomically (temporary file, fsync, rename); <start>
//                       is the process start time from /proc/<pid>/stat (field 22), so a pid
//                       reused by another process after a crash is not signalled.
//   remove_pid_file     (server, at stop) removes it; a missing file is fine.
//   send_control_request (CLI) writes one request file into <state>/control/ (created 0700 if
//                       missing) atomically: "<name>.tmp", fsync, rename to "<name>.req", where
//                       <name> starts with the wall-clock time in nanoseconds, zero-padded, so
//                       names sort oldest first. Then, if pigeon.pid names a live process with
//                       the recorded start time, sends it SIGUSR1. Returns whether a live
//                       server was signalled; an Error only when the request file could not be
//                       written. Without a signal the request waits for the next start.
//   take_control_requests (server, on SIGUSR1 and at start) reads and deletes every *.req
//                       file, oldest first. A malformed file is deleted too and described in
//                       `problems` (when given). *.tmp files (a CLI still writing) are left.
// File content: "flush\n" or "retry <queue id>\n", nothing else (at most 64 octets).
// Only one server owns a state directory (the lock), so the reader needs no lock of its own.
//   try_lock_state_dir  flock(LOCK_EX|LOCK_NB) on <state>/pigeon.lock (created 0600 if missing):
//                       held (the caller now owns the directory: `pigeon serve`, or the queue
//                       commands acting directly on a stopped server's spool), busy (a server
//                       owns it) or failed (with the reason). The lock lasts as long as the
//                       StateLock.
#pragma once
#include <string>
#include <vector>

#include "queue/storage.hpp"

namespace pigeon::app {

struct StateLock {
    enum class Outcome { held, busy, failed } outcome = Outcome::failed;
    std::string path;   // <state>/pigeon.lock
    std::string error;  // failed: why
    StateLock() = default;
    StateLock(StateLock&& other) noexcept;
    StateLock& operator=(StateLock&&) = delete;
    ~StateLock();

private:
    friend StateLock try_lock_state_dir(const std::string& state_dir);
    int fd_ = -1;
};

StateLock try_lock_state_dir(const std::string& state_dir);

struct ControlRequest {
    enum class Kind { flush, retry } kind = Kind::flush;
    std::string id;  // retry: the queue id
    friend bool operator==(const ControlRequest&, const ControlRequest&) = default;
};

queue::Status write_pid_file(const std::string& state_dir);
void remove_pid_file(const std::string& state_dir);

queue::Expected<bool> send_control_request(const std::string& state_dir, const ControlRequest& request);

std::vector<ControlRequest> take_control_requests(const std::string& state_dir,
                                                  std::vector<std::string>* problems);

// The text of a request file, and its parser (nullopt-like Error for anything else).
std::string format_control_request(const ControlRequest& request);
queue::Expected<ControlRequest> parse_control_request(std::string_view text);

// The start time recorded for `pid` by the kernel (clock ticks since boot), or 0 when the
// process does not exist or cannot be read.
unsigned long long process_start_time(long pid);

}  // namespace pigeon::app
