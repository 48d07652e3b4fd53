// pigeon/directory/runtime/backends.hpp: the backends of [directory] (config/model.hpp
// DirectorySettings) and the one call that opens the configured one.
//
//   passwd-file  the file read once, at start and at each live reload (parse_passwd_file);
//                answers from memory. Its users receive at their own address and send as it.
//   sqlite       the database file opened read-only (libsqlite3), the three queries prepared
//                once on one connection (serialized by a mutex); every parameter of a query is
//                bound to the address; busy_timeout = timeout_ms.
//   postgresql   libpq connections (at most `threads`), opened when first needed and again
//                after a failure, each with the queries prepared (PQprepare) and
//                connect_timeout and statement_timeout from timeout_ms.
// The address or login is always a bound parameter, never part of the SQL text.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "directory/backend.hpp"
#include "directory/passwd_file.hpp"
#include "policy/user_directory.hpp"

namespace pigeon::directory {

// Loads a passwd-file (an unreadable or bad file: an error naming it and the line).
core::Result<std::unique_ptr<Backend>> open_passwd_file(const std::string& path, std::vector<std::string>& warnings);
core::Result<std::unique_ptr<Backend>> open_sqlite(const config::DirectorySettings& settings);
// Never fails for a server that is down (the lookups are then "unavailable").
std::unique_ptr<Backend> open_postgresql(const config::DirectorySettings& settings);

// The configured directory behind its Service (cache, pool), or null for "toml" ([[users]]).
// `warnings` gets what should be logged ({PLAIN} passwords). An error names the file, or the
// key and why: "[directory] recipient_query: no such table: users".
core::Result<std::shared_ptr<policy::UserDirectory>> open_directory(const config::DirectorySettings& settings,
                                                                    const core::Clock& clock,
                                                                    std::vector<std::string>& warnings);

}  // namespace pigeon::directory
