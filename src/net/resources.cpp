#include "net/resources.hpp"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace pigeon::net {

ServerResources::ServerResources(Options options) : options_(std::move(options)) {}

std::optional<std::uint64_t> ServerResources::available_octets(const std::string& dir) {
    struct statvfs st {};
    if (::statvfs(dir.c_str(), &st) != 0) return std::nullopt;
    return static_cast<std::uint64_t>(st.f_bavail) * static_cast<std::uint64_t>(st.f_frsize);
}

bool ServerResources::storage_low() const {
    if (options_.min_free_octets == 0 || options_.spool_dir.empty()) return false;
    const auto free = available_octets(options_.spool_dir);
    if (!free) {
        if (!reported_.exchange(true) && options_.log)
            options_.log("cannot read the free space of " + options_.spool_dir + ": " +
                         std::strerror(errno) + "; refusing new mail until it can be read");
        return true;
    }
    return *free < options_.min_free_octets;
}

bool ServerResources::message_memory_fits(std::size_t octets) const {
    return in_flight_.load(std::memory_order_relaxed) + octets <= options_.message_memory_octets;
}

bool ServerResources::reserve_message_memory(std::size_t octets) {
    std::uint64_t now = in_flight_.load(std::memory_order_relaxed);
    do {
        if (now + octets > options_.message_memory_octets) return false;
    } while (!in_flight_.compare_exchange_weak(now, now + octets, std::memory_order_relaxed));
    return true;
}

void ServerResources::release_message_memory(std::size_t octets) {
    in_flight_.fetch_sub(octets, std::memory_order_relaxed);
}

}  // namespace pigeon::net
