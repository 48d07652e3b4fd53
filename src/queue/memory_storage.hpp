// pigeon/queue/memory_storage.hpp: a Storage in memory that can crash, for tests and sim/.
//
// Contract: behaves as storage.hpp says, holding two views of the files: the current one
// (what reads see) and the durable one (what the last successful sync() captured).
// crash() throws the current view away and rebuilds it from the durable one:
//   CrashModel::drop_unsynced  every change since the last sync vanishes (files created
//                              after it are gone, removed ones are back, renames undone)
//   CrashModel::tear_unsynced  the adversarial one: each file created since the last sync
//                              is, by a seeded choice, either gone or left torn (a strict
//                              prefix of its bytes, possibly empty), each file appended to
//                              keeps its synced octets plus a strict prefix (possibly empty)
//                              of the octets appended since, and each file removed
//                              since the last sync independently stays removed or comes back
//                              - any subset of the unsynced changes, in any order
// A real file system may also keep an unsynced file whole; that case needs no model because
// it is indistinguishable from a sync that happened (see docs/spool.md, "duplicates").
// Fault injection: failing creates and appends (they leave a torn prefix behind, as a full
// disk does),
// failing syncs, and an operation budget after which every mutating call fails, modelling a
// process that stopped at that point. Deterministic: no clock, no random source; the seed of
// crash() drives a fixed generator. Thread-safe.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "queue/storage.hpp"

namespace pigeon::queue {

class MemoryStorage final : public Storage {
public:
    enum class CrashModel { drop_unsynced, tear_unsynced };

    Status create(const std::string& name, std::string_view bytes) override;
    Result<std::string> read(const std::string& name) const override;
    Result<std::vector<std::string>> list() const override;
    Status rename(const std::string& from, const std::string& to) override;
    Status remove(const std::string& name) override;
    Status append(const std::string& name, std::string_view bytes) override;
    Result<std::string> read_range(const std::string& name, std::uint64_t offset,
                                     std::uint64_t length) const override;
    Status sync() override;

    // Simulates power loss, then clears every injected fault and the budget.
    void crash(CrashModel model = CrashModel::drop_unsynced, std::uint64_t seed = 0);

    // When set, create() and append() store the first half of the bytes and fail with this
    // reason.
    void fail_creates(std::optional<std::string> reason);
    // When set, sync() fails with this reason and makes nothing durable.
    void fail_syncs(std::optional<std::string> reason);
    // After n more mutating calls (create, append, rename, remove, sync) succeed, every further one
    // fails without effect. nullopt: unlimited.
    void set_operation_budget(std::optional<std::size_t> n);

    std::size_t sync_count() const;       // successful syncs
    std::size_t mutation_count() const;   // successful create/append/rename/remove/sync calls
    std::map<std::string, std::string> files() const;          // the current view
    std::map<std::string, std::string> durable_files() const;  // what a crash would keep

private:
    Status spend(const char* op, const std::string& name);  // budget check; lock held

    mutable std::mutex mutex_;
    std::map<std::string, std::string> current_;
    std::map<std::string, std::string> durable_;
    std::optional<std::string> create_failure_;
    std::optional<std::string> sync_failure_;
    std::optional<std::size_t> budget_;
    std::size_t syncs_ = 0;
    std::size_t mutations_ = 0;
};

}  // namespace pigeon::queue
