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

}  // namespace

Spool::Spool(Storage& storage, const core::Clock& clock, RandomSource& random)
    : storage_(storage), clock_(clock), random_(random) {}

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
    std::map<std::string, std::vector<std::uint32_t>> state_files;  // id -> sequences
    for (const std::string& name : *names) {
        if (ends_with(name, message_suffix) &&
            is_valid_queue_id(std::string_view(name).substr(0, name.size() - message_suffix.size()))) {
            message_ids.push_back(name.substr(0, name.size() - message_suffix.size()));
        } else if (auto st = parse_state_name(name)) {
            state_files[st->first].push_back(st->second);
        } else {
            ++report.unknown_files;
        }
    }

    std::map<std::string, Indexed> loaded;
    std::vector<std::string> finished;
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

        // Newest valid state file wins; everything else for this id is stale.
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
        loaded.emplace(id, std::move(x));
    }
    // State files whose message is gone: the message's removal was durable, they are not.
    for (const auto& [id, seqs] : state_files) {
        for (std::uint32_t seq : seqs) {
            if (repair) storage_.remove(state_file(id, seq));
            ++report.stale_state_files;
        }
    }
    // Finished messages: their removal did not become durable before the crash. Remove the
    // message file durably BEFORE its state file, or a crash in between could bring the
    // message back with all recipients pending (a second delivery).
    if (!finished.empty() && repair) {
        for (const std::string& id : finished) {
            storage_.remove(message_file(id));
        }
        if (storage_.sync()) {
            for (const std::string& id : finished) {
                const auto it = loaded.find(id);
                if (it->second.state_sequence != 0) {
                    storage_.remove(state_file(id, it->second.state_sequence));
                }
            }
        }
    }
    for (const std::string& id : finished) {
        loaded.erase(id);
    }
    report.finished = finished.size();

    std::lock_guard lock(mutex_);
    for (auto& [id, x] : loaded) {
        index_.insert_or_assign(id, std::move(x));
    }
    report.recovered = index_.size();
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
        x.size_octets = sub.message->size();
        const std::string file = message_file(x.entry.id);
        Status stored = [&]() -> Status {
            auto bytes = encode_message_record(x.entry, *sub.message);
            if (!bytes) {
                return Error{bytes.error()};
            }
            return storage_.create(file, *bytes);
        }();
        if (!stored) {
            storage_.remove(file);  // a partial file must not become durable with the batch
            out[slot] = Error{"spool write failed: " + stored.error()};
            continue;
        }
        written.push_back(Written{slot, std::move(x)});
    }

    if (written.empty()) {
        return out;
    }
    // The one barrier of the batch: after it, every file above is on stable storage.
    if (Status synced = storage_.sync(); !synced) {
        for (const Written& w : written) {
            // Not acknowledged, so it must not survive: the client will retry.
            storage_.remove(message_file(w.indexed.entry.id));
            out[w.slot] = Error{"spool sync failed: " + synced.error()};
        }
        return out;
    }
    std::lock_guard lock(mutex_);
    for (Written& w : written) {
        out[w.slot] = w.indexed.entry.id;
        const std::string id = w.indexed.entry.id;
        index_.emplace(id, std::move(w.indexed));
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
    {
        std::lock_guard lock(mutex_);
        const auto it = index_.find(id);
        if (it == index_.end()) {
            return Error{"no message " + id + " in the spool"};
        }
        entry = it->second.entry;
    }
    auto bytes = storage_.read(message_file(id));
    if (!bytes) {
        return Error{"spool read failed: " + bytes.error()};
    }
    auto rec = decode_message_record(*bytes);
    if (!rec) {
        return Error{"spool file " + message_file(id) + " unreadable: " + rec.error()};
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
    return persist_states(std::move(changes));
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
        return storage_.sync();
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
    std::lock_guard update_lock(update_mutex_);
    std::uint32_t sequence = 0;
    {
        std::lock_guard lock(mutex_);
        const auto it = index_.find(id);
        if (it == index_.end()) {
            return Error{"no message " + id + " in the spool"};
        }
        sequence = it->second.state_sequence;
    }
    if (Status s = storage_.remove(message_file(id)); !s) {
        return Error{"cannot remove " + id + ": " + s.error()};
    }
    {
        std::lock_guard lock(mutex_);
        index_.erase(id);
    }
    // The message file's removal must be durable before its state file goes: otherwise a
    // crash could restore the message without its states, all recipients pending again.
    if (Status s = storage_.sync(); !s) {
        return Error{"removal of " + id + " not durable: " + s.error()};
    }
    if (sequence != 0) {
        storage_.remove(state_file(id, sequence));
    }
    return {};
}

std::vector<std::string> Spool::with_pending(
    const std::function<bool(const core::Path&)>& select) const {
    // Copy the pending recipients out first: select() is the caller's code (a policy lookup)
    // and must not run under the spool's lock.
    std::vector<std::pair<std::string, std::vector<core::Path>>> pending;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, x] : index_) {
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
                changes.push_back(StateChange{id, std::move(*status)});
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
            changes.push_back(StateChange{id, std::move(*status)});
        }
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
