// pigeon/directory/backend.hpp: one user directory's blocking questions (a file, SQLite,
// PostgreSQL), which runtime/service.hpp runs on its own bounded pool behind the
// asynchronous policy::UserDirectory, with the cache in front.
//
// Contract:
//   - Keys arrive lower-cased. An answer is found, not found, or unavailable with a reason
//     (the database cannot be reached, a query failed): never "not found" for a failure.
//   - Thread-safe: several pool threads (and local delivery's worker) may ask at once.
//   - Each call returns within about the configured lookup timeout (the backend applies it
//     to its connection and statements).
#pragma once
#include <string>
#include <vector>

#include "policy/user_directory.hpp"

namespace pigeon::directory {

class Backend {
public:
    virtual ~Backend() = default;
    virtual policy::Lookup<std::string> recipient(const std::string& address) = 0;
    virtual policy::Lookup<policy::Account> login(const std::string& login) = 0;
    virtual policy::Lookup<std::vector<std::string>> senders(const std::string& login) = 0;
};

}  // namespace pigeon::directory
