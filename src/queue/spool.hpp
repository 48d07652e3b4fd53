// pigeon/queue/spool.hpp: the durable mail spool - commit, recovery, recipient states, removal.
//
// Contract: messages live in an injected Storage as one immutable message file
// "<id>.msg" plus, once any recipient's state changed, recipient-state files
// "<id>.<sequence>.rcpt" (highest valid sequence wins). Formats: record.hpp, docs/spool.md.
//   commit_batch()  writes every submission, then ONE Storage::sync() for the batch; an id is
//                   returned only after that sync succeeded (the 250 promise). On any failure
//                   the item gets an Error and its file is removed (best effort), so a failed
//                   message never reappears through a later sync.
//   recover()       on start: loads every complete message, applies its newest valid state
//                   file, discards (removes and counts) torn or corrupt files, orphaned state
//                   files and messages with no pending recipient left.
//   mark()          persists recipient states durably (its own sync) before returning ok.
//                   The states are whole RecipientStatus values (state, diagnostic, attempts,
//                   next attempt time, delay-notified flag): the caller writes what it means.
//   reschedule*()   sets next_attempt_unix of pending recipients (queue flush / retry); one
//                   state file per changed message, ONE sync for all of them, durable on ok.
//   due()/next_due() read the retry schedule: which messages may be tried now, and when the
//                   next one falls due (the delivery loop sleeps until then).
//   remove()        removes the message; durable when it returns ok.
// The spool never touches files, a clock or a random source directly: Storage, core::Clock and
// RandomSource are injected, so the simulator drives it deterministically. It never throws on
// bad input or I/O errors. Thread-safe: the group committer, the delivery worker and the admin
// CLI may call it concurrently (mark/remove serialise among themselves; commits run alongside).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/envelope.hpp"
#include "queue/queue_id.hpp"
#include "queue/record.hpp"
#include "queue/storage.hpp"

namespace pigeon::queue {

// One Enqueue action's payload (smtp::Enqueue carries the same three things).
struct Submission {
    core::Envelope envelope;
    std::shared_ptr<const std::string> message;
    std::string folder;  // delivery folder hint, may be empty
};

struct RecipientSummary {
    core::Path path;
    RecipientStatus status;
};

struct MessageSummary {
    std::string id;
    std::int64_t arrival_unix_seconds = 0;
    core::Path sender;
    std::vector<RecipientSummary> recipients;
    std::uint64_t size_octets = 0;  // the message octets, without the envelope
    std::string folder;
};

struct RecipientUpdate {
    std::size_t index = 0;  // into envelope.recipients
    RecipientStatus status;
};

struct RecoveryReport {
    std::size_t recovered = 0;         // messages now in the spool
    std::size_t discarded = 0;         // torn or corrupt message files removed
    std::size_t finished = 0;          // complete messages with nothing pending, removed
    std::size_t stale_state_files = 0; // superseded, torn or orphaned state files removed
    std::size_t unknown_files = 0;     // names the spool does not own (left alone)
    std::vector<std::string> problems; // one line per discarded file: name and reason
};

class Spool {
public:
    Spool(Storage& storage, const core::Clock& clock, RandomSource& random);
    Spool(const Spool&) = delete;
    Spool& operator=(const Spool&) = delete;

    // Call once, before anything else. Fails only if the storage cannot be listed.
    // repair: what the owning server does at start (removes torn, stale and finished files).
    // read_only: the same index, nothing removed: for tools that look at a live spool, where
    // a file being written right now would look torn.
    enum class Recovery { repair, read_only };
    Expected<RecoveryReport> recover(Recovery mode = Recovery::repair);

    // Per submission, in order: the queue id, or why it was not queued. One barrier in all.
    std::vector<Expected<std::string>> commit_batch(std::vector<Submission> batch);
    Expected<std::string> commit(Submission submission);  // a batch of one

    std::vector<MessageSummary> list() const;  // oldest first
    std::size_t size() const;                  // messages in the spool
    Expected<MessageRecord> show(const std::string& id) const;  // envelope, states and octets
    Status remove(const std::string& id);
    Status mark(const std::string& id, const std::vector<RecipientUpdate>& updates);

    // Ids (oldest first) of messages with a pending recipient for which select() is true,
    // e.g. "is local" for the delivery worker.
    std::vector<std::string> with_pending(const std::function<bool(const core::Path&)>& select) const;

    // Ids (oldest first) of messages with a pending recipient for which select() is true and
    // whose next_attempt_unix <= now_unix (0 counts as due). select() runs outside the lock.
    std::vector<std::string> due(std::int64_t now_unix,
                                 const std::function<bool(const core::Path&)>& select) const;
    // The earliest next_attempt_unix among pending recipients for which select() is true;
    // nullopt when there is none. A value <= now means "due now".
    std::optional<std::int64_t> next_due(const std::function<bool(const core::Path&)>& select) const;

    // Sets next_attempt_unix = when_unix for every pending recipient of every message (queue
    // flush) / of one message (queue retry), durably: one state file per message whose
    // states change, then one sync. Messages already at when_unix are not rewritten.
    // reschedule: an unknown id is Error "no message <id> in the queue". On an error no
    // index entry changes; after a crash each message has its old or its new states, whole.
    Status reschedule_all(std::int64_t when_unix);
    Status reschedule(const std::string& id, std::int64_t when_unix);

    // The envelope and newest recipient states of one message, without reading its octets
    // (the outbound engine builds its mark() updates from this). Error for an unknown id.
    Expected<SpoolEntry> entry(const std::string& id) const;

    // File names of a message and of one of its state files.
    static std::string message_file(const std::string& id);
    static std::string state_file(const std::string& id, std::uint32_t sequence);

private:
    struct Indexed {
        SpoolEntry entry;
        std::uint64_t size_octets = 0;
        std::uint32_t state_sequence = 0;  // 0: no state file, the message file's states hold
        std::uint32_t next_sequence = 1;   // above every state file name ever seen for it
    };

    MessageSummary summarize(const Indexed& x) const;

    struct StateChange {
        std::string id;
        std::vector<RecipientStatus> status;  // the whole new vector
    };
    // Writes one state file per change, one sync, then updates the index and removes the
    // superseded files. Caller holds update_mutex_; every id is in the index.
    Status persist_states(std::vector<StateChange> changes);
    // Pending recipients (path, next attempt) per message, copied under the lock.
    struct PendingView {
        std::string id;
        std::vector<std::pair<core::Path, std::int64_t>> recipients;
    };
    std::vector<PendingView> pending_view() const;

    Storage& storage_;
    const core::Clock& clock_;
    RandomSource& random_;

    mutable std::mutex mutex_;  // guards index_ and ids_; never held across Storage calls
    std::mutex update_mutex_;   // serialises mark() and remove(), which read-modify-write states
    std::map<std::string, Indexed> index_;
    QueueIdGenerator ids_;
};

}  // namespace pigeon::queue
