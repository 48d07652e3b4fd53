// pigeon/net/spill.hpp: where a large message goes while it is received - an unnamed file in
// a directory beside the spool (smtp::MessageSpill, smtp/server/session.hpp).
//
// Contract:
//   - SpillDirectory(path) opens (creating it, mode 0700) the directory; it throws
//     std::runtime_error naming the path when that is impossible (start-up only).
//   - open() makes a file with O_TMPFILE (no name: it vanishes when closed, so a crash or a
//     refused message leaves nothing behind; a file system without O_TMPFILE gets a named
//     file unlinked at once). Null when the file cannot be made (the session: 452 4.3.1).
//   - File::write appends with write(2) on the calling (I/O) thread: into the page cache,
//     never waiting for the disk (nothing is synced: the spool's commit makes the message
//     durable when it copies it in). false on any error (ENOSPC, EIO, EFBIG).
//   - File::finish() maps the file read-only (MAP_SHARED) and returns it as a MessageRef that
//     keeps the mapping and the descriptor; they go when the last copy goes (after the commit,
//     or when the message is refused). The mapping is file-backed: it is page cache the kernel
//     may drop, not the server's heap. Nobody else can reach the file (no name, mode 0600),
//     so it cannot be truncated under the mapping.
//   - open_files() counts files open now (tests, metrics). Thread-safe.
#pragma once
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include "smtp/server/session.hpp"

namespace pigeon::net {

class SpillDirectory final : public smtp::MessageSpill {
public:
    explicit SpillDirectory(std::string path);
    ~SpillDirectory() override;
    SpillDirectory(const SpillDirectory&) = delete;
    SpillDirectory& operator=(const SpillDirectory&) = delete;

    std::unique_ptr<File> open() override;
    const std::string& path() const { return path_; }
    std::size_t open_files() const { return open_->load(); }

private:
    std::string path_;
    int dir_fd_ = -1;
    std::shared_ptr<std::atomic<std::size_t>> open_;  // shared with files and mappings
};

}  // namespace pigeon::net
