// pigeon/queue/spool.cpp: the spool's construction and its read-only questions (list, show,
// pending, due). Commit, recovery, recipient states and segments live in spool_commit.cpp,
// spool_recovery.cpp, spool_states.cpp and spool_segments.cpp; file names and framing in
// spool_files.hpp.
#include "queue/spool.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <utility>

#include "queue/spool_files.hpp"

namespace pigeon::queue {

using namespace spool_files;

bool is_unknown_message(const Status& status) {
    return !status && status.code() == ErrorCode::unknown_message;
}

Spool::Spool(Storage& storage, const core::Clock& clock, RandomSource& random, SpoolOptions options)
    : storage_(storage), clock_(clock), random_(random), options_(options) {}

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

Result<MessageRecord> Spool::show(const std::string& id) const {
    SpoolEntry entry;
    std::uint64_t segment = 0;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    {
        std::lock_guard lock(mutex_);
        const auto it = index_.find(id);
        if (it == index_.end()) {
            return unknown_message_error(id, "spool");
        }
        entry = it->second.entry;
        segment = it->second.segment;
        offset = it->second.offset;
        length = it->second.length;
    }
    const std::string file = segment == 0 ? message_file(id) : segment_file(segment);
    auto bytes = segment == 0 ? storage_.read(file) : storage_.read_range(file, offset, length);
    if (!bytes) {
        return Error{"spool read failed: " + bytes.error().message};
    }
    auto rec = decode_message_record(*bytes);
    if (!rec || rec->entry.id != id) {
        return Error{"spool file " + file + " unreadable: " +
                     (rec ? "record holds id " + rec->entry.id : rec.error().message)};
    }
    rec->entry = std::move(entry);  // the index holds the newest recipient states
    return rec;
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

Result<SpoolEntry> Spool::entry(const std::string& id) const {
    std::lock_guard lock(mutex_);
    const auto it = index_.find(id);
    if (it == index_.end()) {
        return unknown_message_error(id, "spool");
    }
    return it->second.entry;
}

}  // namespace pigeon::queue
