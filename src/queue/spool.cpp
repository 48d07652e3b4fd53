// pigeon/queue/spool.cpp: commit with one barrier per batch, recovery, recipient states.
#include "queue/spool.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <utility>

namespace pigeon::queue {
namespace {

constexpr std::string_view message_suffix = ".msg";
constexpr std::string_view state_suffix = ".rcpt";
constexpr std::string_view segment_suffix = ".seg";
constexpr std::size_t segment_digits = 12;
// Each segment entry is a u64 little-endian length, then one record of that length.
constexpr std::size_t entry_prefix_octets = 8;
// A commit batch is appended in pieces of about this size, so a batch of large messages is
// not copied into one buffer of hundreds of MiB.
constexpr std::size_t append_chunk_octets = 4u << 20;
// A fresh id collides with a spooled one only if clock, counter and 20 random bits all
// match; a few draws make that impossible in practice without looping forever.
constexpr int max_id_draws = 8;

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool has_pending(const std::vector<RecipientStatus>& status) {
    return std::any_of(status.begin(), status.end(),
                       [](const RecipientStatus& s) { return s.state == RecipientState::pending; });
}

// "<id>.<sequence>.rcpt" -> (id, sequence); nullopt for any other name.
std::optional<std::pair<std::string, std::uint32_t>> parse_state_name(std::string_view name) {
    if (!ends_with(name, state_suffix)) {
        return std::nullopt;
    }
    name.remove_suffix(state_suffix.size());
    const auto dot = name.find('.');
    if (dot == std::string_view::npos) {
        return std::nullopt;
    }
    const std::string_view id = name.substr(0, dot);
    const std::string_view digits = name.substr(dot + 1);
    std::uint32_t seq = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
    if (!is_valid_queue_id(id) || digits.empty() || ec != std::errc() ||
        end != digits.data() + digits.size() || seq == 0) {
        return std::nullopt;
    }
    return std::make_pair(std::string(id), seq);
}

// "<12 digits>.seg" -> number (never 0); nullopt for any other name.
std::optional<std::uint64_t> parse_segment_name(std::string_view name) {
    if (!ends_with(name, segment_suffix) || name.size() != segment_digits + segment_suffix.size()) {
        return std::nullopt;
    }
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + segment_digits, n);
    if (ec != std::errc() || end != name.data() + segment_digits || n == 0) {
        return std::nullopt;
    }
    return n;
}

void put_entry_length(std::string& out, std::uint64_t n) {
    for (std::size_t i = 0; i < entry_prefix_octets; ++i) {
        out.push_back(static_cast<char>(n & 0xFFu));
        n >>= 8;
    }
}

void put_entry(std::string& out, std::string_view record) {
    put_entry_length(out, record.size());
    out.append(record);
}

// One parsed segment: its records in order, and where (if anywhere) it stopped being valid.
struct SegmentScan {
    struct Entry {
        std::uint16_t kind = 0;
        std::uint64_t offset = 0;  // of the record (after its length prefix)
        std::string_view record;
    };
    std::vector<Entry> entries;
    std::optional<std::uint64_t> torn_at;  // offset of the first entry that is not whole
};

SegmentScan scan_segment(std::string_view bytes) {
    SegmentScan scan;
    std::uint64_t pos = 0;
    while (pos < bytes.size()) {
        if (bytes.size() - pos < entry_prefix_octets) {
            scan.torn_at = pos;
            break;
        }
        std::uint64_t n = 0;
        for (std::size_t i = 0; i < entry_prefix_octets; ++i) {
            n |= std::uint64_t{static_cast<unsigned char>(bytes[pos + i])} << (8 * i);
        }
        const std::uint64_t start = pos + entry_prefix_octets;
        if (n < record_header_octets + record_trailer_octets || n > bytes.size() - start) {
            scan.torn_at = pos;
            break;
        }
        const std::string_view record = bytes.substr(start, n);
        const std::uint16_t kind = record_kind(record);
        // The record's own trailer (length and CRC-32C) decides whether it is whole.
        const bool whole = kind == record_kind_message   ? decode_message_record(record).ok()
                           : kind == record_kind_removal ? decode_removal_record(record).ok()
                                                         : false;
        if (!whole) {
            scan.torn_at = pos;
            break;
        }
        scan.entries.push_back({kind, start, record});
        pos = start + n;
    }
    return scan;
}

}  // namespace

bool is_unknown_message(const Status& status) {
    return !status && status.error().rfind("no message ", 0) == 0;
}

Spool::Spool(Storage& storage, const core::Clock& clock, RandomSource& random, SpoolOptions options)
    : storage_(storage), clock_(clock), random_(random), options_(options) {}

std::string Spool::segment_file(std::uint64_t number) {
    std::string digits = std::to_string(number);
    if (digits.size() < segment_digits) {
        digits.insert(0, segment_digits - digits.size(), '0');
    }
    return digits + std::string(segment_suffix);
}

std::size_t Spool::segment_count() const {
    std::lock_guard lock(segment_mutex_);
    return segments_.size();
}

Status Spool::barrier() {
    // Deletions issued before the sync starts are durable when it returns ok.
    const std::uint64_t ticket = deletions_issued_.load();
    Status s = storage_.sync();
    if (s) {
        std::uint64_t seen = deletions_synced_.load();
        while (seen < ticket && !deletions_synced_.compare_exchange_weak(seen, ticket)) {
        }
    }
    return s;
}

Expected<Spool::Appended> Spool::append_locked(std::string_view bytes, std::size_t messages) {
    const std::string_view one[] = {bytes};
    return append_locked(one, messages);
}

Expected<Spool::Appended> Spool::append_locked(std::span<const std::string_view> parts,
                                               std::size_t messages) {
    std::uint64_t octets = 0;
    for (const std::string_view p : parts) {
        octets += p.size();
    }
    if (active_ == 0 || segments_[active_].octets >= options_.segment_octets) {
        active_ = next_segment_++;
        segments_[active_] = Segment{};
    }
    Segment& seg = segments_[active_];
    const Appended at{active_, seg.octets};
    if (Status s = storage_.append_parts(segment_file(active_), parts); !s) {
        if (at.offset == 0) {
            // A new segment holding nothing but the torn bytes: nothing refers to it.
            storage_.remove(segment_file(active_));
            segments_.erase(active_);
        } else {
            // The file may now end in a torn entry; recovery stops reading a segment there,
            // so nothing may follow it: it is retired, the next append starts a new one.
            seg.octets += octets;
        }
        active_ = 0;
        return Error{s.error()};
    }
    seg.octets += octets;
    seg.live += messages;
    return at;
}

Status Spool::append_removals_locked(const std::vector<std::string>& ids) {
    std::string bytes;
    for (const std::string& id : ids) {
        auto rec = encode_removal_record(id);
        if (!rec) {
            return Error{rec.error()};
        }
        put_entry(bytes, *rec);
    }
    if (bytes.empty()) {
        return {};
    }
    auto at = append_locked(bytes, 0);
    if (!at) {
        return Error{at.error()};
    }
    return {};
}

void Spool::collect_locked() {
    if (active_ != 0) {
        const Segment& current = segments_[active_];
        if (current.live == 0 && current.octets >= options_.retire_idle_octets) {
            active_ = 0;  // caught up: the next commit starts a new segment, this one can go
        }
    }
    if (deletions_synced_.load() < deletions_issued_.load() || segments_.empty()) {
        return;  // the previous deletion is not durable yet: one at a time, oldest first
    }
    const auto oldest = segments_.begin();
    if (oldest->first == active_ || oldest->second.live != 0) {
        return;
    }
    // Issued before the deletion itself, so a barrier running concurrently cannot count it.
    ++deletions_issued_;
    if (storage_.remove(segment_file(oldest->first))) {
        segments_.erase(oldest);
    } else {
        // Nothing was deleted; count it synced so the next barrier lets us try again.
        ++deletions_synced_;
    }
}

void Spool::migrate_and_collect() {
    std::lock_guard seg_lock(segment_mutex_);
    if (options_.segment_octets != 0 && segments_.size() > options_.migrate_after_segments + 1) {
        const auto oldest = segments_.begin();
        if (oldest->first != active_ && oldest->second.live != 0) {
            const std::uint64_t number = oldest->first;
            std::vector<std::pair<std::string, Indexed>> movers;
            {
                std::lock_guard lock(mutex_);
                for (const auto& [id, x] : index_) {
                    if (x.segment == number) {
                        movers.emplace_back(id, x);
                    }
                }
            }
            // Each copy goes to its own file and is made durable BEFORE the removal records
            // that retire the segment copies: a crash in between keeps one valid copy.
            std::vector<std::string> moved;
            for (const auto& [id, x] : movers) {
                auto bytes = storage_.read_range(segment_file(number), x.offset, x.length);
                if (!bytes || !storage_.create(message_file(id), *bytes)) {
                    storage_.remove(message_file(id));
                    continue;
                }
                moved.push_back(id);
            }
            if (!moved.empty() && barrier() && append_removals_locked(moved)) {
                std::lock_guard lock(mutex_);
                for (const std::string& id : moved) {
                    if (auto it = index_.find(id); it != index_.end()) {
                        it->second.segment = 0;
                        --segments_[number].live;
                    }
                }
            } else {
                // The index still points at the segment copies, so a later remove() would
                // retire only those: the files must not outlive this attempt.
                for (const std::string& id : moved) {
                    storage_.remove(message_file(id));
                }
            }
        }
    }
    collect_locked();
}

std::string Spool::message_file(const std::string& id) { return id + std::string(message_suffix); }

std::string Spool::state_file(const std::string& id, std::uint32_t sequence) {
    return id + "." + std::to_string(sequence) + std::string(state_suffix);
}

Expected<RecoveryReport> Spool::recover(Recovery mode) {
    const bool repair = mode == Recovery::repair;
    auto names = storage_.list();
    if (!names) {
        return Error{"spool recovery: " + names.error()};
    }
    RecoveryReport report;
    std::vector<std::string> message_ids;
    std::vector<std::uint64_t> segment_numbers;
    std::map<std::string, std::vector<std::uint32_t>> state_files;  // id -> sequences
    for (const std::string& name : *names) {
        if (ends_with(name, message_suffix) &&
            is_valid_queue_id(std::string_view(name).substr(0, name.size() - message_suffix.size()))) {
            message_ids.push_back(name.substr(0, name.size() - message_suffix.size()));
        } else if (auto st = parse_state_name(name)) {
            state_files[st->first].push_back(st->second);
        } else if (auto seg = parse_segment_name(name)) {
            segment_numbers.push_back(*seg);
        } else {
            ++report.unknown_files;
        }
    }

    std::map<std::string, Indexed> loaded;
    // 1. Messages in their own files.
    for (const std::string& id : message_ids) {
        const std::string file = message_file(id);
        auto bytes = storage_.read(file);
        std::optional<MessageRecord> rec;
        std::string problem;
        if (!bytes) {
            problem = bytes.error();
        } else if (auto decoded = decode_message_record(*bytes); !decoded) {
            problem = decoded.error();
        } else if (decoded->entry.id != id) {
            problem = "record holds id " + decoded->entry.id;
        } else {
            rec = std::move(decoded).value();
        }
        if (!rec) {
            // Never acknowledged (its sync did not complete) or damaged: either way it cannot
            // be delivered as it is. Removing it is idempotent, so no barrier is needed.
            if (repair) storage_.remove(file);
            ++report.discarded;
            report.problems.push_back(file + ": " + problem);
            continue;
        }
        Indexed x;
        x.size_octets = rec->message.size();
        x.entry = std::move(rec->entry);
        loaded.emplace(id, std::move(x));
    }

    // 2. Segments, oldest first: a message record makes a message live, a removal record
    // ends the copy in an earlier segment. A message's own file wins over a segment copy
    // (it was copied out, and made durable before the copy was retired).
    std::sort(segment_numbers.begin(), segment_numbers.end());
    std::map<std::uint64_t, Segment> segments;
    for (std::uint64_t number : segment_numbers) {
        const std::string file = segment_file(number);
        Segment& seg = segments[number];
        auto bytes = storage_.read(file);
        if (!bytes) {
            report.problems.push_back(file + ": " + bytes.error());
            ++report.discarded;
            continue;
        }
        seg.octets = bytes->size();
        const SegmentScan scan = scan_segment(*bytes);
        for (const SegmentScan::Entry& e : scan.entries) {
            if (e.kind == record_kind_removal) {
                const std::string id = decode_removal_record(e.record).value();
                const auto it = loaded.find(id);
                if (it != loaded.end() && it->second.segment != 0) {
                    loaded.erase(it);
                }
                continue;
            }
            MessageRecord rec = decode_message_record(e.record).value();
            const std::string id = rec.entry.id;
            if (loaded.count(id) != 0) {
                continue;  // its own file (or an earlier copy) holds it
            }
            Indexed x;
            x.size_octets = rec.message.size();
            x.entry = std::move(rec.entry);
            x.segment = number;
            x.offset = e.offset;
            x.length = e.record.size();
            loaded.emplace(id, std::move(x));
        }
        if (scan.torn_at) {
            // An append that never completed a barrier: nothing after it was acknowledged
            // (appends to a segment stop at the first failure). The bytes stay; nothing more
            // is ever appended to this segment.
            ++report.discarded;
            report.problems.push_back(file + ": torn entry at offset " + std::to_string(*scan.torn_at) +
                                      ", " + std::to_string(bytes->size() - *scan.torn_at) +
                                      " octets ignored");
        }
    }

    // 3. Newest valid state file wins; everything else for a message is stale.
    std::vector<std::string> finished;
    for (auto& [id, x] : loaded) {
        auto& seqs = state_files[id];
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
                if (repair) storage_.remove(state_file(id, seq));
                ++report.stale_state_files;
            }
        }
        state_files.erase(id);
        if (!has_pending(x.entry.status)) {
            finished.push_back(id);
        }
        if (x.segment != 0) {
            ++segments[x.segment].live;
        }
    }
    // State files whose message is gone: the message's removal was durable, they are not.
    for (const auto& [id, seqs] : state_files) {
        for (std::uint32_t seq : seqs) {
            if (repair) storage_.remove(state_file(id, seq));
            ++report.stale_state_files;
        }
    }

    {
        std::lock_guard seg_lock(segment_mutex_);
        segments_ = std::move(segments);
        active_ = 0;  // never append after a possibly torn tail: a new segment is started
        next_segment_ = segments_.empty() ? 1 : segments_.rbegin()->first + 1;
    }
    report.finished = finished.size();
    if (!repair) {
        for (const std::string& id : finished) {
            loaded.erase(id);
        }
    }
    {
        std::lock_guard lock(mutex_);
        for (auto& [id, x] : loaded) {
            index_.insert_or_assign(id, std::move(x));
        }
    }
    if (repair) {
        // Finished messages: their removal did not become durable before the crash. The
        // ordinary removal does it (message first, a barrier, then its state file).
        remove_batch(finished);
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
    {
        std::lock_guard lock(mutex_);
        report.recovered = index_.size();
    }
    return report;
}

std::vector<Expected<std::string>> Spool::commit_batch(std::vector<Submission> batch) {
    std::vector<Expected<std::string>> out;
    out.reserve(batch.size());
    struct Written {
        std::size_t slot;
        Indexed indexed;
    };
    std::vector<Written> written;
    const std::int64_t now = clock_.now_unix_seconds();
    const bool segmented = options_.segment_octets != 0;

    // Segment mode: records are gathered into chunks and appended in order under
    // segment_mutex_; each Written learns its segment and offset when its chunk is appended.
    std::unique_lock<std::mutex> seg_lock(segment_mutex_, std::defer_lock);
    std::string chunk;
    std::vector<std::pair<std::size_t, std::uint64_t>> in_chunk;  // (written index, offset in chunk)
    std::optional<std::string> append_error;
    const auto flush_chunk = [&]() {
        if (chunk.empty()) {
            return;
        }
        if (!seg_lock.owns_lock()) {
            seg_lock.lock();
        }
        if (!append_error) {
            if (auto at = append_locked(chunk, in_chunk.size())) {
                for (const auto& [w, rel] : in_chunk) {
                    written[w].indexed.segment = at->segment;
                    written[w].indexed.offset = at->offset + rel;
                }
            } else {
                append_error = at.error();
            }
        }
        chunk.clear();
        in_chunk.clear();
    };

    for (Submission& sub : batch) {
        const std::size_t slot = out.size();
        out.emplace_back(Error{"not queued"});
        if (!sub.message) {
            out[slot] = Error{"spool: no message"};
            continue;
        }
        if (sub.envelope.recipients.empty()) {
            out[slot] = Error{"spool: no recipients"};
            continue;
        }
        Indexed x;
        {
            std::lock_guard lock(mutex_);
            for (int draw = 0; draw < max_id_draws; ++draw) {
                x.entry.id = ids_.next(now, random_);
                if (index_.count(x.entry.id) == 0) {
                    break;
                }
            }
        }
        x.entry.arrival_unix_seconds = now;
        x.entry.status.assign(sub.envelope.recipients.size(), RecipientStatus{});
        x.entry.envelope = std::move(sub.envelope);
        x.entry.folder = std::move(sub.folder);
        x.size_octets = sub.message.size();
        const std::string_view octets[] = {sub.message.prefix(), sub.message.body()};
        auto parts = encode_message_record_parts(x.entry, octets);
        if (!parts) {
            out[slot] = Error{"spool write failed: " + parts.error()};
            continue;
        }
        x.length = parts->head.size() + x.size_octets + parts->tail.size();
        if (segmented) {
            if (x.size_octets < append_chunk_octets) {
                // Small: copied once into the batch's chunk, appended with its neighbours.
                in_chunk.emplace_back(written.size(), chunk.size() + entry_prefix_octets);
                put_entry_length(chunk, x.length);
                chunk.append(parts->head).append(octets[0]).append(octets[1]).append(parts->tail);
                written.push_back(Written{slot, std::move(x)});
                if (chunk.size() >= append_chunk_octets) {
                    flush_chunk();
                }
                continue;
            }
            // Large (a message received into a spill file): appended from where it is, never
            // copied, in order after what the batch gathered before it.
            flush_chunk();
            if (!seg_lock.owns_lock()) {
                seg_lock.lock();
            }
            std::string framing;
            put_entry_length(framing, x.length);
            framing.append(parts->head);
            const std::string_view pieces[] = {framing, octets[0], octets[1], parts->tail};
            if (!append_error) {
                if (auto at = append_locked(pieces, 1)) {
                    x.segment = at->segment;
                    x.offset = at->offset + entry_prefix_octets;
                } else {
                    append_error = at.error();
                }
            }
            written.push_back(Written{slot, std::move(x)});
            continue;
        }
        std::string bytes = std::move(parts->head);
        bytes.append(octets[0]).append(octets[1]).append(parts->tail);
        const std::string file = message_file(x.entry.id);
        if (Status stored = storage_.create(file, bytes); !stored) {
            storage_.remove(file);  // a partial file must not become durable with the batch
            out[slot] = Error{"spool write failed: " + stored.error()};
            continue;
        }
        written.push_back(Written{slot, std::move(x)});
    }
    flush_chunk();
    if (append_error) {
        // Nothing of this batch is acknowledged. Whatever was appended before the failure
        // is whole on disk and could outlive us: removal records make it dead.
        if (!seg_lock.owns_lock()) {
            seg_lock.lock();
        }
        std::vector<std::string> dead;
        for (const Written& w : written) {
            out[w.slot] = Error{"spool write failed: " + *append_error};
            if (w.indexed.segment != 0) {
                dead.push_back(w.indexed.entry.id);
                --segments_[w.indexed.segment].live;
            }
        }
        append_removals_locked(dead);
        return out;
    }
    if (seg_lock.owns_lock()) {
        seg_lock.unlock();
    }
    if (written.empty()) {
        return out;
    }
    // The one barrier of the batch: after it, every record above is on stable storage.
    if (Status synced = barrier(); !synced) {
        std::vector<std::string> dead;
        for (const Written& w : written) {
            // Not acknowledged, so it must not survive: the client will retry.
            if (w.indexed.segment == 0) {
                storage_.remove(message_file(w.indexed.entry.id));
            } else {
                dead.push_back(w.indexed.entry.id);
            }
            out[w.slot] = Error{"spool sync failed: " + synced.error()};
        }
        if (!dead.empty()) {
            std::lock_guard relock(segment_mutex_);
            for (const Written& w : written) {
                if (w.indexed.segment != 0) {
                    --segments_[w.indexed.segment].live;
                }
            }
            append_removals_locked(dead);
        }
        return out;
    }
    {
        std::lock_guard lock(mutex_);
        for (Written& w : written) {
            out[w.slot] = w.indexed.entry.id;
            const std::string id = w.indexed.entry.id;
            index_.emplace(id, std::move(w.indexed));
        }
    }
    if (segmented) {
        std::lock_guard relock(segment_mutex_);
        collect_locked();
    }
    return out;
}

Expected<std::string> Spool::commit(Submission submission) {
    std::vector<Submission> one;
    one.push_back(std::move(submission));
    return std::move(commit_batch(std::move(one)).front());
}

MessageSummary Spool::summarize(const Indexed& x) const {
    MessageSummary s;
    s.id = x.entry.id;
    s.arrival_unix_seconds = x.entry.arrival_unix_seconds;
    s.sender = x.entry.envelope.reverse_path;
    s.size_octets = x.size_octets;
    s.folder = x.entry.folder;
    s.held = x.entry.held;
    for (std::size_t i = 0; i < x.entry.envelope.recipients.size(); ++i) {
        s.recipients.push_back(RecipientSummary{x.entry.envelope.recipients[i], x.entry.status[i]});
    }
    return s;
}

std::vector<MessageSummary> Spool::list() const {
    std::lock_guard lock(mutex_);
    std::vector<MessageSummary> out;
    out.reserve(index_.size());
    for (const auto& [id, x] : index_) {
        out.push_back(summarize(x));
    }
    return out;
}

std::size_t Spool::size() const {
    std::lock_guard lock(mutex_);
    return index_.size();
}

Expected<MessageRecord> Spool::show(const std::string& id) const {
    SpoolEntry entry;
    std::uint64_t segment = 0;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    {
        std::lock_guard lock(mutex_);
        const auto it = index_.find(id);
        if (it == index_.end()) {
            return Error{"no message " + id + " in the spool"};
        }
        entry = it->second.entry;
        segment = it->second.segment;
        offset = it->second.offset;
        length = it->second.length;
    }
    const std::string file = segment == 0 ? message_file(id) : segment_file(segment);
    auto bytes = segment == 0 ? storage_.read(file) : storage_.read_range(file, offset, length);
    if (!bytes) {
        return Error{"spool read failed: " + bytes.error()};
    }
    auto rec = decode_message_record(*bytes);
    if (!rec || rec->entry.id != id) {
        return Error{"spool file " + file + " unreadable: " +
                     (rec ? "record holds id " + rec->entry.id : rec.error())};
    }
    rec->entry = std::move(entry);  // the index holds the newest recipient states
    return rec;
}

Status Spool::mark(const std::string& id, const std::vector<RecipientUpdate>& updates) {
    std::lock_guard update_lock(update_mutex_);
    StateChange change;
    change.id = id;
    {
        std::lock_guard lock(mutex_);
        const auto it = index_.find(id);
        if (it == index_.end()) {
            return Error{"no message " + id + " in the spool"};
        }
        change.status = it->second.entry.status;
        for (const RecipientUpdate& u : updates) {
            if (u.index >= change.status.size()) {
                return Error{"message " + id + " has no recipient #" + std::to_string(u.index)};
            }
            change.status[u.index] = u.status;
        }
    }
    std::vector<StateChange> changes;
    changes.push_back(std::move(change));
    Status saved = persist_states(std::move(changes));
    if (saved) {
        migrate_and_collect();  // a deferred message may be what pins its old segment
    }
    return saved;
}

Status Spool::persist_states(std::vector<StateChange> changes) {
    if (changes.empty()) {
        return {};
    }
    struct Planned {
        StateRecord record;
        std::uint32_t old_sequence = 0;
    };
    std::vector<Planned> planned;
    planned.reserve(changes.size());
    {
        std::lock_guard lock(mutex_);
        for (StateChange& c : changes) {
            Indexed& x = index_.at(c.id);  // the caller checked, under update_mutex_
            if (x.next_sequence == std::numeric_limits<std::uint32_t>::max()) {
                return Error{"message " + c.id + ": state sequence exhausted"};
            }
            Planned p;
            p.record.id = c.id;
            p.record.status = std::move(c.status);
            p.record.held = c.held.value_or(x.entry.held);
            // Used even on failure: a torn file may hold the name.
            p.record.sequence = x.next_sequence++;
            p.old_sequence = x.state_sequence;
            planned.push_back(std::move(p));
        }
    }
    const std::string subject =
        planned.size() == 1 ? planned.front().record.id
                            : std::to_string(planned.size()) + " messages";
    std::vector<std::string> created;
    Status stored = [&]() -> Status {
        for (const Planned& p : planned) {
            auto bytes = encode_state_record(p.record);
            if (!bytes) {
                return Error{bytes.error()};
            }
            const std::string file = state_file(p.record.id, p.record.sequence);
            created.push_back(file);  // a failed create may leave a torn prefix: remove it too
            if (Status s = storage_.create(file, *bytes); !s) {
                return s;
            }
        }
        return barrier();
    }();
    if (!stored) {
        // Not durable, and the index keeps the old states. Should one of these files survive
        // a crash whole anyway, recovery takes it: each holds one message's complete states.
        for (const std::string& file : created) {
            storage_.remove(file);
        }
        return Error{"recipient states of " + subject + " not saved: " + stored.error()};
    }
    {
        std::lock_guard lock(mutex_);
        for (Planned& p : planned) {
            const auto it = index_.find(p.record.id);
            if (it != index_.end()) {
                it->second.entry.status = std::move(p.record.status);
                it->second.entry.held = p.record.held;
                it->second.state_sequence = p.record.sequence;
            }
        }
    }
    for (const Planned& p : planned) {
        if (p.old_sequence != 0) {
            // Superseded; recovery ignores it anyway.
            storage_.remove(state_file(p.record.id, p.old_sequence));
        }
    }
    return {};
}

Status Spool::remove(const std::string& id) {
    return std::move(remove_batch({id}).front());
}

std::vector<Status> Spool::remove_batch(const std::vector<std::string>& ids) {
    std::vector<Status> out(ids.size());
    if (ids.empty()) {
        return out;
    }
    std::lock_guard update_lock(update_mutex_);
    struct Planned {
        std::size_t slot;
        std::string id;
        std::uint32_t sequence;
        std::uint64_t segment;
    };
    std::vector<Planned> planned;
    {
        std::lock_guard lock(mutex_);
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const auto it = index_.find(ids[i]);
            const bool repeated = std::any_of(planned.begin(), planned.end(),
                                              [&](const Planned& p) { return p.id == ids[i]; });
            if (it == index_.end() || repeated) {
                out[i] = Error{"no message " + ids[i] + " in the spool"};
                continue;
            }
            planned.push_back(Planned{i, ids[i], it->second.state_sequence, it->second.segment});
        }
    }
    // The message goes first (its own file, or a removal record for a segment copy),
    // durably, and only then its state file: otherwise a crash could restore the message
    // without its states, all recipients pending again.
    std::vector<std::string> in_segments;
    for (const Planned& p : planned) {
        if (p.segment == 0) {
            if (Status s = storage_.remove(message_file(p.id)); !s) {
                out[p.slot] = Error{"cannot remove " + p.id + ": " + s.error()};
            }
        } else {
            in_segments.push_back(p.id);
        }
    }
    if (!in_segments.empty()) {
        std::lock_guard seg_lock(segment_mutex_);
        const Status s = append_removals_locked(in_segments);
        for (const Planned& p : planned) {
            if (p.segment == 0) {
                continue;
            }
            if (s) {
                --segments_[p.segment].live;
            } else {
                out[p.slot] = Error{"cannot remove " + p.id + ": " + s.error()};
            }
        }
    }
    bool any = false;
    {
        std::lock_guard lock(mutex_);
        for (const Planned& p : planned) {
            if (out[p.slot]) {
                index_.erase(p.id);
                any = true;
            }
        }
    }
    if (!any) {
        return out;
    }
    if (Status s = barrier(); !s) {
        for (const Planned& p : planned) {
            if (out[p.slot]) {
                out[p.slot] = Error{"removal of " + p.id + " not durable: " + s.error()};
            }
        }
        return out;
    }
    for (const Planned& p : planned) {
        if (out[p.slot] && p.sequence != 0) {
            storage_.remove(state_file(p.id, p.sequence));
        }
    }
    migrate_and_collect();
    return out;
}

std::vector<std::string> Spool::with_pending(
    const std::function<bool(const core::Path&)>& select) const {
    // Copy the pending recipients out first: select() is the caller's code (a policy lookup)
    // and must not run under the spool's lock.
    std::vector<std::pair<std::string, std::vector<core::Path>>> pending;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, x] : index_) {
            if (x.entry.held) {
                continue;  // on hold: no deliverer looks at it until it is released
            }
            std::vector<core::Path> paths;
            for (std::size_t i = 0; i < x.entry.status.size(); ++i) {
                if (x.entry.status[i].state == RecipientState::pending) {
                    paths.push_back(x.entry.envelope.recipients[i]);
                }
            }
            if (!paths.empty()) {
                pending.emplace_back(id, std::move(paths));
            }
        }
    }
    std::vector<std::string> out;
    for (auto& [id, paths] : pending) {
        if (std::any_of(paths.begin(), paths.end(), select)) {
            out.push_back(std::move(id));
        }
    }
    return out;
}

std::vector<Spool::PendingView> Spool::pending_view() const {
    std::vector<PendingView> out;
    std::lock_guard lock(mutex_);
    for (const auto& [id, x] : index_) {
        if (x.entry.held) {
            continue;  // on hold: not due, whatever its schedule says
        }
        PendingView v;
        for (std::size_t i = 0; i < x.entry.status.size(); ++i) {
            if (x.entry.status[i].state == RecipientState::pending) {
                v.recipients.emplace_back(x.entry.envelope.recipients[i],
                                          x.entry.status[i].next_attempt_unix);
            }
        }
        if (!v.recipients.empty()) {
            v.id = id;
            out.push_back(std::move(v));
        }
    }
    return out;
}

std::vector<std::string> Spool::due(std::int64_t now_unix,
                                    const std::function<bool(const core::Path&)>& select) const {
    std::vector<std::string> out;
    for (PendingView& v : pending_view()) {  // select() runs outside the lock
        const bool any = std::any_of(v.recipients.begin(), v.recipients.end(), [&](const auto& r) {
            return r.second <= now_unix && select(r.first);
        });
        if (any) {
            out.push_back(std::move(v.id));
        }
    }
    return out;
}

std::optional<std::int64_t> Spool::next_due(
    const std::function<bool(const core::Path&)>& select) const {
    std::optional<std::int64_t> earliest;
    for (const PendingView& v : pending_view()) {
        for (const auto& [path, next] : v.recipients) {
            if ((!earliest || next < *earliest) && select(path)) {
                earliest = next;
            }
        }
    }
    return earliest;
}

namespace {

// The message's states with every pending recipient due at `when`; nullopt if none changes.
std::optional<std::vector<RecipientStatus>> rescheduled(std::vector<RecipientStatus> status,
                                                        std::int64_t when) {
    bool changed = false;
    for (RecipientStatus& s : status) {
        if (s.state == RecipientState::pending && s.next_attempt_unix != when) {
            s.next_attempt_unix = when;
            changed = true;
        }
    }
    if (!changed) {
        return std::nullopt;
    }
    return status;
}

}  // namespace

Status Spool::reschedule_all(std::int64_t when_unix) {
    std::lock_guard update_lock(update_mutex_);
    std::vector<StateChange> changes;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, x] : index_) {
            if (auto status = rescheduled(x.entry.status, when_unix)) {
                changes.push_back(StateChange{id, std::move(*status), std::nullopt});
            }
        }
    }
    return persist_states(std::move(changes));
}

Status Spool::reschedule(const std::string& id, std::int64_t when_unix) {
    std::lock_guard update_lock(update_mutex_);
    std::vector<StateChange> changes;
    {
        std::lock_guard lock(mutex_);
        const auto it = index_.find(id);
        if (it == index_.end()) {
            return Error{"no message " + id + " in the queue"};
        }
        if (auto status = rescheduled(it->second.entry.status, when_unix)) {
            changes.push_back(StateChange{id, std::move(*status), std::nullopt});
        }
    }
    return persist_states(std::move(changes));
}

Status Spool::hold(const std::string& id, bool held) {
    std::lock_guard update_lock(update_mutex_);
    std::vector<StateChange> changes;
    {
        std::lock_guard lock(mutex_);
        const auto it = index_.find(id);
        if (it == index_.end()) {
            return Error{"no message " + id + " in the queue"};
        }
        if (it->second.entry.held == held) {
            return {};
        }
        changes.push_back(StateChange{id, it->second.entry.status, held});
    }
    return persist_states(std::move(changes));
}

Expected<SpoolEntry> Spool::entry(const std::string& id) const {
    std::lock_guard lock(mutex_);
    const auto it = index_.find(id);
    if (it == index_.end()) {
        return Error{"no message " + id + " in the spool"};
    }
    return it->second.entry;
}

}  // namespace pigeon::queue
