// pigeon/delivery/outbound_finish.cpp: OutboundEngine::finish, the end of one delivery attempt:
// each recipient's new state (delivered, failed, deferred with its next attempt), the failure
// and delay notices it is owed, then the states made durable and the message removed once no
// recipient is pending.
#include <algorithm>
#include <string>
#include <vector>

#include "delivery/outbound.hpp"
#include "delivery/outbound_job.hpp"
#include "queue/dsn.hpp"

namespace pigeon::delivery {

using outbound_detail::one_line;
using queue::RecipientState;
using queue::RecipientStatus;
using queue::Status;

namespace {

core::EnhancedStatus status_of(const core::Reply& r) {
    if (r.enhanced) return *r.enhanced;
    return core::EnhancedStatus{r.code / 100, 0, 0};
}

std::string seconds_text(std::int64_t s) {
    if (s < 120) return std::to_string(s) + " s";
    if (s < 7200) return std::to_string(s / 60) + " min";
    return std::to_string(s / 3600) + " h";
}

}  // namespace

// The state of one finish(): the updates for the spool, and the notices owed (each recipient
// with the index of its update, so a notice that cannot be queued leaves it owed).
struct OutboundEngine::Closing {
    struct Notices {
        std::vector<queue::DsnRecipient> recipients;
        std::vector<std::size_t> updates;  // indexes into `updates`
    };

    OutboundEngine& engine;
    const Job& job;
    const queue::SpoolEntry& entry;
    std::int64_t now;
    std::vector<queue::RecipientUpdate> updates;
    Notices failed, delayed;
    std::int64_t earliest_retry = 0;  // 0: nobody deferred

    smtp::RecipientResult result_of(std::size_t k) const;
    void settle(std::size_t k);
    bool fail_if_expired(RecipientStatus& st, queue::DsnRecipient& d, const core::Path& rcpt);
    void defer(RecipientStatus& st, queue::DsnRecipient& d, const core::Path& rcpt);
    void owe(Notices& notices, queue::DsnRecipient d, queue::DsnRecipient::Action action);
    void send(Notices& notices, bool delay);
    void keep_owed(const Notices& notices, bool delay);
    void save_states();
    void report(const core::Path& rcpt, const smtp::RecipientResult& r,
                core::RecipientDelivery::Status status) const;
};

void OutboundEngine::finish(const JobPtr& job) {
    Closing c{*this, *job, job->record->entry, clock_.now_unix_seconds(), {}, {}, {}};
    for (std::size_t k = 0; k < job->indexes.size(); ++k) c.settle(k);
    // DSNs first, durably, then the states that say they were sent: a crash in between sends
    // a DSN twice, never none.
    c.send(c.failed, false);
    c.send(c.delayed, true);
    for (const auto& u : c.updates)
        if (u.status.state == RecipientState::failed) ++stats_.failed;
    c.save_states();
    if (--busy_[job->id] == 0) busy_.erase(job->id);
    if (c.earliest_retry != 0) wake_at(c.earliest_retry);  // a scan by the earliest next attempt
}

// The session's result for recipient k; a recipient it never reached is a transient failure.
smtp::RecipientResult OutboundEngine::Closing::result_of(std::size_t k) const {
    if (job.results[k]) return *job.results[k];
    smtp::RecipientResult r;
    r.recipient = entry.envelope.recipients[job.indexes[k]];
    r.outcome = smtp::Outcome::transient;
    r.reply = core::Reply(451, "4.3.0", "no result for this recipient");
    r.stage = "internal";
    return r;
}

// Recipient k's new state, its log line, and the notice it is owed, if any.
void OutboundEngine::Closing::settle(std::size_t k) {
    const std::size_t i = job.indexes[k];
    const core::Path& rcpt = entry.envelope.recipients[i];
    const smtp::RecipientResult r = result_of(k);
    RecipientStatus st = entry.status[i];
    ++st.attempts;
    const std::string where = job.remote_mta.empty() ? std::string() : job.remote_mta + ": ";
    st.diagnostic = where + one_line(r.reply);
    queue::DsnRecipient d;
    d.recipient = rcpt;
    d.status = status_of(r.reply);
    d.remote_mta = r.from_peer ? job.remote_mta : std::string();
    d.diagnostic = one_line(r.reply);
    d.diagnostic_from_peer = r.from_peer;
    d.last_attempt_unix = now;
    switch (r.outcome) {
    case smtp::Outcome::delivered:
        st.state = RecipientState::delivered;
        ++engine.stats_.delivered;
        engine.log_unless_reported(job.id + ": " + rcpt.to_string() + " delivered: " + st.diagnostic);
        report(rcpt, r, core::RecipientDelivery::Status::sent);
        break;
    case smtp::Outcome::permanent:
        st.state = RecipientState::failed;
        owe(failed, d, queue::DsnRecipient::Action::failed);
        engine.log_unless_reported(job.id + ": " + rcpt.to_string() + " failed: " + st.diagnostic);
        report(rcpt, r, core::RecipientDelivery::Status::bounced);
        break;
    case smtp::Outcome::transient: {
        const bool expired = fail_if_expired(st, d, rcpt);
        if (!expired) defer(st, d, rcpt);
        report(rcpt, r, expired ? core::RecipientDelivery::Status::bounced
                                : core::RecipientDelivery::Status::deferred);
        break;
    }
    }
    if (engine.options_.on_outcome) engine.options_.on_outcome(st.state, entry.arrival_unix_seconds, now);
    updates.push_back({i, std::move(st)});
}

// "to=<c@d>, relay=..., delay=..., dsn=..., status=..." for this attempt (delays: before the
// job started / 0 / connecting / the transaction).
void OutboundEngine::Closing::report(const core::Path& rcpt, const smtp::RecipientResult& r,
                                     core::RecipientDelivery::Status status) const {
    const std::int64_t connected = job.connected_unix != 0 ? job.connected_unix : now;
    const auto dsn = r.reply.enhanced ? r.reply.enhanced->to_string()
                                      : std::to_string(r.reply.code / 100) + ".0.0";
    engine.event(core::RecipientDelivery{
        core::MailService::smtp, entry.id, core::event_address(rcpt), job.relay,
        now - entry.arrival_unix_seconds, job.started_unix - entry.arrival_unix_seconds,
        connected - job.started_unix, now - connected, dsn, status, core::one_line(r.reply)});
}

// A transient failure past the retry period (RFC 5321 4.5.4.1) is a failure.
bool OutboundEngine::Closing::fail_if_expired(RecipientStatus& st, queue::DsnRecipient& d,
                                              const core::Path& rcpt) {
    if (!queue::expired(engine.options_.retry, entry.arrival_unix_seconds, now)) return false;
    st.state = RecipientState::failed;
    owe(failed, d, queue::DsnRecipient::Action::failed);
    engine.log_unless_reported(job.id + ": " + rcpt.to_string() + " failed, retries exhausted: " + st.diagnostic);
    return true;
}

// The next attempt, and a delay notice once one is due (RFC 3464 2.3.3 "delayed").
void OutboundEngine::Closing::defer(RecipientStatus& st, queue::DsnRecipient& d,
                                    const core::Path& rcpt) {
    const auto& retry = engine.options_.retry;
    st.next_attempt_unix = queue::next_attempt_at(retry, st.attempts, now, engine.random_.next_u64());
    if (earliest_retry == 0 || st.next_attempt_unix < earliest_retry)
        earliest_retry = st.next_attempt_unix;
    if (!st.delay_notified && queue::delay_warning_due(retry, entry.arrival_unix_seconds, now, st)) {
        owe(delayed, d, queue::DsnRecipient::Action::delayed);
        st.delay_notified = true;
    }
    ++engine.stats_.deferred;
    engine.log_unless_reported(job.id + ": " + rcpt.to_string() + " deferred: " + st.diagnostic +
                               "; next attempt in " + seconds_text(st.next_attempt_unix - now));
}

// Records that the recipient whose update comes next is owed a notice.
void OutboundEngine::Closing::owe(Notices& notices, queue::DsnRecipient d,
                                  queue::DsnRecipient::Action action) {
    d.action = action;
    notices.recipients.push_back(std::move(d));
    notices.updates.push_back(updates.size());
}

// Queues one notice for all of `notices` (none for a null sender, RFC 3464 / RFC 5321 4.5.5).
void OutboundEngine::Closing::send(Notices& notices, bool delay) {
    if (notices.recipients.empty()) return;
    const auto& options = engine.options_;
    queue::DsnRequest req;
    req.reporting_mta = options.hostname;
    req.queue_id = entry.id;
    req.arrival_unix = entry.arrival_unix_seconds;
    req.now_unix = now;
    req.will_retry_until_unix = entry.arrival_unix_seconds + options.retry.give_up_after_seconds;
    req.original_envelope = entry.envelope;
    req.original_message = job.record->message;
    req.recipients = notices.recipients;
    req.boundary_random = engine.random_.next_u64();
    auto dsn = queue::make_dsn(req);
    if (!dsn) {
        engine.log(entry.id + ": no " + std::string(delay ? "delay" : "failure") +
                   " notice: the sender is <> (never a bounce for a bounce)");
        return;
    }
    auto id = engine.spool_.commit(std::move(*dsn));
    if (!id) {
        engine.log(entry.id + ": could not queue the DSN (" + id.error().message + "); retrying later");
        keep_owed(notices, delay);
        return;
    }
    ++engine.stats_.dsns;
    engine.log(entry.id + ": " + (delay ? "delay notice " : "bounce ") + *id + " queued to " +
               entry.envelope.reverse_path.to_string());
    if (options.on_queued) options.on_queued(*id);
    engine.notify(*id);  // a DSN to a remote sender leaves like any other message
}

// A notice that could not be queued stays owed: its recipients stay pending (a failure) or
// not yet notified (a delay), so a later attempt sends it.
void OutboundEngine::Closing::keep_owed(const Notices& notices, bool delay) {
    for (std::size_t u : notices.updates) {
        RecipientStatus& st = updates[u].status;
        if (delay) {
            st.delay_notified = false;
        } else {
            st.state = RecipientState::pending;
            st.next_attempt_unix = now + engine.options_.retry.first_retry_seconds;
        }
    }
}

// The new states, durably; the message leaves the queue once no recipient is pending.
void OutboundEngine::Closing::save_states() {
    auto& spool = engine.spool_;
    if (Status s = spool.mark(entry.id, updates); !s) {
        engine.log(entry.id + ": recipient states not saved: " + s.error().message);
        return;
    }
    const auto now_entry = spool.entry(entry.id);
    if (!now_entry) return;
    const auto& states = now_entry->status;
    const bool pending = std::any_of(states.begin(), states.end(), [](const RecipientStatus& st) {
        return st.state == RecipientState::pending;
    });
    if (pending) return;
    // "no message": local delivery finished the last local recipient at the same moment and
    // removed it first.
    if (Status r = spool.remove(entry.id); !r && !queue::is_unknown_message(r))
        engine.log(entry.id + ": not removed: " + r.error().message);
    else {
        engine.log_unless_reported(entry.id + ": done, removed from the queue");
        if (r) engine.event(core::MessageRemoved{entry.id});
    }
}

}  // namespace pigeon::delivery
