// pigeon/app/control.hpp: how `pigeon queue flush|retry|delete|hold|release` reach a running
// server: request files in <state>/control/, a SIGUSR1 to the pid in <state>/pigeon.pid, and
// for the requests that change a message, an answer file back.
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
//                       file, oldest first, each with its `name` (the file name without
//                       ".req"). A malformed file is deleted too and described in `problems`
//                       (when given). *.tmp files (a CLI still writing) are left; *.ans files
//                       older than stale_answer_age (their CLI gave up) are deleted.
//   answer_control_request (server) writes "<name>.ans" atomically: "ok <text>\n" or
//                       "error <text>\n" (the text on one line, cut to max_answer_text_octets).
//   ask_server          (CLI, for delete/hold/release and hold/release --all) posts the request, signals the server
//                       and waits up to `wait` for its answer (polling; the answer file is
//                       deleted once read). Without an answer it withdraws the request: if
//                       the file was still there the server never saw it and NOTHING was
//                       changed (no_answer); if the server had taken it, it waits once more
//                       as long for the answer and else reports `unknown`. A request that
//                       changes a message never waits for a later start: the caller asked
//                       about the spool as it is now.
// File content: "flush\n", "retry <id>\n", "delete <id>\n", "hold <id>\n" or "release <id>\n",
// "hold-all\n" or "release-all\n" (every queued message; the answer says how many changed),
// "reload\n" (`pigeon reload`: re-read the configuration file; answered like the message
// requests), nothing else (at most 64 octets); <id> is a queue id (queue/queue_id.hpp).
// Only one server owns a state directory (the lock), so the reader needs no lock of its own.
//   try_lock_state_dir  flock(LOCK_EX|LOCK_NB) on <state>/pigeon.lock (created 0600 if missing):
//                       held (the caller now owns the directory: `pigeon serve`, or the queue
//                       commands acting directly on a stopped server's spool), busy (a server
//                       owns it) or failed (with the reason). The lock lasts as long as the
//                       StateLock.
#pragma once
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
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
    enum class Kind { flush, retry, remove, hold, release,
                      hold_all, release_all, reload };
    ControlRequest(Kind k = Kind::flush, std::string i = {}, std::string n = {})
        : kind(k), id(std::move(i)), name(std::move(n)) {}
    Kind kind;
    std::string id;    // retry, remove, hold, release: the queue id
    std::string name;  // set by take_control_requests: what answer_control_request needs
    friend bool operator==(const ControlRequest&, const ControlRequest&) = default;
};

// Whether the CLI waits for the server's answer to this kind (it changes messages).
bool wants_answer(ControlRequest::Kind kind);
// Whether the request names one message (its id follows the verb).
bool takes_id(ControlRequest::Kind kind);

struct ControlAnswer {
    // done/refused: the server's answer (refused: e.g. no such message); no_answer: nothing
    // was changed; unknown: the server took the request but did not answer in time.
    enum class Outcome { done, refused, no_answer, unknown } outcome = Outcome::no_answer;
    std::string text;  // the server's text (done/refused)
    friend bool operator==(const ControlAnswer&, const ControlAnswer&) = default;
};

inline constexpr std::size_t max_answer_text_octets = 400;
inline constexpr std::chrono::seconds stale_answer_age{3600};

queue::Status write_pid_file(const std::string& state_dir);
void remove_pid_file(const std::string& state_dir);

queue::Result<bool> send_control_request(const std::string& state_dir, const ControlRequest& request);

queue::Result<ControlAnswer> ask_server(const std::string& state_dir, const ControlRequest& request,
                                          std::chrono::milliseconds wait);
queue::Status answer_control_request(const std::string& state_dir, const ControlRequest& request,
                                     bool ok, std::string_view text);

std::vector<ControlRequest> take_control_requests(const std::string& state_dir,
                                                  std::vector<std::string>* problems);

// The text of a request file, and its parser (nullopt-like Error for anything else).
std::string format_control_request(const ControlRequest& request);
queue::Result<ControlRequest> parse_control_request(std::string_view text);
// The text of an answer file, and its parser: done (ok) or refused (error) with the text.
std::string format_control_answer(bool ok, std::string_view text);
queue::Result<ControlAnswer> parse_control_answer(std::string_view text);

// The start time recorded for `pid` by the kernel (clock ticks since boot), or 0 when the
// process does not exist or cannot be read.
unsigned long long process_start_time(long pid);

}  // namespace pigeon::app
