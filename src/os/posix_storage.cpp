// pigeon/os/posix_storage.cpp: Storage over openat/write/fdatasync/renameat/unlinkat.
#include "os/posix_storage.hpp"

#include <chrono>

#include "os/file_io.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace pigeon::os {
namespace {

using queue::Error;
using queue::Result;
using queue::Status;

std::string errno_text(int err) { return std::strerror(err); }

Error failure(const char* op, const std::string& name, int err) {
    return Error{std::string(op) + " '" + name + "': " + errno_text(err)};
}

Error bad_name(const char* op, const std::string& name) {
    return Error{std::string(op) + " '" + name + "': invalid storage name"};
}



std::string parent_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) {
        return ".";
    }
    return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

Result<std::unique_ptr<PosixStorage>> PosixStorage::open(const std::string& directory, SyncMode mode,
                                                            bool create_directory) {
    if (directory.empty()) {
        return Error{"spool directory: empty path"};
    }
    if (create_directory) {
        if (::mkdir(directory.c_str(), 0700) == 0) {
            // The new directory's entry lives in its parent: make it durable too.
            if (const int err = fsync_directory(parent_of(directory)); err != 0) {
                return failure("fsync parent of", directory, err);
            }
        } else if (errno != EEXIST) {
            return failure("mkdir", directory, errno);
        }
    }
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return failure("open", directory, errno);
    }
    return std::unique_ptr<PosixStorage>(new PosixStorage(directory, fd, mode));
}

PosixStorage::PosixStorage(std::string directory, int dir_fd, SyncMode mode)
    : directory_(std::move(directory)), dir_fd_(dir_fd), mode_(mode) {}

PosixStorage::~PosixStorage() {
    for (int fd : unsynced_) {
        ::close(fd);
    }
    ::close(dir_fd_);
}

Status PosixStorage::flush_descriptors(std::vector<int>& fds) {
    int first_error = 0;
    for (int fd : fds) {
        // fdatasync: the data and the size; the inode's times need not be durable.
        if (::fdatasync(fd) != 0 && first_error == 0) {
            first_error = errno;
        }
        ::close(fd);
    }
    fds.clear();
    if (first_error != 0) {
        return failure("fdatasync", directory_, first_error);
    }
    return {};
}

Status PosixStorage::create(const std::string& name, std::string_view bytes) {
    if (!queue::is_valid_storage_name(name)) {
        return bad_name("create", name);
    }
    const int fd = ::openat(dir_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return failure("create", name, errno);
    }
    if (const int err = write_all(fd, bytes); err != 0) {
        ::close(fd);
        ::unlinkat(dir_fd_, name.c_str(), 0);
        return failure("write", name, err);
    }
    std::vector<int> early;
    {
        std::lock_guard lock(mutex_);
        dir_dirty_ = true;
        if (mode_ == SyncMode::fsync_each) {
            unsynced_.push_back(fd);
            if (unsynced_.size() > max_unsynced_descriptors) {
                early.swap(unsynced_);
            }
        }
    }
    if (mode_ == SyncMode::syncfs) {
        // syncfs covers the file without its descriptor, but the close itself can report a
        // delayed write error (NFS, quota): then the file is not good.
        if (::close(fd) != 0 && errno != EINTR) {
            const int err = errno;
            ::unlinkat(dir_fd_, name.c_str(), 0);
            return failure("close", name, err);
        }
    }
    if (!early.empty()) {
        // Those files belong to other callers too: a failure must fail the next barrier,
        // which every one of them waits on, not just this create.
        if (Status flushed = flush_descriptors(early); !flushed) {
            std::lock_guard lock(mutex_);
            deferred_error_ = flushed.error().message;
        }
    }
    return {};
}

Result<std::string> PosixStorage::read(const std::string& name) const {
    if (!queue::is_valid_storage_name(name)) {
        return bad_name("read", name);
    }
    const int fd = ::openat(dir_fd_, name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return failure("read", name, errno);
    }
    std::string out;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
        out.reserve(static_cast<std::size_t>(st.st_size));
    }
    char buffer[64 * 1024];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            const int err = errno;
            ::close(fd);
            return failure("read", name, err);
        }
        if (n == 0) {
            break;
        }
        out.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

Result<std::vector<std::string>> PosixStorage::list() const {
    // fdopendir takes ownership of its descriptor: give it a duplicate.
    const int fd = ::openat(dir_fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return failure("list", directory_, errno);
    }
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
        const int err = errno;
        ::close(fd);
        return failure("list", directory_, err);
    }
    std::vector<std::string> names;
    for (;;) {
        errno = 0;
        const dirent* e = ::readdir(dir);
        if (e == nullptr) {
            if (errno != 0) {
                const int err = errno;
                ::closedir(dir);
                return failure("list", directory_, err);
            }
            break;
        }
        const std::string name = e->d_name;
        if (name != "." && name != "..") {
            names.push_back(name);
        }
    }
    ::closedir(dir);
    return names;
}

Status PosixStorage::rename(const std::string& from, const std::string& to) {
    if (!queue::is_valid_storage_name(from) || !queue::is_valid_storage_name(to)) {
        return bad_name("rename", from + "' -> '" + to);
    }
    std::lock_guard lock(mutex_);
    appending_.erase(from);
    appending_.erase(to);
    if (::renameat(dir_fd_, from.c_str(), dir_fd_, to.c_str()) != 0) {
        return failure("rename", from, errno);
    }
    dir_dirty_ = true;
    return {};
}

Status PosixStorage::remove(const std::string& name) {
    if (!queue::is_valid_storage_name(name)) {
        return bad_name("remove", name);
    }
    std::lock_guard lock(mutex_);
    appending_.erase(name);  // a barrier holding it still flushes (harmlessly) and closes it
    if (::unlinkat(dir_fd_, name.c_str(), 0) != 0 && errno != ENOENT) {
        return failure("remove", name, errno);
    }
    dir_dirty_ = true;
    return {};
}

PosixStorage::AppendFile::~AppendFile() { ::close(fd); }

// Descriptors kept open for appending beyond the ones written since the last barrier.
constexpr std::size_t max_idle_append_descriptors = 4;

Status PosixStorage::append(const std::string& name, std::string_view bytes) {
    const std::string_view one[] = {bytes};
    return append_parts(name, one);
}

Status PosixStorage::append_parts(const std::string& name, std::span<const std::string_view> parts) {
    if (!queue::is_valid_storage_name(name)) {
        return bad_name("append", name);
    }
    std::shared_ptr<AppendFile> file;
    {
        std::lock_guard lock(mutex_);
        if (const auto it = appending_.find(name); it != appending_.end()) {
            file = it->second;
        } else {
            bool created = true;
            int fd = ::openat(dir_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
            if (fd < 0 && errno == EEXIST) {
                created = false;
                fd = ::openat(dir_fd_, name.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
            }
            if (fd < 0) {
                return failure("append", name, errno);
            }
            dir_dirty_ = dir_dirty_ || created;
            if (appending_.size() >= max_idle_append_descriptors) {
                for (auto it = appending_.begin(); it != appending_.end();) {
                    it = it->second->dirty ? std::next(it) : appending_.erase(it);
                }
            }
            file = std::make_shared<AppendFile>(fd);
            appending_.emplace(name, file);
        }
        if (!file->dirty) {
            file->dirty = true;
            append_dirty_.push_back(file);
        }
    }
    // The spool serialises its appends; write_all may take several write(2) calls.
    for (const std::string_view bytes : parts) {
        if (const int err = write_all(file->fd, bytes); err != 0) {
            return failure("append", name, err);
        }
    }
    return {};
}

Result<std::string> PosixStorage::read_range(const std::string& name, std::uint64_t offset,
                                               std::uint64_t length) const {
    if (!queue::is_valid_storage_name(name)) {
        return bad_name("read", name);
    }
    const int fd = ::openat(dir_fd_, name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return failure("read", name, errno);
    }
    std::string out(static_cast<std::size_t>(length), '\0');
    std::size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = ::pread(fd, out.data() + done, out.size() - done,
                                  static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            const int err = n < 0 ? errno : 0;
            ::close(fd);
            if (err != 0) {
                return failure("read", name, err);
            }
            return Error{"read '" + name + "': " + std::to_string(length) + " octets at " +
                         std::to_string(offset) + " are past the end"};
        }
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return out;
}

Status PosixStorage::sync() {
    if (!on_sync_) return barrier();
    const auto start = std::chrono::steady_clock::now();
    Status status = barrier();
    on_sync_(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start));
    return status;
}

Status PosixStorage::barrier() {
    // Serialised: a caller whose files an earlier, still running barrier took over must
    // wait for that barrier rather than return on an empty list.
    std::lock_guard barrier(sync_mutex_);
    std::vector<int> fds;
    std::vector<std::shared_ptr<AppendFile>> appended;
    bool dir_dirty = false;
    std::string deferred;
    {
        std::lock_guard lock(mutex_);
        fds.swap(unsynced_);
        appended.swap(append_dirty_);
        for (const auto& file : appended) {
            file->dirty = false;
        }
        dir_dirty = std::exchange(dir_dirty_, false);
        deferred = std::exchange(deferred_error_, std::string());
    }
    if (!deferred.empty()) {
        flush_descriptors(fds);
        std::lock_guard lock(mutex_);
        dir_dirty_ = true;  // the next barrier still covers the entries
        return Error{"barrier failed: " + deferred};
    }
    if (mode_ == SyncMode::syncfs) {
        if (::syncfs(dir_fd_) != 0) {
            const int err = errno;
            std::lock_guard lock(mutex_);
            dir_dirty_ = true;
            return failure("syncfs", directory_, err);
        }
        return {};
    }
    Status files = flush_descriptors(fds);
    for (const auto& file : appended) {
        if (::fdatasync(file->fd) != 0 && files) {
            files = failure("fdatasync", directory_, errno);
        }
    }
    if (dir_dirty && ::fsync(dir_fd_) != 0) {
        const int err = errno;
        std::lock_guard lock(mutex_);
        dir_dirty_ = true;
        return failure("fsync", directory_, err);
    }
    return files;
}

}  // namespace pigeon::os
