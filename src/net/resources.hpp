// pigeon/net/resources.hpp: the server-wide resources sessions share: the memory of messages in
// flight (smtp::ResourceGate) and the free space of the spool's file system (asked by the
// sender policy at MAIL).
//
// Contract:
//   - Message memory: reserve_message_memory(n) takes n octets if the total stays within
//     `message_memory_octets`, else takes nothing and says no; release gives them back.
//     message_memory_fits(n) says whether n more would fit now. Lock-free (one
//     atomic), callable from every I/O thread. The octets counted are those of the messages as
//     sessions hold them (the DATA buffer, then the received message until the spool has it);
//     docs/security.md says what else a message costs while it is checked.
//   - Storage: storage_low() asks the file system of `spool_dir` (statvfs) each time, and is
//     true when the space available to unprivileged users is below `min_free_octets`. 0 turns
//     the check off. A statvfs failure counts as low (and is reported once through `log`):
//     refusing new mail for a while is better than accepting it onto a disk we cannot see.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "smtp/server/session.hpp"

namespace pigeon::net {

class ServerResources final : public smtp::ResourceGate {
public:
    struct Options {
        std::uint64_t message_memory_octets = 512ull << 20;
        std::string spool_dir;              // empty: no storage check
        std::uint64_t min_free_octets = 0;  // 0: no storage check
        std::function<void(std::string_view)> log;  // problems (a failed statvfs), may be empty
    };
    explicit ServerResources(Options options);

    bool storage_low() const;  // for the sender policy at MAIL (app/services.hpp)
    bool message_memory_fits(std::size_t octets) const override;
    bool reserve_message_memory(std::size_t octets) override;
    void release_message_memory(std::size_t octets) override;

    std::uint64_t message_memory_in_use() const { return in_flight_.load(std::memory_order_relaxed); }
    // Free space available to the service user; nullopt when it cannot be read.
    static std::optional<std::uint64_t> available_octets(const std::string& dir);

private:
    Options options_;
    std::atomic<std::uint64_t> in_flight_{0};
    mutable std::atomic<bool> reported_{false};
};

}  // namespace pigeon::net
