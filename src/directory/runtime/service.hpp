// pigeon/directory/runtime/service.hpp: a Backend behind the asynchronous
// policy::UserDirectory: a cache in front, the blocking calls on a pool of its own threads
// (never an I/O thread), a bound on lookups in flight and a lookup timeout.
//
// Contract:
//   - A cached answer (found or not found, less than cache_seconds old) is given at once, on
//     the caller's thread. Otherwise the question goes to the pool, unless max_in_flight
//     lookups are already waiting or running: then it is answered "unavailable" at once.
//   - A question that waited in the pool's queue longer than `timeout` is answered
//     "unavailable" without asking the backend; the backend's own call is bounded by the same
//     timeout (connect_timeout and statement_timeout for PostgreSQL, busy_timeout for SQLite).
//   - Answers other than "unavailable" are cached; "unavailable" never is.
//   - The destructor stops taking questions, answers the queued ones "unavailable" without the
//     backend, and waits for the pool's threads (at most one backend call each), unless it runs
//     on one of them (the last reference dropped by an answer's callback): then the threads
//     finish by themselves and release the backend.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/clock.hpp"
#include "directory/backend.hpp"
#include "policy/user_directory.hpp"

namespace pigeon::directory {

struct ServiceOptions {
    unsigned threads = 2;
    std::size_t max_in_flight = 64;
    std::chrono::milliseconds timeout{2000};
    std::uint32_t cache_seconds = 30;
    std::size_t cache_entries = 10000;
};

class Service final : public policy::UserDirectory {
public:
    Service(std::unique_ptr<Backend> backend, ServiceOptions options, const core::Clock& clock);
    ~Service() override;
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;

    void recipient(std::string address, std::function<void(policy::Lookup<std::string>)> done) override;
    void login(std::string login, std::function<void(policy::Lookup<policy::Account>)> done) override;
    void senders(std::string login, std::function<void(policy::Lookup<std::vector<std::string>>)> done) override;
    policy::Lookup<std::string> recipient_blocking(const std::string& address) override;

    struct Shared;  // the backend, caches, queue and threads (service.cpp)

private:
    std::shared_ptr<Shared> shared_;
};

}  // namespace pigeon::directory
