// pigeon/queue/storage.hpp: the spool's view of stable storage, and the queue's error codes
// (its results are core::Result over queue::Error; nothing here throws).
//
// Contract: a Storage is one flat namespace of named files. Names are 1..storage_name_max_octets
// octets of [A-Za-z0-9._-], never "." or ".." (is_valid_storage_name), so an implementation
// can map them to a directory without any path interpretation.
//   create(name, bytes)  a NEW file holding exactly bytes; fails if the name exists
//   read(name)           the whole file
//   list()               every name, in no particular order
//   rename(from, to)     atomically moves from over to (to is replaced)
//   append(name, bytes)  adds bytes at the end of the file, creating it (empty) if missing;
//                        on failure the file may end in a torn prefix of bytes
//   read_range(name, offset, length)  exactly those octets (Error if the file is shorter)
//   remove(name)         deletes the file; removing a missing name is ok (idempotent)
//   sync()               the durability barrier: when it returns ok, every create, append,
//                        rename and remove that completed before sync() was called survives
//                        a crash
// Before a covering sync() nothing is promised: after a crash an unsynced file may be missing,
// truncated, or (on a real file system) whole, and an appended file keeps its synced octets
// followed by any prefix of what was appended since; the spool's record checksums make the
// difference visible. Every method may be called from several threads at once.
// A Storage never throws: failures (full disk, I/O error, missing file) come back as an
// Error whose message names the operation, the file and the cause.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/result.hpp"

namespace pigeon::queue {

// Long enough for "<queue id>.<sequence>.rcpt" with room to spare, short of NAME_MAX (255).
inline constexpr std::size_t storage_name_max_octets = 128;

bool is_valid_storage_name(std::string_view name);

// What kind of failure an Error is, for callers that must tell kinds apart: they branch on
// this, never on the message's text.
enum class ErrorCode : std::uint8_t {
    failed,           // storage or encoding failed (the message says what and where)
    unknown_message,  // the spool holds no message with that id (never, or removed already)
};

// The spool's results are the one core::Result over this error (see core/result.hpp).
using Error = core::Error<ErrorCode>;
template <class T>
using Result = core::Result<T, Error>;
using Status = core::Status<Error>;

class Storage {
public:
    virtual ~Storage() = default;
    virtual Status create(const std::string& name, std::string_view bytes) = 0;
    virtual Result<std::string> read(const std::string& name) const = 0;
    virtual Result<std::vector<std::string>> list() const = 0;
    virtual Status append(const std::string& name, std::string_view bytes) = 0;
    // append() of the parts' concatenation without making it (a large message is written
    // from where it is); the same crash model. This default concatenates.
    virtual Status append_parts(const std::string& name, std::span<const std::string_view> parts);
    virtual Result<std::string> read_range(const std::string& name, std::uint64_t offset,
                                             std::uint64_t length) const = 0;
    virtual Status rename(const std::string& from, const std::string& to) = 0;
    virtual Status remove(const std::string& name) = 0;
    virtual Status sync() = 0;
};

}  // namespace pigeon::queue
