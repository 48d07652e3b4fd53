// pigeon/delivery/local_delivery.hpp: delivers spooled messages to local Maildirs.
//
// Contract: LocalDelivery::deliver(id) loads a committed message from the Spool and, for each
// PENDING recipient, asks the injected LocalResolver (the lead's policy code) what it is:
//   remote   left pending, untouched (the outbound role takes it later)
//   mailbox  written to that Maildir (folder hint honoured) -> delivered; a write error
//            (full disk...) leaves it pending, to be retried: nothing is half-delivered
//   unknown  marked failed with the resolver's reason (no such local user)
// Recipients of one message that resolve to the same Maildir get one copy.
// The new states are made durable in the spool (Spool::mark) before anything else happens;
// when no recipient is left pending the message is removed from the spool. When every
// recipient was delivered, the durable removal itself is the record and mark() is skipped
// (one barrier instead of two; a crash before it completes means one duplicate delivery,
// exactly as a crash before mark() would).
// A recipient is delivered at least once, never silently lost: the Maildir copy is durable
// before its state says delivered. LocalDeliveryWorker runs deliver() on its own thread for
// ids it is told about (notify, e.g. from GroupCommitter's on_committed) and rescans the spool
// periodically for deferred ones. Never throws.
#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/address.hpp"
#include "delivery/maildir.hpp"
#include "queue/spool.hpp"

namespace pigeon::delivery {

struct LocalTarget {
    enum class Kind { remote, mailbox, unknown };
    Kind kind = Kind::remote;
    std::filesystem::path maildir;  // Kind::mailbox: the Maildir root (see maildir_path())
    std::string reason;             // Kind::unknown: stored as the failure diagnostic

    static LocalTarget remote() { return {}; }
    static LocalTarget mailbox(std::filesystem::path dir) { return {Kind::mailbox, std::move(dir), {}}; }
    static LocalTarget unknown(std::string why) { return {Kind::unknown, {}, std::move(why)}; }
};

// Must be thread-safe and quick (a table lookup); called outside every lock.
using LocalResolver = std::function<LocalTarget(const core::Path& recipient)>;

struct DeliveryReport {
    std::size_t delivered = 0;  // recipients now delivered
    std::size_t failed = 0;     // recipients now failed (unknown user)
    std::size_t deferred = 0;   // local recipients still pending after a write error
    std::size_t remote = 0;     // pending recipients that are not local
    bool removed = false;       // the message left the spool
    std::vector<std::string> notes;  // one line per deferred/failed recipient, for the log
};

class LocalDelivery {
public:
    // hostname: written into Maildir file names (maildir_delivery_name).
    LocalDelivery(queue::Spool& spool, LocalResolver resolver, MaildirWriter& writer,
                  std::string hostname = "localhost");

    // Delivers one message's pending local recipients. An Error means the spool could not be
    // read or updated; the message then stays as it was (its recipients are retried later).
    // after_restart: the first pass after a start, where a copy made before a crash may
    // already have been moved to cur/ by a mail reader (see MaildirWriter::deliver_once).
    queue::Expected<DeliveryReport> deliver(const std::string& id, bool after_restart = false);

    // deliver() for every message with a pending local recipient; returns how many it tried.
    std::size_t deliver_pending(bool after_restart = false);

    bool is_local(const core::Path& recipient) const;

private:
    queue::Spool& spool_;
    LocalResolver resolver_;
    MaildirWriter& writer_;
    std::string hostname_;
};

class LocalDeliveryWorker {
public:
    struct Options {
        // How often deferred recipients (a full disk) are retried without a new notify().
        std::chrono::milliseconds rescan_interval{60'000};
        std::function<void(std::string_view line)> log;  // may be empty
    };

    // Starts the thread, which first delivers everything pending in the spool (recovery).
    explicit LocalDeliveryWorker(LocalDelivery& delivery);
    LocalDeliveryWorker(LocalDelivery& delivery, Options options);
    ~LocalDeliveryWorker();
    LocalDeliveryWorker(const LocalDeliveryWorker&) = delete;
    LocalDeliveryWorker& operator=(const LocalDeliveryWorker&) = delete;

    void notify(std::string id);  // thread-safe; a newly committed message
    void stop();                  // finishes the message in hand, then joins
    std::size_t attempts() const;  // deliver() calls so far

private:
    void run();
    void log(const std::string& line) const;

    LocalDelivery& delivery_;
    Options options_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::string> ids_;
    bool stopping_ = false;
    std::size_t attempts_ = 0;
    std::thread thread_;  // last: started once everything above is constructed
};

}  // namespace pigeon::delivery
