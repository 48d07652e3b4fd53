// pigeon/queue/spool_segments.cpp: segment files: appending batches, the durability barrier, and deleting segments
// whose messages are gone (copying out the few that outlive their segment).
#include "queue/spool.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <utility>

#include "queue/spool_files.hpp"

namespace pigeon::queue {

using namespace spool_files;

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

Result<Spool::Appended> Spool::append_locked(std::string_view bytes, std::size_t messages) {
    const std::string_view one[] = {bytes};
    return append_locked(one, messages);
}

Result<Spool::Appended> Spool::append_locked(std::span<const std::string_view> parts,
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

}  // namespace pigeon::queue
