// pigeon/os/file_io.hpp: the two POSIX steps every durable write here is made of, written
// once: the spool's PosixStorage and Maildir delivery both use them.
// Each returns 0 or the errno; neither throws.
#pragma once
#include <string>
#include <string_view>

namespace pigeon::os {

// Writes all of bytes to fd, retrying short writes and EINTR (a write that makes no progress
// without a reason is EIO, so it never spins).
int write_all(int fd, std::string_view bytes);

// fsync(2) of a directory, which makes the entries created or removed in it durable.
int fsync_directory(const std::string& path);

}  // namespace pigeon::os
