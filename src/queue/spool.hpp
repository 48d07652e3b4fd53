// pigeon/queue/spool.hpp: the durable mail spool - commit, recovery, recipient states, removal.
//
// Contract: messages live in an injected Storage. A fresh message is appended, with the rest
// of its commit batch, to the current segment file "<number>.seg" (one append and one barrier
// per batch, no new file per message); its removal is a removal record appended the same way.
// A message that outlives its segment is copied out to its own file "<id>.msg" so the segment
// can be deleted; spools written before segments hold only such files, and still load. Once
// any recipient's state changed there are recipient-state files "<id>.<sequence>.rcpt"
// (highest valid sequence wins). Formats and the crash argument: record.hpp, docs/spool.md.
//   commit_batch()  writes every submission, then ONE Storage::sync() for the batch; an id is
//                   returned only after that sync succeeded (the 250 promise). On any failure
//                   the item gets an Error and is made dead (its file removed, or a removal
//                   record appended, best effort), so a failed message does not reappear
//                   through a later sync while this process runs.
//   recover()       on start: loads every complete message, applies its newest valid state
//                   file, discards (removes and counts) torn or corrupt files and segment
//                   tails, orphaned state files and messages with no pending recipient left.
//   mark()          persists recipient states durably (its own sync) before returning ok.
//                   The states are whole RecipientStatus values (state, diagnostic, attempts,
//                   next attempt time, delay-notified flag): the caller writes what it means.
//   reschedule*()   sets next_attempt_unix of pending recipients (queue flush / retry); one
//                   state file per changed message, ONE sync for all of them, durable on ok.
//   due()/next_due() read the retry schedule: which messages may be tried now, and when the
//                   next one falls due (the delivery loop sleeps until then).
//   hold()          puts a message on hold or releases it, durably (a state file of format
//                   version 3, record.hpp). A held message stays in the spool, survives
//                   restarts and is left out of with_pending(), due() and next_due(), so
//                   neither deliverer picks it up; an attempt already under way finishes.
//   remove()        removes the message; durable when it returns ok. remove_batch(): several,
//                   one sync. An id the spool does not hold (never, or removed already by
//                   another deliverer) is the Error "no message <id> in the spool".
// Segments are deleted oldest first, one per completed barrier, and only when none of their
// messages is live: a removal record in a newer segment can then never outlive the segment
// it refers to.
// The spool never touches files, a clock or a random source directly: Storage, core::Clock and
// RandomSource are injected, so the simulator drives it deterministically. It never throws on
// bad input or I/O errors. Thread-safe: the group committer, the delivery worker and the admin
// CLI may call it concurrently (mark/remove serialise among themselves; commits run alongside).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/envelope.hpp"
#include "core/message_ref.hpp"
#include "queue/queue_id.hpp"
#include "queue/record.hpp"
#include "queue/storage.hpp"

namespace pigeon::queue {

// One Enqueue action's payload (smtp::Enqueue carries the same three things).
struct Submission {
    core::Envelope envelope;
    core::MessageRef message;  // its octets: prefix() then body()
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
    bool held = false;              // `pigeon queue hold`
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

struct SpoolOptions {
    // Commits append to the current segment until it holds this many octets; the next
    // commit starts a new one. 0: no segments, every message in its own "<id>.msg" file.
    std::uint64_t segment_octets = 16u << 20;
    // A segment still holding live messages when more than this many newer segments exist
    // has them copied out to their own files (a deferred message must not pin the disk space of the
    // thousands delivered around it).
    std::uint32_t migrate_after_segments = 2;
    // When nothing in the current segment is live any more and it holds at least this many
    // octets, the next commit starts a new segment so that this one can be deleted: what an
    // idle spool keeps on disk is bounded by this (0: an idle spool keeps no segment).
    std::uint64_t retire_idle_octets = 1u << 20;
};

// True for the Error a Spool gives about an id it does not hold (ErrorCode::unknown_message,
// "no message <id> in the spool"): e.g. a removal that finds the other deliverer removed the
// message first. It looks at the code, never at the text.
bool is_unknown_message(const Status& status);

class Spool {
public:
    Spool(Storage& storage, const core::Clock& clock, RandomSource& random, SpoolOptions options = {});
    Spool(const Spool&) = delete;
    Spool& operator=(const Spool&) = delete;

    // Call once, before anything else. Fails only if the storage cannot be listed.
    // repair: what the owning server does at start (removes torn, stale and finished files).
    // read_only: the same index, nothing removed: for tools that look at a live spool, where
    // a file being written right now would look torn.
    enum class Recovery { repair, read_only };
    Result<RecoveryReport> recover(Recovery mode = Recovery::repair);

    // Per submission, in order: the queue id, or why it was not queued. One barrier in all.
    std::vector<Result<std::string>> commit_batch(std::vector<Submission> batch);
    Result<std::string> commit(Submission submission);  // a batch of one

    std::vector<MessageSummary> list() const;  // oldest first
    std::size_t size() const;                  // messages in the spool
    Result<MessageRecord> show(const std::string& id) const;  // envelope, states and octets
    Status remove(const std::string& id);
    // remove() for several messages with ONE barrier for all of them (the local delivery
    // worker's batch). Per id, in order: ok (durable) or why not; an unknown id fails alone.
    std::vector<Status> remove_batch(const std::vector<std::string>& ids);
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

    // Holds (held = true) or releases a message, durably before ok; the recipient states are
    // kept as they are. An unknown id is Error "no message <id> in the queue". Holding a held
    // message, or releasing one that is not held, changes nothing and is ok.
    Status hold(const std::string& id, bool held);
    // hold() for every message (`queue hold --all` / `release --all`): one state file per
    // message whose flag changes, then one sync, as reschedule_all. The ids changed, in index
    // order; on an error no index entry changes.
    Result<std::vector<std::string>> hold_all(bool held);

    // The envelope and newest recipient states of one message, without reading its octets
    // (the outbound engine builds its mark() updates from this). Error for an unknown id.
    Result<SpoolEntry> entry(const std::string& id) const;

    // File names of a message, of one of its state files and of a segment.
    static std::string message_file(const std::string& id);
    static std::string state_file(const std::string& id, std::uint32_t sequence);
    static std::string segment_file(std::uint64_t number);

    std::size_t segment_count() const;  // segment files the spool holds (tests, docs)

private:
    struct Indexed {
        SpoolEntry entry;
        std::uint64_t size_octets = 0;
        std::uint32_t state_sequence = 0;  // 0: no state file, the message file's states hold
        std::uint32_t next_sequence = 1;   // above every state file name ever seen for it
        // Where the message record is: segment 0 means its own file "<id>.msg"; otherwise
        // `length` octets at `offset` of segment file `segment`.
        std::uint64_t segment = 0;
        std::uint64_t offset = 0;
        std::uint64_t length = 0;
    };
    struct Segment {
        std::size_t live = 0;       // messages in it not yet removed (or being committed)
        std::uint64_t octets = 0;   // appended so far
    };
    struct Appended {
        std::uint64_t segment = 0;
        std::uint64_t offset = 0;   // of the first appended octet
    };
    // Appends to the current segment (starting a new one when there is none or it is full),
    // counting `messages` new live messages in it. On failure the segment is retired: its
    // tail may be torn, so nothing is appended after it. Caller holds segment_mutex_.
    Result<Appended> append_locked(std::string_view bytes, std::size_t messages);
    Result<Appended> append_locked(std::span<const std::string_view> parts, std::size_t messages);
    // Appends removal records for ids (their copies in segments are dead). segment_mutex_ held.
    Status append_removals_locked(const std::vector<std::string>& ids);
    // storage_.sync(), noting which segment deletions it made durable.
    Status barrier();
    // Deletes the oldest segment if nothing in it is live and the previous deletion is durable.
    void collect_locked();  // segment_mutex_ held
    // Copies live messages out of old segments into their own files (see SpoolOptions),
    // then collects. Caller holds update_mutex_ (so no remove/mark races with the move).
    void migrate_and_collect();

    MessageSummary summarize(const Indexed& x) const;

    // One commit_batch() call: its records, the segment chunk being gathered, and the steps
    // (spool_commit.cpp).
    class CommitBatch;

    // recover()'s steps, in order (spool_recovery.cpp); their shared state is one
    // RecoveryState, defined there.
    struct RecoveryState;
    static void sort_names(const std::vector<std::string>& names, RecoveryState& r);
    void load_message_files(RecoveryState& r);
    void load_segments(RecoveryState& r);
    void apply_state_files(RecoveryState& r);
    void install_recovered(RecoveryState& r);
    void repair_recovered(RecoveryState& r);

    struct StateChange {
        std::string id;
        std::vector<RecipientStatus> status;  // the whole new vector
        std::optional<bool> held;             // nullopt: as it is now
    };
    // Writes one state file per change, one sync, then updates the index and removes the
    // superseded files. Caller holds update_mutex_; every id is in the index.
    Status persist_states(std::vector<StateChange> changes);
    // One message's change: `change` sees its entry under the lock and returns the change to
    // persist, or nullopt when there is nothing to do. An unknown id is an unknown_message
    // error. Takes update_mutex_ itself.
    Status change_message(const std::string& id,
                          const std::function<std::optional<StateChange>(const SpoolEntry&)>& change);
    // Pending recipients (path, next attempt) per message, copied under the lock.
    struct PendingView {
        std::string id;
        std::vector<std::pair<core::Path, std::int64_t>> recipients;
    };
    std::vector<PendingView> pending_view() const;

    Storage& storage_;
    const core::Clock& clock_;
    RandomSource& random_;

    SpoolOptions options_;

    // Lock order: update_mutex_, then segment_mutex_, then mutex_.
    mutable std::mutex mutex_;  // guards index_ and ids_; never held across Storage calls
    std::mutex update_mutex_;   // serialises mark() and remove(), which read-modify-write states
    mutable std::mutex segment_mutex_;  // segments_, active_, next_segment_; held across appends
    std::map<std::string, Indexed> index_;
    QueueIdGenerator ids_;
    std::map<std::uint64_t, Segment> segments_;
    std::uint64_t active_ = 0;        // the segment commits append to; 0: start a new one
    std::uint64_t next_segment_ = 1;
    std::atomic<std::uint64_t> deletions_issued_{0};  // segment deletions started
    std::atomic<std::uint64_t> deletions_synced_{0};  // ... of which a barrier made durable
};

}  // namespace pigeon::queue
