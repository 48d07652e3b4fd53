// pigeon/delivery/local_delivery.cpp: spool -> Maildir, then durable recipient states.
#include "delivery/local_delivery.hpp"

#include "queue/dsn.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace pigeon::delivery {

using queue::Error;
using queue::RecipientState;

LocalDelivery::LocalDelivery(queue::Spool& spool, LocalResolver resolver, MaildirWriter& writer,
                             std::string hostname, Bounces bounces)
    : spool_(spool),
      resolver_(std::move(resolver)),
      writer_(writer),
      hostname_(std::move(hostname)),
      bounces_(std::move(bounces)) {}

bool LocalDelivery::is_local(const core::Path& recipient) const {
    return resolver_ && resolver_(recipient).kind != LocalTarget::Kind::remote;
}

queue::Result<DeliveryReport> LocalDelivery::deliver(const std::string& id, bool after_restart) {
    bool ready_to_remove = false;
    auto report = deliver_unremoved(id, after_restart, ready_to_remove);
    if (!report || !ready_to_remove) {
        return report;
    }
    // A removal that finds the message gone already (the outbound engine finished its last
    // recipient at the same moment and removed it) is no error.
    if (queue::Status s = spool_.remove(id); !s && !queue::is_unknown_message(s)) {
        return Error{s.error()};
    }
    report->removed = true;
    return report;
}

std::vector<queue::Result<DeliveryReport>> LocalDelivery::deliver_batch(
    const std::vector<std::string>& ids, bool after_restart) {
    std::vector<queue::Result<DeliveryReport>> results;
    results.reserve(ids.size());
    std::vector<std::string> to_remove;       // in the order delivered
    std::vector<std::size_t> to_remove_at;    // index into results of each
    std::map<std::string, std::size_t> first;  // id -> its first index in ids
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (first.contains(ids[i])) {
            results.emplace_back(DeliveryReport{});  // filled in from its first result below
            continue;
        }
        first.emplace(ids[i], i);
        bool ready_to_remove = false;
        results.push_back(deliver_unremoved(ids[i], after_restart, ready_to_remove));
        if (results.back() && ready_to_remove) {
            to_remove.push_back(ids[i]);
            to_remove_at.push_back(i);
        }
    }
    if (!to_remove.empty()) {
        // Every copy of these messages is durable (deliver_once syncs before it returns) and
        // every mark is: one barrier now removes them all.
        const std::vector<queue::Status> removed = spool_.remove_batch(to_remove);
        for (std::size_t k = 0; k < to_remove.size(); ++k) {
            auto& result = results[to_remove_at[k]];
            if (k < removed.size() && (removed[k] || queue::is_unknown_message(removed[k]))) {
                result->removed = true;  // (or removed meanwhile by the outbound engine)
            } else {
                result = Error{k < removed.size()
                                   ? removed[k].error().message
                                   : "the spool gave no removal result for " + to_remove[k]};
            }
        }
    }
    if (on_report_) {
        for (std::size_t i = 0; i < ids.size(); ++i) {
            if (first.at(ids[i]) == i && results[i]) {
                on_report_(*results[i]);
            }
        }
    }
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (const std::size_t f = first.at(ids[i]); f != i) {
            results[i] = results[f];
        }
    }
    return results;
}

queue::Result<DeliveryReport> LocalDelivery::deliver_unremoved(const std::string& id,
                                                                 bool after_restart,
                                                                 bool& ready_to_remove) {
    ready_to_remove = false;
    auto record = spool_.show(id);
    if (!record) {
        return Error{record.error()};
    }
    const queue::SpoolEntry& entry = record->entry;
    DeliveryReport report;
    report.arrival_unix_seconds = entry.arrival_unix_seconds;
    if (entry.held) {
        return report;  // `pigeon queue hold`: kept as it is until it is released
    }
    const std::int64_t started = now();
    // The operator's line for recipient i; the times are filled in at the end.
    const auto line = [&](std::size_t i, core::RecipientDelivery::Status status, std::string relay,
                          std::string dsn, std::string detail) {
        core::RecipientDelivery d;
        d.service = core::MailService::local;
        d.queue_id = entry.id;
        d.to = core::event_address(entry.envelope.recipients[i]);
        d.relay = std::move(relay);
        d.dsn = std::move(dsn);
        d.status = status;
        d.detail = std::move(detail);
        report.deliveries.push_back(std::move(d));
    };
    using Status = core::RecipientDelivery::Status;
    std::vector<queue::RecipientUpdate> updates;
    std::map<std::filesystem::path, std::size_t> copies;  // maildir -> recipient delivered there
    bool any_pending = false;
    bool any_failed = false;
    std::vector<std::size_t> unknown;  // positions in updates of recipients that failed here
    std::map<std::size_t, FailureInfo> failure_info;  // of those, the ones not "no such user"
    LmtpGroups lmtp_groups;  // endpoint -> (recipient index, the user's address), in order
    std::vector<std::pair<std::size_t, std::size_t>> lmtp_same;  // (recipient, the one it shares)
    std::map<std::size_t, std::string> lmtp_endpoint;  // recipient index -> its endpoint (relay=)

    for (std::size_t i = 0; i < entry.envelope.recipients.size(); ++i) {
        const queue::RecipientStatus& status = entry.status[i];
        if (status.state != RecipientState::pending) {
            any_failed = any_failed || status.state == RecipientState::failed;
            continue;
        }
        const core::Path& rcpt = entry.envelope.recipients[i];
        const LocalTarget target = resolver_ ? resolver_(rcpt) : LocalTarget::remote();
        switch (target.kind) {
        case LocalTarget::Kind::remote:
            ++report.remote;
            any_pending = true;
            break;
        case LocalTarget::Kind::discard:
            // Accepted and committed like any other mail, then dropped on purpose: nothing
            // to write, nothing that could fail.
            updates.push_back({i, {RecipientState::delivered, "discarded"}});
            line(i, Status::sent, "none", "2.0.0", "discarded");
            ++report.delivered;
            ++report.discarded;
            break;
        case LocalTarget::Kind::lmtp: {
            if (!lmtp_.deliver || status.next_attempt_unix > started) {
                any_pending = true;  // not now: its next attempt is not due (or no LMTP)
                break;
            }
            auto& group = lmtp_groups[target.endpoint];
            lmtp_endpoint[i] = target.endpoint;
            const auto same = std::find_if(group.begin(), group.end(),
                                           [&](const auto& g) { return g.second == target.address; });
            if (same != group.end())
                lmtp_same.emplace_back(i, same->first);  // one copy per mailbox, as for Maildirs
            else
                group.emplace_back(i, target.address);
            break;
        }
        case LocalTarget::Kind::defer:
            report.notes.push_back(rcpt.to_string() + ": deferred: " + target.reason);
            line(i, Status::deferred, "local", "4.3.0", target.reason);
            ++report.deferred;
            any_pending = true;
            break;
        case LocalTarget::Kind::unknown:
            unknown.push_back(updates.size());
            updates.push_back({i, {RecipientState::failed, target.reason}});
            break;
        case LocalTarget::Kind::mailbox: {
            if (const auto it = copies.find(target.maildir); it != copies.end()) {
                updates.push_back({i, {RecipientState::delivered, "same mailbox as recipient #" +
                                                                      std::to_string(it->second)}});
                line(i, Status::sent, "local", "2.0.0", "delivered to maildir");
                ++report.delivered;
                break;
            }
            const std::string content =
                maildir_content(entry.envelope.reverse_path, rcpt, record->message);
            // Idempotent by name: a crash after the copy landed but before the spool learnt
            // it makes this run find the copy instead of writing a second one.
            const std::string name = maildir_delivery_name(
                entry.arrival_unix_seconds, entry.id, i, hostname_, content.size());
            auto delivered =
                writer_.deliver_once(target.maildir, entry.folder, content, name, after_restart);
            if (delivered) {
                copies.emplace(target.maildir, i);
                updates.push_back({i, {RecipientState::delivered, delivered->filename().string()}});
                line(i, Status::sent, "local", "2.0.0", "delivered to maildir");
                ++report.delivered;
            } else {
                report.notes.push_back(rcpt.to_string() + ": deferred: " + delivered.error().message);
                line(i, Status::deferred, "local", "4.3.0", delivered.error().message);
                ++report.deferred;
                any_pending = true;
            }
            break;
        }
        }
    }
    if (!lmtp_groups.empty()) {
        // The store's answer per recipient (RFC 2033 4.2), mapped onto the spool's states.
        auto results = send_lmtp(*record, lmtp_groups);
        for (const auto& [i, shared] : lmtp_same) {
            const auto it = std::find_if(results.begin(), results.end(), [&](const auto& r) { return r.first == shared; });
            if (it == results.end()) continue;
            smtp::RecipientResult copy = it->second;  // (emplace_back may move the vector)
            results.emplace_back(i, std::move(copy));
        }
        for (const auto& [i, r] : results) {
            const std::string relay = "lmtp:" + lmtp_endpoint[i];
            const std::string text = core::format_reply(r.reply);
            const std::string reply_line = text.substr(0, text.find("\r\n"));
            const auto enhanced = r.reply.enhanced;
            if (r.outcome == smtp::Outcome::delivered) {
                updates.push_back({i, {RecipientState::delivered, relay + ": " + reply_line}});
                line(i, Status::sent, relay, enhanced ? enhanced->to_string() : "2.0.0", reply_line);
                ++report.delivered;
                continue;
            }
            const bool gave_up = r.outcome == smtp::Outcome::transient &&
                                 queue::expired(lmtp_.retry, entry.arrival_unix_seconds, started);
            if (r.outcome == smtp::Outcome::permanent || gave_up) {
                FailureInfo info;
                // The store's status; past the retry period RFC 3463's "delivery time expired".
                info.status = gave_up ? core::EnhancedStatus{5, 4, 7} : enhanced.value_or(core::EnhancedStatus{5, 0, 0});
                info.relay = relay;
                info.from_peer = r.from_peer && !gave_up;
                failure_info[updates.size()] = info;
                unknown.push_back(updates.size());
                updates.push_back({i, {RecipientState::failed, (gave_up ? "gave up: " : "") + reply_line}});
                continue;
            }
            queue::RecipientStatus st = entry.status[i];
            st.diagnostic = reply_line;
            ++st.attempts;
            st.next_attempt_unix = queue::next_attempt_at(lmtp_.retry, st.attempts, started,
                                                          bounces_.random ? bounces_.random->next_u64() : 0);
            updates.push_back({i, st});
            report.notes.push_back(entry.envelope.recipients[i].to_string() + ": deferred: " + reply_line);
            line(i, Status::deferred, relay, enhanced ? enhanced->to_string() : "4.0.0", reply_line);
            ++report.deferred;
            any_pending = true;
        }
    }
    if (!unknown.empty()) {
        // The failure notice first, durably; only then the states that say it was sent.
        if (notify_failures(*record, updates, unknown, failure_info)) {
            for (std::size_t k : unknown) {
                report.notes.push_back(entry.envelope.recipients[updates[k].index].to_string() +
                                       ": failed: " + updates[k].status.diagnostic);
                const auto info = failure_info.find(k);
                line(updates[k].index, Status::bounced, info == failure_info.end() ? "local" : info->second.relay,
                     info == failure_info.end() ? "5.1.1" : info->second.status.to_string(),
                     updates[k].status.diagnostic);
                ++report.failed;
            }
            any_failed = true;
        } else {
            // No notice could be queued: these recipients stay pending and are tried again.
            for (auto it = unknown.rbegin(); it != unknown.rend(); ++it) {
                report.notes.push_back(entry.envelope.recipients[updates[*it].index].to_string() +
                                       ": deferred: its failure notice could not be queued");
                const auto info = failure_info.find(*it);
                line(updates[*it].index, Status::deferred, info == failure_info.end() ? "local" : info->second.relay,
                     "4.3.0", "its failure notice could not be queued");
                ++report.deferred;
                updates.erase(updates.begin() + static_cast<std::ptrdiff_t>(*it));
            }
            any_pending = true;
        }
    }
    const std::int64_t finished = now();
    for (core::RecipientDelivery& d : report.deliveries) {
        if (bounces_.clock == nullptr) break;  // no clock: delays stay 0
        d.delay = finished - entry.arrival_unix_seconds;
        d.delay_before = started - entry.arrival_unix_seconds;
        d.delay_transmission = finished - started;
    }
    if (updates.empty()) {
        return report;
    }
    // Removing directly is enough when everything was delivered; failures are marked first
    // so their diagnostics are on record (for bounce generation) before the message goes.
    if (any_pending || any_failed) {
        if (queue::Status s = spool_.mark(id, updates); !s) {
            return Error{s.error()};
        }
    }
    if (any_pending) {
        // The outbound engine may have finished the remote recipients since the states were
        // read (it marks on its own thread). Marks are serialised, so the states now are
        // whole: if nothing is pending any more, the message is done here.
        if (auto now = spool_.entry(id); now) {
            any_pending = std::any_of(now->status.begin(), now->status.end(), [](const auto& st) {
                return st.state == RecipientState::pending;
            });
        }
    }
    ready_to_remove = !any_pending;
    return report;
}

std::int64_t LocalDelivery::now() const {
    return bounces_.clock != nullptr ? bounces_.clock->now_unix_seconds() : 0;
}

bool LocalDelivery::notify_failures(const queue::MessageRecord& record,
                                    const std::vector<queue::RecipientUpdate>& updates,
                                    const std::vector<std::size_t>& failed,
                                    const std::map<std::size_t, FailureInfo>& info) {
    if (bounces_.clock == nullptr || bounces_.random == nullptr) {
        return true;  // not configured to send notices (see the header)
    }
    const queue::SpoolEntry& entry = record.entry;
    const std::int64_t now = bounces_.clock->now_unix_seconds();
    queue::DsnRequest req;
    req.reporting_mta = hostname_;
    req.queue_id = entry.id;
    req.arrival_unix = entry.arrival_unix_seconds;
    req.now_unix = now;
    req.original_envelope = entry.envelope;
    req.original_message = record.message;
    for (std::size_t k : failed) {
        queue::DsnRecipient d;
        d.recipient = entry.envelope.recipients[updates[k].index];
        d.action = queue::DsnRecipient::Action::failed;
        d.status = core::EnhancedStatus{5, 1, 1};  // RFC 3463: bad destination mailbox address
        if (const auto it = info.find(k); it != info.end()) {
            d.status = it->second.status;  // the store's own, from its reply
            d.diagnostic_from_peer = it->second.from_peer;
        }
        d.diagnostic = updates[k].status.diagnostic;
        d.last_attempt_unix = now;
        req.recipients.push_back(std::move(d));
    }
    req.boundary_random = bounces_.random->next_u64();
    auto dsn = queue::make_dsn(req);
    if (!dsn) {
        return true;  // null sender: never a notice about a notice
    }
    const std::vector<core::Path> to = dsn->envelope.recipients;
    auto id = spool_.commit(std::move(*dsn));
    if (!id) {
        return false;
    }
    if (bounces_.on_queued) {
        bounces_.on_queued(*id, to);
    }
    return true;
}

std::size_t LocalDelivery::deliver_pending(bool after_restart, const PendingObserver& each) {
    const auto ids = spool_.with_pending([this](const core::Path& p) { return is_local(p); });
    // In batches, so a backlog (say after a restart) costs one removal barrier per batch, not
    // one per message. Errors leave a message as it was; the next scan retries it.
    for (std::size_t start = 0; start < ids.size(); start += pending_batch_messages) {
        const std::size_t end = std::min(ids.size(), start + pending_batch_messages);
        const std::vector<std::string> batch(ids.begin() + static_cast<std::ptrdiff_t>(start),
                                             ids.begin() + static_cast<std::ptrdiff_t>(end));
        const auto results = deliver_batch(batch, after_restart);
        if (each)
            for (std::size_t i = 0; i < batch.size() && i < results.size(); ++i) each(batch[i], results[i]);
    }
    return ids.size();
}

LocalDeliveryWorker::LocalDeliveryWorker(LocalDelivery& delivery)
    : LocalDeliveryWorker(delivery, Options{}) {}

LocalDeliveryWorker::LocalDeliveryWorker(LocalDelivery& delivery, Options options)
    : delivery_(delivery), options_(std::move(options)) {
    thread_ = std::thread([this] { run(); });
}

LocalDeliveryWorker::~LocalDeliveryWorker() { stop(); }

void LocalDeliveryWorker::notify(std::string id) {
    {
        std::lock_guard lock(mutex_);
        ids_.push_back(std::move(id));
    }
    wake_.notify_one();
}

void LocalDeliveryWorker::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) {
        thread_.join();
    }
}

std::size_t LocalDeliveryWorker::attempts() const {
    std::lock_guard lock(mutex_);
    return attempts_;
}

void LocalDeliveryWorker::log(const std::string& line) const {
    if (options_.log) {
        options_.log(line);
    }
}

void LocalDeliveryWorker::run() {
    bool rescan = true;  // on start: whatever recovery left pending
    bool first = true;   // that first pass also looks for copies a reader moved to cur/
    for (;;) {
        if (rescan) {
            const std::size_t n =
                options_.log_rescans
                    ? delivery_.deliver_pending(first, [this](const std::string& id, const auto& r) { report(id, r); })
                    : delivery_.deliver_pending(first);
            first = false;
            std::lock_guard lock(mutex_);
            attempts_ += n;
        }
        std::vector<std::string> ids;
        {
            std::unique_lock lock(mutex_);
            bool woken = false;
            if (!options_.on_idle) {
                woken = wake_.wait_for(lock, options_.rescan_interval,
                                       [this] { return stopping_ || !ids_.empty(); });
            } else {
                // In slices of idle_interval, with on_idle between them (outside the lock).
                const auto until = std::chrono::steady_clock::now() + options_.rescan_interval;
                for (;;) {
                    const auto slice = std::min<std::chrono::steady_clock::duration>(
                        options_.idle_interval, until - std::chrono::steady_clock::now());
                    woken = wake_.wait_for(lock, std::max(slice, std::chrono::steady_clock::duration::zero()),
                                           [this] { return stopping_ || !ids_.empty(); });
                    if (woken || std::chrono::steady_clock::now() >= until) break;
                    lock.unlock();
                    options_.on_idle();
                    lock.lock();
                }
            }
            if (stopping_) {
                return;
            }
            rescan = !woken;
            if (!woken) {
                continue;
            }
            // Everything waiting, up to the batch bound: one removal barrier for all of it.
            const std::size_t most = std::max<std::size_t>(options_.max_batch, 1);
            const std::size_t n = std::min(ids_.size(), most);
            ids.reserve(n);
            for (std::size_t i = 0; i < n; ++i) {
                ids.push_back(std::move(ids_.front()));
                ids_.pop_front();
            }
            attempts_ += n;
        }
        const auto reports = delivery_.deliver_batch(ids);
        for (std::size_t i = 0; i < ids.size() && i < reports.size(); ++i) report(ids[i], reports[i]);
    }
}

void LocalDeliveryWorker::report(const std::string& id, const queue::Result<DeliveryReport>& result) const {
    if (!result) {
        log("local delivery " + id + ": " + result.error().message);
        return;
    }
    if (!options_.event)
        for (const std::string& note : result->notes) log("local delivery " + id + ": " + note);
    if (options_.event) {
        for (const core::RecipientDelivery& d : result->deliveries) options_.event(d);
        if (result->removed) options_.event(core::MessageRemoved{id});
    }
}

}  // namespace pigeon::delivery
