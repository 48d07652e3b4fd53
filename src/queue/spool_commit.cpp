// pigeon/queue/spool_commit.cpp: commit_batch(): a batch of messages appended with one barrier, ids returned
// only after it (the 250 promise).
#include "queue/spool.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <utility>

#include "queue/spool_files.hpp"

namespace pigeon::queue {

using namespace spool_files;

// The state of one commit_batch(), in fields, and its steps. In segment mode records are
// gathered into chunks and appended in order under segment_mutex_; each Written learns its
// segment and offset when its chunk is appended.
class Spool::CommitBatch {
public:
    CommitBatch(Spool& spool, std::size_t size)
        : spool_(spool),
          now_(spool.clock_.now_unix_seconds()),
          segmented_(spool.options_.segment_octets != 0),
          seg_lock_(spool.segment_mutex_, std::defer_lock) {
        out_.reserve(size);
    }

    void write(Submission& sub);  // one submission: encoded, then gathered, appended or stored
    std::vector<Result<std::string>> finish();  // the barrier, then the index

private:
    struct Written {
        std::size_t slot;
        Indexed indexed;
    };
    std::optional<Indexed> prepare(Submission& sub, std::size_t slot);
    void gather_small(Indexed x, const RecordParts& parts, const std::string_view (&octets)[2],
                      std::size_t slot);
    void append_large(Indexed x, const RecordParts& parts, const std::string_view (&octets)[2],
                      std::size_t slot);
    void store_file(Indexed x, RecordParts parts, const std::string_view (&octets)[2],
                    std::size_t slot);
    void flush_chunk();
    void lock_segments() {
        if (!seg_lock_.owns_lock()) seg_lock_.lock();
    }
    std::vector<Result<std::string>> abandon_after_append_error();
    std::vector<Result<std::string>> abandon_after_failed_sync(const Status& synced);

    Spool& spool_;
    const std::int64_t now_;
    const bool segmented_;
    std::vector<Result<std::string>> out_;
    std::vector<Written> written_;
    std::unique_lock<std::mutex> seg_lock_;
    std::string chunk_;
    std::vector<std::pair<std::size_t, std::uint64_t>> in_chunk_;  // (written index, offset in chunk)
    std::optional<std::string> append_error_;
};

std::vector<Result<std::string>> Spool::commit_batch(std::vector<Submission> batch) {
    CommitBatch commit(*this, batch.size());
    for (Submission& sub : batch) {
        commit.write(sub);
    }
    return commit.finish();
}

void Spool::CommitBatch::write(Submission& sub) {
    const std::size_t slot = out_.size();
    out_.emplace_back(Error{"not queued"});
    std::optional<Indexed> x = prepare(sub, slot);
    if (!x) {
        return;
    }
    const std::string_view octets[] = {sub.message.prefix(), sub.message.body()};
    auto parts = encode_message_record_parts(x->entry, octets);
    if (!parts) {
        out_[slot] = Error{"spool write failed: " + parts.error().message};
        return;
    }
    x->length = parts->head.size() + x->size_octets + parts->tail.size();
    if (!segmented_) {
        store_file(std::move(*x), std::move(*parts), octets, slot);
    } else if (x->size_octets < append_chunk_octets) {
        gather_small(std::move(*x), *parts, octets, slot);
    } else {
        append_large(std::move(*x), *parts, octets, slot);
    }
}

// A fresh id, the arrival time and every recipient pending; nullopt (and the slot's error)
// for a submission without a message or recipients.
std::optional<Spool::Indexed> Spool::CommitBatch::prepare(Submission& sub, std::size_t slot) {
    if (!sub.message) {
        out_[slot] = Error{"spool: no message"};
        return std::nullopt;
    }
    if (sub.envelope.recipients.empty()) {
        out_[slot] = Error{"spool: no recipients"};
        return std::nullopt;
    }
    Indexed x;
    {
        std::lock_guard lock(spool_.mutex_);
        for (int draw = 0; draw < max_id_draws; ++draw) {
            x.entry.id = spool_.ids_.next(now_, spool_.random_);
            if (spool_.index_.count(x.entry.id) == 0) {
                break;
            }
        }
    }
    x.entry.arrival_unix_seconds = now_;
    x.entry.status.assign(sub.envelope.recipients.size(), RecipientStatus{});
    x.entry.envelope = std::move(sub.envelope);
    x.entry.folder = std::move(sub.folder);
    x.size_octets = sub.message.size();
    return x;
}

// Small: copied once into the batch's chunk, appended with its neighbours.
void Spool::CommitBatch::gather_small(Indexed x, const RecordParts& parts,
                                      const std::string_view (&octets)[2], std::size_t slot) {
    in_chunk_.emplace_back(written_.size(), chunk_.size() + entry_prefix_octets);
    put_entry_length(chunk_, x.length);
    chunk_.append(parts.head).append(octets[0]).append(octets[1]).append(parts.tail);
    written_.push_back(Written{slot, std::move(x)});
    if (chunk_.size() >= append_chunk_octets) {
        flush_chunk();
    }
}

// Large (a message received into a spill file): appended from where it is, never copied, in
// order after what the batch gathered before it.
void Spool::CommitBatch::append_large(Indexed x, const RecordParts& parts,
                                      const std::string_view (&octets)[2], std::size_t slot) {
    flush_chunk();
    lock_segments();
    std::string framing;
    put_entry_length(framing, x.length);
    framing.append(parts.head);
    const std::string_view pieces[] = {framing, octets[0], octets[1], parts.tail};
    if (!append_error_) {
        if (auto at = spool_.append_locked(pieces, 1)) {
            x.segment = at->segment;
            x.offset = at->offset + entry_prefix_octets;
        } else {
            append_error_ = at.error().message;
        }
    }
    written_.push_back(Written{slot, std::move(x)});
}

// Without segments: a file of its own, "<id>.msg".
void Spool::CommitBatch::store_file(Indexed x, RecordParts parts,
                                    const std::string_view (&octets)[2], std::size_t slot) {
    std::string bytes = std::move(parts.head);
    bytes.append(octets[0]).append(octets[1]).append(parts.tail);
    const std::string file = message_file(x.entry.id);
    if (Status stored = spool_.storage_.create(file, bytes); !stored) {
        spool_.storage_.remove(file);  // a partial file must not become durable with the batch
        out_[slot] = Error{"spool write failed: " + stored.error().message};
        return;
    }
    written_.push_back(Written{slot, std::move(x)});
}

void Spool::CommitBatch::flush_chunk() {
    if (chunk_.empty()) {
        return;
    }
    lock_segments();
    if (!append_error_) {
        if (auto at = spool_.append_locked(chunk_, in_chunk_.size())) {
            for (const auto& [w, rel] : in_chunk_) {
                written_[w].indexed.segment = at->segment;
                written_[w].indexed.offset = at->offset + rel;
            }
        } else {
            append_error_ = at.error().message;
        }
    }
    chunk_.clear();
    in_chunk_.clear();
}

std::vector<Result<std::string>> Spool::CommitBatch::finish() {
    flush_chunk();
    if (append_error_) {
        return abandon_after_append_error();
    }
    if (seg_lock_.owns_lock()) {
        seg_lock_.unlock();
    }
    if (written_.empty()) {
        return std::move(out_);
    }
    // The one barrier of the batch: after it, every record above is on stable storage.
    if (Status synced = spool_.barrier(); !synced) {
        return abandon_after_failed_sync(synced);
    }
    {
        std::lock_guard lock(spool_.mutex_);
        for (Written& w : written_) {
            out_[w.slot] = w.indexed.entry.id;
            const std::string id = w.indexed.entry.id;
            spool_.index_.emplace(id, std::move(w.indexed));
        }
    }
    if (segmented_) {
        std::lock_guard relock(spool_.segment_mutex_);
        spool_.collect_locked();
    }
    return std::move(out_);
}

// Nothing of this batch is acknowledged. Whatever was appended before the failure is whole on
// disk and could outlive us: removal records make it dead.
std::vector<Result<std::string>> Spool::CommitBatch::abandon_after_append_error() {
    lock_segments();
    std::vector<std::string> dead;
    for (const Written& w : written_) {
        out_[w.slot] = Error{"spool write failed: " + *append_error_};
        if (w.indexed.segment != 0) {
            dead.push_back(w.indexed.entry.id);
            --spool_.segments_[w.indexed.segment].live;
        }
    }
    spool_.append_removals_locked(dead);
    return std::move(out_);
}

// Not acknowledged, so none of it may survive: the clients will retry.
std::vector<Result<std::string>> Spool::CommitBatch::abandon_after_failed_sync(
    const Status& synced) {
    std::vector<std::string> dead;
    for (const Written& w : written_) {
        if (w.indexed.segment == 0) {
            spool_.storage_.remove(message_file(w.indexed.entry.id));
        } else {
            dead.push_back(w.indexed.entry.id);
        }
        out_[w.slot] = Error{"spool sync failed: " + synced.error().message};
    }
    if (!dead.empty()) {
        std::lock_guard relock(spool_.segment_mutex_);
        for (const Written& w : written_) {
            if (w.indexed.segment != 0) {
                --spool_.segments_[w.indexed.segment].live;
            }
        }
        spool_.append_removals_locked(dead);
    }
    return std::move(out_);
}

Result<std::string> Spool::commit(Submission submission) {
    std::vector<Submission> one;
    one.push_back(std::move(submission));
    return std::move(commit_batch(std::move(one)).front());
}

}  // namespace pigeon::queue
