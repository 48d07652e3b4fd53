// pigeon queue list|show|delete: the spool of a state directory, read directly. Safe while the
// server runs for list and show; delete removes the files at once (a running server notices
// when it next touches the message).
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "app/commands.hpp"
#include "os/posix_storage.hpp"
#include "os/random.hpp"
#include "os/system_clock.hpp"
#include "queue/spool.hpp"

namespace pigeon::app {
namespace {

std::string when(std::int64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
    return buf;
}

// Opens the spool without creating anything: a missing spool is an empty queue.
template <class F>
int with_spool(const Config& config, F&& f) {
    const auto dir = std::filesystem::path(config.state_dir) / "queue";
    if (!std::filesystem::exists(dir)) return f(nullptr);
    auto storage = os::PosixStorage::open(dir.string(), os::SyncMode::fsync_each, false);
    if (!storage.ok()) {
        std::cerr << "pigeon: spool: " << storage.error() << "\n";
        return 1;
    }
    os::SystemClock clock;
    os::SystemRandom random;
    queue::Spool spool(**storage, clock, random);
    // Reads the index without repairing anything: the running server owns recovery.
    auto report = spool.recover(queue::Spool::Recovery::read_only);
    if (!report.ok()) {
        std::cerr << "pigeon: spool: " << report.error() << "\n";
        return 1;
    }
    return f(&spool);
}

}  // namespace

int run_queue_list(const Config& config) {
    return with_spool(config, [](queue::Spool* spool) {
        if (spool == nullptr || spool->size() == 0) {
            std::cout << "queue is empty\n";
            return 0;
        }
        for (const auto& m : spool->list()) {
            std::cout << m.id << "  " << when(m.arrival_unix_seconds) << "  " << m.size_octets
                      << " octets  from " << m.sender.to_string() << "\n";
            for (const auto& r : m.recipients)
                std::cout << "    " << r.path.to_string() << "  " << queue::state_name(r.status.state)
                          << (r.status.diagnostic.empty() ? "" : "  (" + r.status.diagnostic + ")")
                          << "\n";
        }
        std::cout << spool->size() << " message(s)\n";
        return 0;
    });
}

int run_queue_show(const Config& config, const std::string& id) {
    return with_spool(config, [&](queue::Spool* spool) {
        if (spool == nullptr) {
            std::cerr << "pigeon: no message " << id << " (the queue is empty)\n";
            return 1;
        }
        auto record = spool->show(id);
        if (!record.ok()) {
            std::cerr << "pigeon: no message " << id << ": " << record.error() << "\n";
            return 1;
        }
        const auto& e = record->entry;
        std::cout << "id:        " << e.id << "\narrived:   " << when(e.arrival_unix_seconds)
                  << "\nfrom:      " << e.envelope.reverse_path.to_string()
                  << "\nclient:    " << e.envelope.helo << " [" << e.envelope.client_address << "]"
                  << (e.envelope.tls ? " TLS" : "")
                  << (e.envelope.auth_identity.empty() ? "" : " user " + e.envelope.auth_identity)
                  << "\nsize:      " << record->message.size() << " octets\nrecipients:\n";
        for (std::size_t i = 0; i < e.envelope.recipients.size(); ++i)
            std::cout << "    " << e.envelope.recipients[i].to_string() << "  "
                      << queue::state_name(e.status[i].state)
                      << (e.status[i].diagnostic.empty() ? "" : "  (" + e.status[i].diagnostic + ")")
                      << "\n";
        std::cout << "\n" << record->message;
        return 0;
    });
}

int run_queue_delete(const Config& config, const std::string& id) {
    return with_spool(config, [&](queue::Spool* spool) {
        if (spool == nullptr || !spool->show(id).ok()) {
            std::cerr << "pigeon: no message " << id << "\n";
            return 1;
        }
        auto status = spool->remove(id);
        if (!status.ok()) {
            std::cerr << "pigeon: cannot delete " << id << ": " << status.error() << "\n";
            return 1;
        }
        std::cout << "deleted " << id << "\n";
        return 0;
    });
}

}  // namespace pigeon::app
