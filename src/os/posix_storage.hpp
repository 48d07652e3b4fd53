// pigeon/os/posix_storage.hpp: the spool Storage on a POSIX directory.
//
// Contract: one directory holds the files, named as Storage names (no subdirectories).
// create() writes with O_CREAT|O_EXCL and removes its partial file on any failure, so a
// full disk (ENOSPC), a file size limit (EFBIG) or an I/O error is a clean Error. append()
// keeps a small set of descriptors open with O_APPEND (the spool appends to one segment at a
// time), so a steady stream of appends costs one write(2) each. sync() is the durability
// barrier of storage.hpp, in one of two modes:
//   SyncMode::fsync_each  fdatasync every file created or appended to since the last barrier,
//                         then fsync the directory once if an entry changed (created,
//                         renamed and removed files)
//   SyncMode::syncfs      one syncfs(2) on the directory's file system: a single call for the
//                         whole batch, but it also flushes every other writer on that file
//                         system, so its cost depends on the neighbours
// Concurrent sync() calls are serialised, so a sync() never returns before the barrier that
// covers the caller's writes has completed. This file and src/os/ are the only places that
// call open/write/fsync/syncfs/rename/unlink/readdir for the spool. Never throws.
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "queue/storage.hpp"

namespace pigeon::os {

enum class SyncMode { fsync_each, syncfs };

// Created files whose fd is kept open for the next barrier; past this many, create() syncs
// and closes them early so a huge batch cannot exhaust the process's descriptors.
inline constexpr std::size_t max_unsynced_descriptors = 256;

class PosixStorage final : public queue::Storage {
public:
    // Opens (creating it with mode 0700 when create_directory and it is missing) the spool
    // directory. A created directory's own entry is made durable (its parent is fsynced).
    static queue::Result<std::unique_ptr<PosixStorage>> open(const std::string& directory,
                                                                SyncMode mode = SyncMode::fsync_each,
                                                                bool create_directory = true);
    ~PosixStorage() override;
    PosixStorage(const PosixStorage&) = delete;
    PosixStorage& operator=(const PosixStorage&) = delete;

    queue::Status create(const std::string& name, std::string_view bytes) override;
    queue::Result<std::string> read(const std::string& name) const override;
    queue::Result<std::vector<std::string>> list() const override;
    queue::Status rename(const std::string& from, const std::string& to) override;
    queue::Status remove(const std::string& name) override;
    queue::Status append(const std::string& name, std::string_view bytes) override;
    queue::Status append_parts(const std::string& name, std::span<const std::string_view> parts) override;
    queue::Result<std::string> read_range(const std::string& name, std::uint64_t offset,
                                            std::uint64_t length) const override;
    queue::Status sync() override;

    // Observes how long each sync() took, waiting for an earlier barrier included (metrics).
    // Set before the storage is shared between threads; called on the syncing thread.
    void set_sync_observer(std::function<void(std::chrono::nanoseconds)> observer) {
        on_sync_ = std::move(observer);
    }

    const std::string& directory() const { return directory_; }
    SyncMode mode() const { return mode_; }

private:
    PosixStorage(std::string directory, int dir_fd, SyncMode mode);
    queue::Status flush_descriptors(std::vector<int>& fds);  // fdatasync + close each
    queue::Status barrier();  // sync() without the observer

    // A file open for appending; closed when the last holder (the cache, a barrier) lets go.
    struct AppendFile {
        explicit AppendFile(int descriptor) : fd(descriptor) {}
        ~AppendFile();
        AppendFile(const AppendFile&) = delete;
        AppendFile& operator=(const AppendFile&) = delete;
        int fd;
        bool dirty = false;  // written since the last barrier (guarded by mutex_)
    };
    std::map<std::string, std::shared_ptr<AppendFile>> appending_;  // by name, guarded by mutex_
    std::vector<std::shared_ptr<AppendFile>> append_dirty_;          // for the next barrier

    std::string directory_;
    int dir_fd_;
    SyncMode mode_;
    std::mutex mutex_;       // unsynced_, dir_dirty_ and deferred_error_
    std::mutex sync_mutex_;  // one barrier at a time
    std::vector<int> unsynced_;
    bool dir_dirty_ = false;
    std::string deferred_error_;  // an early flush failed: the next barrier must fail
    std::function<void(std::chrono::nanoseconds)> on_sync_;
};

}  // namespace pigeon::os
