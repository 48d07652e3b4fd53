// pigeon/queue/spool_recovery.cpp: recover(): loading every complete message and its newest state at start
// (docs/spool.md, "Recovery").
#include "queue/spool.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <utility>

#include "queue/spool_files.hpp"

namespace pigeon::queue {

using namespace spool_files;

// What recovery has found so far: the files by kind, then the messages loaded from them.
struct Spool::RecoveryState {
    bool repair = true;
    RecoveryReport report;
    std::vector<std::string> message_ids;
    std::vector<std::uint64_t> segment_numbers;
    std::map<std::string, std::vector<std::uint32_t>> state_files;  // id -> sequences
    std::map<std::string, Indexed> loaded;
    std::map<std::uint64_t, Segment> segments;
    std::vector<std::string> finished;  // loaded, but no recipient is pending
};

Result<RecoveryReport> Spool::recover(Recovery mode) {
    RecoveryState r;
    r.repair = mode == Recovery::repair;
    auto names = storage_.list();
    if (!names) {
        return Error{"spool recovery: " + names.error().message};
    }
    sort_names(*names, r);
    load_message_files(r);  // 1. messages in their own files
    load_segments(r);       // 2. segments, oldest first
    apply_state_files(r);   // 3. the newest valid state file of each message
    install_recovered(r);
    if (r.repair) {
        repair_recovered(r);
    }
    {
        std::lock_guard lock(mutex_);
        r.report.recovered = index_.size();
    }
    return r.report;
}

void Spool::sort_names(const std::vector<std::string>& names, RecoveryState& r) {
    for (const std::string& name : names) {
        if (name.ends_with(message_suffix) &&
            is_valid_queue_id(std::string_view(name).substr(0, name.size() - message_suffix.size()))) {
            r.message_ids.push_back(name.substr(0, name.size() - message_suffix.size()));
        } else if (auto st = parse_state_name(name)) {
            r.state_files[st->first].push_back(st->second);
        } else if (auto seg = parse_segment_name(name)) {
            r.segment_numbers.push_back(*seg);
        } else {
            ++r.report.unknown_files;
        }
    }
}

void Spool::load_message_files(RecoveryState& r) {
    for (const std::string& id : r.message_ids) {
        const std::string file = message_file(id);
        auto bytes = storage_.read(file);
        std::optional<MessageRecord> rec;
        std::string problem;
        if (!bytes) {
            problem = bytes.error().message;
        } else if (auto decoded = decode_message_record(*bytes); !decoded) {
            problem = decoded.error().message;
        } else if (decoded->entry.id != id) {
            problem = "record holds id " + decoded->entry.id;
        } else {
            rec = std::move(decoded).value();
        }
        if (!rec) {
            // Never acknowledged (its sync did not complete) or damaged: either way it cannot
            // be delivered as it is. Removing it is idempotent, so no barrier is needed.
            if (r.repair) storage_.remove(file);
            ++r.report.discarded;
            r.report.problems.push_back(file + ": " + problem);
            continue;
        }
        Indexed x;
        x.size_octets = rec->message.size();
        x.entry = std::move(rec->entry);
        r.loaded.emplace(id, std::move(x));
    }
}

// A message record makes a message live, a removal record ends the copy in an earlier
// segment. A message's own file wins over a segment copy (it was copied out, and made durable
// before the copy was retired).
void Spool::load_segments(RecoveryState& r) {
    std::sort(r.segment_numbers.begin(), r.segment_numbers.end());
    for (std::uint64_t number : r.segment_numbers) {
        const std::string file = segment_file(number);
        Segment& seg = r.segments[number];
        auto bytes = storage_.read(file);
        if (!bytes) {
            r.report.problems.push_back(file + ": " + bytes.error().message);
            ++r.report.discarded;
            continue;
        }
        seg.octets = bytes->size();
        const SegmentScan scan = scan_segment(*bytes);
        for (const SegmentScan::Entry& e : scan.entries) {
            if (e.kind == record_kind_removal) {
                const std::string id = decode_removal_record(e.record).value();
                const auto it = r.loaded.find(id);
                if (it != r.loaded.end() && it->second.segment != 0) {
                    r.loaded.erase(it);
                }
                continue;
            }
            MessageRecord rec = decode_message_record(e.record).value();
            const std::string id = rec.entry.id;
            if (r.loaded.count(id) != 0) {
                continue;  // its own file (or an earlier copy) holds it
            }
            Indexed x;
            x.size_octets = rec.message.size();
            x.entry = std::move(rec.entry);
            x.segment = number;
            x.offset = e.offset;
            x.length = e.record.size();
            r.loaded.emplace(id, std::move(x));
        }
        if (scan.torn_at) {
            // An append that never completed a barrier: nothing after it was acknowledged
            // (appends to a segment stop at the first failure). The bytes stay; nothing more
            // is ever appended to this segment.
            ++r.report.discarded;
            r.report.problems.push_back(file + ": torn entry at offset " +
                                        std::to_string(*scan.torn_at) + ", " +
                                        std::to_string(bytes->size() - *scan.torn_at) +
                                        " octets ignored");
        }
    }
}

// Newest valid state file wins; everything else for a message is stale, and so are state
// files whose message is gone (the message's removal was durable, they are not).
void Spool::apply_state_files(RecoveryState& r) {
    for (auto& [id, x] : r.loaded) {
        auto& seqs = r.state_files[id];
        std::sort(seqs.rbegin(), seqs.rend());
        for (std::uint32_t seq : seqs) {
            x.next_sequence = std::max(x.next_sequence, seq + 1);
            bool chosen = false;
            if (x.state_sequence == 0) {
                auto st_bytes = storage_.read(state_file(id, seq));
                if (st_bytes) {
                    auto st = decode_state_record(*st_bytes);
                    if (st && st->id == id && st->sequence == seq &&
                        st->status.size() == x.entry.envelope.recipients.size()) {
                        x.entry.status = std::move(st->status);
                        x.entry.held = st->held;
                        x.state_sequence = seq;
                        chosen = true;
                    }
                }
            }
            if (!chosen) {
                if (r.repair) storage_.remove(state_file(id, seq));
                ++r.report.stale_state_files;
            }
        }
        r.state_files.erase(id);
        if (!has_pending(x.entry.status)) {
            r.finished.push_back(id);
        }
        if (x.segment != 0) {
            ++r.segments[x.segment].live;
        }
    }
    for (const auto& [id, seqs] : r.state_files) {
        for (std::uint32_t seq : seqs) {
            if (r.repair) storage_.remove(state_file(id, seq));
            ++r.report.stale_state_files;
        }
    }
}

// The segments and the index take what was loaded; without repair, finished messages are
// left out of the index (and their files alone).
void Spool::install_recovered(RecoveryState& r) {
    {
        std::lock_guard seg_lock(segment_mutex_);
        segments_ = std::move(r.segments);
        active_ = 0;  // never append after a possibly torn tail: a new segment is started
        next_segment_ = segments_.empty() ? 1 : segments_.rbegin()->first + 1;
    }
    r.report.finished = r.finished.size();
    if (!r.repair) {
        for (const std::string& id : r.finished) {
            r.loaded.erase(id);
        }
    }
    std::lock_guard lock(mutex_);
    for (auto& [id, x] : r.loaded) {
        index_.insert_or_assign(id, std::move(x));
    }
}

void Spool::repair_recovered(RecoveryState& r) {
    // Finished messages: their removal did not become durable before the crash. The
    // ordinary removal does it (message first, a barrier, then its state file).
    remove_batch(r.finished);
    // Segments with nothing live, oldest first, each deletion durable before the next.
    for (;;) {
        {
            std::lock_guard seg_lock(segment_mutex_);
            collect_locked();
        }
        if (deletions_synced_.load() >= deletions_issued_.load() || !barrier()) {
            break;  // nothing left to delete (or the disk refuses: the next start retries)
        }
    }
}

}  // namespace pigeon::queue
