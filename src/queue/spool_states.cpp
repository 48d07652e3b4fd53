// pigeon/queue/spool_states.cpp: recipient states, removal, rescheduling and hold, each durable when it
// returns ok.
#include "queue/spool.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <utility>

#include "queue/spool_files.hpp"

namespace pigeon::queue {

using namespace spool_files;

Status Spool::mark(const std::string& id, const std::vector<RecipientUpdate>& updates) {
    std::lock_guard update_lock(update_mutex_);
    StateChange change;
    change.id = id;
    {
        std::lock_guard lock(mutex_);
        const auto it = index_.find(id);
        if (it == index_.end()) {
            return unknown_message_error(id, "spool");
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
        return Error{"recipient states of " + subject + " not saved: " + stored.error().message};
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
                out[i] = unknown_message_error(ids[i], "spool");
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
                out[p.slot] = Error{"cannot remove " + p.id + ": " + s.error().message};
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
                out[p.slot] = Error{"cannot remove " + p.id + ": " + s.error().message};
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
                out[p.slot] = Error{"removal of " + p.id + " not durable: " + s.error().message};
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

Status Spool::change_message(
    const std::string& id, const std::function<std::optional<StateChange>(const SpoolEntry&)>& change) {
    std::lock_guard update_lock(update_mutex_);
    std::vector<StateChange> changes;
    {
        std::lock_guard lock(mutex_);
        const auto it = index_.find(id);
        if (it == index_.end()) {
            return unknown_message_error(id, "queue");
        }
        if (auto c = change(it->second.entry)) changes.push_back(std::move(*c));
    }
    return persist_states(std::move(changes));
}

Status Spool::reschedule(const std::string& id, std::int64_t when_unix) {
    return change_message(id, [&](const SpoolEntry& entry) -> std::optional<StateChange> {
        auto status = rescheduled(entry.status, when_unix);
        if (!status) return std::nullopt;
        return StateChange{id, std::move(*status), std::nullopt};
    });
}

Status Spool::hold(const std::string& id, bool held) {
    return change_message(id, [&](const SpoolEntry& entry) -> std::optional<StateChange> {
        if (entry.held == held) return std::nullopt;
        return StateChange{id, entry.status, held};
    });
}

Result<std::vector<std::string>> Spool::hold_all(bool held) {
    std::lock_guard update_lock(update_mutex_);
    std::vector<StateChange> changes;
    std::vector<std::string> ids;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, x] : index_) {
            if (x.entry.held == held) continue;
            changes.push_back(StateChange{id, x.entry.status, held});
            ids.push_back(id);
        }
    }
    if (Status s = persist_states(std::move(changes)); !s) return s.error();
    return ids;
}

}  // namespace pigeon::queue
