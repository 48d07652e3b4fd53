// pigeon/delivery/local_delivery.hpp: delivers spooled messages to local Maildirs.
//
// Contract: LocalDelivery::deliver(id) loads a committed message from the Spool and, for each
// PENDING recipient, asks the injected LocalResolver (the lead's policy code) what it is:
//   remote   left pending, untouched (the outbound role takes it later)
//   mailbox  written to that Maildir (folder hint honoured) -> delivered; a write error
//            (full disk...) leaves it pending, to be retried: nothing is half-delivered
//   discard  delivered with the diagnostic "discarded", no copy written anywhere (Postfix's
//            discard(8): no-reply addresses, benchmark sinks)
//   lmtp     handed to a mail store over LMTP (use_lmtp(), delivery/lmtp.hpp), as the user's
//            address (a folder hint "Junk" as the detail: user+Junk@domain, which Dovecot's
//            lmtp_save_to_detail_mailbox files in Junk). The store's reply per recipient
//            decides: 2xx delivered; 4xx (or no connection, or a timeout) left pending with
//            the next attempt after the queue's backoff (queue/retry.hpp: attempts and
//            next_attempt_unix, and failed once the retry period is over); 5xx failed with a
//            failure notice exactly as `unknown` below, its status from the store's reply.
//            Recipients of one message for the same endpoint go in one LMTP transaction; one
//            not yet due for its next attempt is left as it is.
//   unknown  marked failed with the resolver's reason (no such local user: a user removed
//            from the configuration after the message was accepted). With Bounces set, a
//            failure notice (RFC 3464 DSN, queue/dsn.hpp) to the sender is committed to the
//            spool FIRST (RFC 5321 6.1: accepted mail that cannot be delivered MUST be
//            reported); if that commit fails the recipient stays pending and is retried.
//            Never a notice about null-sender mail.
// Recipients of one message that resolve to the same Maildir get one copy.
// The new states are made durable in the spool (Spool::mark) before anything else happens;
// when no recipient is left pending the message is removed from the spool. When every
// recipient was delivered, the durable removal itself is the record and mark() is skipped
// (one barrier instead of two; a crash before it completes means one duplicate delivery,
// exactly as a crash before mark() would).
// deliver_batch(ids) does the same for several messages but removes every finished one with
// ONE Spool::remove_batch (one barrier for the batch instead of one per message). Marks
// (failed or deferred recipients) stay per message and come first, as in deliver(); a
// message is removed only after its Maildir copies are durable (MaildirWriter syncs each
// copy before it returns). An error in one message (unreadable, mark or removal failed)
// is reported for that id alone and leaves that message as it was; the others go on.
// A recipient is delivered at least once, never silently lost: the Maildir copy is durable
// before its state says delivered. LocalDeliveryWorker runs deliver_batch() on its own thread
// for every id waiting when it wakes (up to Options::max_batch; told by notify, e.g. from
// GroupCommitter's on_committed) and rescans the spool periodically for deferred ones.
// Never throws.
#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/address.hpp"
#include "core/mail_event.hpp"
#include "delivery/maildir.hpp"
#include "queue/retry.hpp"
#include "queue/spool.hpp"
#include "smtp/client/session.hpp"

namespace pigeon::delivery {

struct LocalTarget {
    // defer: local, but who receives cannot be known now (the user directory is
    // unavailable): the recipient stays pending and is retried, never bounced.
    enum class Kind { remote, mailbox, discard, unknown, lmtp, defer };
    Kind kind = Kind::remote;
    std::filesystem::path maildir;  // Kind::mailbox: the Maildir root (see maildir_path())
    std::string reason;             // Kind::unknown: stored as the failure diagnostic; defer: logged

    std::string endpoint;           // Kind::lmtp: "unix:/run/dovecot/lmtp", "127.0.0.1:24"
    core::Path address;             // Kind::lmtp: the address the store knows the user by

    static LocalTarget remote() { return {}; }
    static LocalTarget lmtp(std::string endpoint, core::Path address) {
        return {Kind::lmtp, {}, {}, std::move(endpoint), std::move(address)};
    }
    static LocalTarget mailbox(std::filesystem::path dir) { return {Kind::mailbox, std::move(dir), {}, {}, {}}; }
    static LocalTarget discard() { return {Kind::discard, {}, {}, {}, {}}; }
    static LocalTarget unknown(std::string why) { return {Kind::unknown, {}, std::move(why), {}, {}}; }
    static LocalTarget defer(std::string why) { return {Kind::defer, {}, std::move(why), {}, {}}; }
};

// Must be thread-safe and quick (a table lookup); called outside every lock.
using LocalResolver = std::function<LocalTarget(const core::Path& recipient)>;

struct DeliveryReport {
    std::size_t delivered = 0;  // recipients now delivered (discarded ones included)
    std::size_t discarded = 0;  // of those, delivered to a discard target (no copy written)
    std::size_t failed = 0;     // recipients now failed (unknown user)
    std::size_t deferred = 0;   // local recipients still pending after a write error
    std::size_t remote = 0;     // pending recipients that are not local
    bool removed = false;       // the message left the spool
    std::vector<std::string> notes;  // one line per deferred/failed recipient, for the log
    std::int64_t arrival_unix_seconds = 0;  // when the message was queued
    // The operator's line for each recipient tried (relay=local), times from Bounces::clock.
    std::vector<core::RecipientDelivery> deliveries;
};

// What a failure notice needs: the time, random bits for its MIME boundary, and whom to
// tell about the notice queued (the server wakes its deliverers).
struct Bounces {
    const core::Clock* clock = nullptr;
    queue::RandomSource* random = nullptr;  // thread-safe: used on the worker's thread
    std::function<void(const std::string& id, const std::vector<core::Path>& recipients)> on_queued;
};

// LMTP delivery for LocalTarget::Kind::lmtp: the (blocking) transaction, and the backoff of
// deferred recipients. deliver() is called on the delivering thread only.
struct LmtpDelivery {
    std::function<smtp::TransactionResult(const std::string& endpoint, smtp::ClientMessage message)> deliver;
    queue::RetryPolicy retry;
};

class LocalDelivery {
public:
    // hostname: written into Maildir file names (maildir_delivery_name), and the reporting
    // MTA of failure notices. bounces.clock == nullptr: no notices (tests of other things).
    LocalDelivery(queue::Spool& spool, LocalResolver resolver, MaildirWriter& writer,
                  std::string hostname = "localhost", Bounces bounces = {});

    // Delivers one message's pending local recipients. An Error means the spool could not be
    // read or updated; the message then stays as it was (its recipients are retried later).
    // after_restart: the first pass after a start, where a copy made before a crash may
    // already have been moved to cur/ by a mail reader (see MaildirWriter::deliver_once).
    queue::Result<DeliveryReport> deliver(const std::string& id, bool after_restart = false);

    // deliver() for several messages, with every finished one removed by ONE
    // Spool::remove_batch. One result per id, in order; an id given twice is delivered once
    // and both get its result. An error of one id does not stop the others.
    std::vector<queue::Result<DeliveryReport>> deliver_batch(const std::vector<std::string>& ids,
                                                               bool after_restart = false);

    // deliver_batch() for every message with a pending local recipient, in batches of
    // pending_batch_messages (one removal barrier each); returns how many it tried.
    static constexpr std::size_t pending_batch_messages = 256;
    // each (optional): every id tried and its result, in order.
    using PendingObserver = std::function<void(const std::string& id, const queue::Result<DeliveryReport>& result)>;
    std::size_t deliver_pending(bool after_restart = false, const PendingObserver& each = {});

    bool is_local(const core::Path& recipient) const;

    // Enables LocalTarget::Kind::lmtp (without it such recipients stay pending). Set before
    // delivery starts.
    void use_lmtp(LmtpDelivery lmtp) { lmtp_ = std::move(lmtp); }

    // Sees the report of every message deliver_batch() settled (a repeated id once), after
    // its removal, on the delivering thread: for metrics. Set before delivery starts.
    void observe(std::function<void(const DeliveryReport&)> on_report) { on_report_ = std::move(on_report); }

private:
    // deliver() without the final removal: `ready_to_remove` says the message has no pending
    // recipient left (its marks, if any, are durable) and may now be removed.
    queue::Result<DeliveryReport> deliver_unremoved(const std::string& id, bool after_restart,
                                                      bool& ready_to_remove);
    // Commits one failure notice for updates[k], k in failed; false if it could not be queued.
    std::int64_t now() const;  // Bounces::clock, or 0 without one
    // How a failure is reported when it is not "no such user" (5.1.1, relay=local).
    struct FailureInfo {
        core::EnhancedStatus status{5, 1, 1};
        std::string relay = "local";
        bool from_peer = false;  // the diagnostic is the store's reply
    };
    bool notify_failures(const queue::MessageRecord& record,
                         const std::vector<queue::RecipientUpdate>& updates,
                         const std::vector<std::size_t>& failed,
                         const std::map<std::size_t, FailureInfo>& info = {});
    // One LMTP transaction per endpoint for the recipients grouped there (index, address);
    // one result per recipient in each group's order (local_delivery_lmtp.cpp).
    using LmtpGroups = std::map<std::string, std::vector<std::pair<std::size_t, core::Path>>>;
    std::vector<std::pair<std::size_t, smtp::RecipientResult>> send_lmtp(const queue::MessageRecord& record,
                                                                          const LmtpGroups& groups);

    queue::Spool& spool_;
    LocalResolver resolver_;
    MaildirWriter& writer_;
    std::string hostname_;
    Bounces bounces_;
    std::function<void(const DeliveryReport&)> on_report_;
    LmtpDelivery lmtp_;
};

class LocalDeliveryWorker {
public:
    struct Options {
        // How often deferred recipients (a full disk) are retried without a new notify().
        std::chrono::milliseconds rescan_interval{60'000};
        // May be empty. With `event` set, the reports' notes are not logged: each is a delivery
        // event's line already.
        std::function<void(std::string_view line)> log;
        // Each report's deliveries and each removal (core/mail_event.hpp); may be empty.
        std::function<void(const core::MailEvent&)> event;
        // The most ids one wake-up takes (and removes with one barrier).
        std::size_t max_batch = 256;
        // Called at least every idle_interval while the worker waits (LMTP: QUIT sessions
        // idle too long); may be empty, and then the worker waits as before.
        std::function<void()> on_idle;
        std::chrono::milliseconds idle_interval{10'000};
        // Log (or send as events) what the periodic rescans deliver and defer too, not only
        // what notify() asked for: LMTP retries show in the log. Off: the log stays as it was.
        bool log_rescans = false;
    };

    // Starts the thread, which first delivers everything pending in the spool (recovery).
    explicit LocalDeliveryWorker(LocalDelivery& delivery);
    LocalDeliveryWorker(LocalDelivery& delivery, Options options);
    ~LocalDeliveryWorker();
    LocalDeliveryWorker(const LocalDeliveryWorker&) = delete;
    LocalDeliveryWorker& operator=(const LocalDeliveryWorker&) = delete;

    void notify(std::string id);  // thread-safe; a newly committed message
    void stop();                  // finishes the batch in hand, then joins
    std::size_t attempts() const;  // messages tried so far (each id of a batch counts)

private:
    void run();
    void log(const std::string& line) const;
    void report(const std::string& id, const queue::Result<DeliveryReport>& result) const;

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
