// pigeon/delivery/outbound.cpp: spool -> route -> client session -> durable recipient states.
#include "delivery/outbound.hpp"
#include "delivery/outbound_job.hpp"

#include "core/idna.hpp"

#include <algorithm>
#include <utility>

#include "tls/dane.hpp"
#include "tls/pkix.hpp"
#include "tls/tls_channel.hpp"

namespace pigeon::delivery {

using queue::RecipientState;
using queue::RecipientStatus;
using queue::Status;

namespace {

bool tls_stage(const std::string& stage) { return stage == "STARTTLS" || stage == "TLS"; }


}  // namespace

core::Result<std::string> destination_domain(const core::Path& recipient) {
    const core::Domain& d = recipient.mailbox.domain();
    if (d.is_literal()) return d.lowercase();
    return core::to_a_labels(d.text());
}

// One message's recipients for one destination: one transaction.

struct OutboundEngine::Conn {
    std::string label;  // "o7 mx.example.org[192.0.2.1]:25"
    std::string key;
    Hop hop;
    std::string address;
    smtp::ClientTls policy = smtp::ClientTls::opportunistic;
    std::shared_ptr<const tls::TrustStore> trust;  // set: the certificate must validate (verify)
    std::unique_ptr<Stream> stream;
    std::unique_ptr<smtp::ClientSession> session;
    std::unique_ptr<tls::TlsClientChannel> tls;
    JobPtr job;  // the transaction in progress, null when idle
    Runtime::TimerId timer = 0;
    // What the running timer times: the wait and the replies received when it was armed.
    std::string timed_wait;
    std::uint64_t timed_replies = 0;
    bool closed = false;
};

// The transaction a job asks the client session for; shares the spooled octets.
smtp::ClientMessage OutboundEngine::client_message(const Job& job) {
    smtp::ClientMessage message;
    const auto& envelope = job.record->entry.envelope;
    message.reverse_path = envelope.reverse_path;
    for (std::size_t i : job.indexes) message.recipients.push_back(envelope.recipients[i]);
    message.message = std::shared_ptr<const std::string>(job.record, &job.record->message);
    message.smtputf8 = envelope.smtputf8;
    return message;
}

OutboundEngine::OutboundEngine(OutboundOptions options, queue::Spool& spool,
                               const core::Clock& clock, queue::RandomSource& random,
                               dns::Resolver& resolver, Runtime& runtime)
    : options_(std::move(options)),
      spool_(spool),
      clock_(clock),
      random_(random),
      resolver_(resolver),
      runtime_(runtime) {}

OutboundEngine::~OutboundEngine() {
    *alive_ = false;
    runtime_.cancel(scan_timer_);
    for (const ConnPtr& c : connections_) {
        runtime_.cancel(c->timer);
        if (c->stream) c->stream->close();
    }
}

void OutboundEngine::log(const std::string& line) const {
    if (options_.log) options_.log("outbound: " + line);
}

void OutboundEngine::log_unless_reported(const std::string& line) const {
    if (!options_.event) log(line);
}

void OutboundEngine::event(core::MailEvent e) const {
    if (options_.event) options_.event(e);
}

std::optional<NextHop> OutboundEngine::fixed_hop(const std::string& domain) const {
    if (auto it = options_.routes.find(domain); it != options_.routes.end()) return it->second;
    return options_.relayhost;
}

void OutboundEngine::start() { notify({}); }

void OutboundEngine::reconfigure(OutboundOptions options) { options_ = std::move(options); }

void OutboundEngine::notify(const std::string& id) {
    if (stopping_) return;
    auto alive = alive_;
    if (!id.empty()) {
        fresh_.push_back(id);
        if (fresh_posted_) return;
        fresh_posted_ = true;
        runtime_.post([this, alive] {
            if (*alive) take_fresh();
        });
        return;
    }
    if (scan_posted_) return;
    scan_posted_ = true;
    runtime_.post([this, alive] {
        if (*alive) scan();
    });
}

void OutboundEngine::flush() {
    if (Status s = spool_.reschedule_all(0); !s) log("flush: " + s.error().message);
    notify({});
}

void OutboundEngine::retry(const std::string& id) {
    if (Status s = spool_.reschedule(id, 0); !s) log("retry " + id + ": " + s.error().message);
    notify(id);
}

void OutboundEngine::schedule_scan(std::chrono::milliseconds delay) {
    runtime_.cancel(scan_timer_);
    scan_at_ = clock_.now_unix_seconds() + (delay.count() + 999) / 1000;
    auto alive = alive_;
    scan_timer_ = runtime_.after(delay, [this, alive] {
        if (!*alive) return;
        scan_timer_ = 0;
        scan();
    });
}

// Starts the jobs for one message's due remote recipients (none: nothing happens). The
// entry is looked at first, so a message with only local recipients costs no message copy.
void OutboundEngine::take(const std::string& id, std::int64_t now) {
    if (busy_.count(id) != 0) return;
    const auto& is_remote = options_.is_remote;
    const auto due = [&](const queue::SpoolEntry& e, std::size_t i) {
        return e.status[i].state == RecipientState::pending && e.status[i].next_attempt_unix <= now &&
               is_remote(e.envelope.recipients[i]);
    };
    {
        auto entry = spool_.entry(id);
        if (!entry) return;  // gone meanwhile (delivered locally, deleted)
        if (entry->held) return;  // `pigeon queue hold`: nothing until it is released
        bool any = false;
        for (std::size_t i = 0; i < entry->envelope.recipients.size() && !any; ++i) any = due(*entry, i);
        if (!any) return;
    }
    auto record = spool_.show(id);
    if (!record) {
        log(id + ": cannot read it from the spool: " + record.error().message);
        return;
    }
    auto shared = std::make_shared<const queue::MessageRecord>(std::move(record).value());
    const auto& entry = shared->entry;
    std::map<std::string, JobPtr> jobs;
    std::vector<JobPtr> order;
    for (std::size_t i = 0; i < entry.envelope.recipients.size(); ++i) {
        if (!due(entry, i)) continue;
        const auto routed = destination_domain(entry.envelope.recipients[i]);
        const std::string domain =
            routed.ok() ? routed.value() : entry.envelope.recipients[i].mailbox.domain().lowercase();
        auto fixed = routed.ok() ? fixed_hop(domain) : std::nullopt;
        const std::string key = !routed.ok() ? "invalid:" + domain
                                : fixed      ? "hop:" + fixed->host + ":" + std::to_string(fixed->port)
                                             : "mx:" + domain;
        JobPtr& job = jobs[key];
        if (!job || job->indexes.size() >= options_.max_recipients_per_transaction) {
            job = std::make_shared<Job>();
            job->id = id;
            job->key = key;
            job->domain = domain;
            job->fixed = fixed;
            if (!routed.ok()) job->invalid_domain = routed.error().message;
            job->record = shared;
            job->started_unix = clock_.now_unix_seconds();
            order.push_back(job);
        }
        job->indexes.push_back(i);
    }
    for (const JobPtr& job : order) {
        job->results.resize(job->indexes.size());
        ++busy_[id];
    }
    for (const JobPtr& job : order) start_job(job);
}

// New messages (notify(id)) are looked at one by one: no walk over the whole spool per message.
void OutboundEngine::take_fresh() {
    fresh_posted_ = false;
    if (stopping_) return;
    std::vector<std::string> ids;
    ids.swap(fresh_);
    const std::int64_t now = clock_.now_unix_seconds();
    for (const std::string& id : ids) take(id, now);
}

// Makes sure a full scan runs by `when_unix` (a deferred recipient's next attempt).
void OutboundEngine::wake_at(std::int64_t when_unix) {
    if (stopping_) return;
    if (scan_timer_ != 0 && scan_at_ <= when_unix) return;
    const std::int64_t now = clock_.now_unix_seconds();
    schedule_scan(std::chrono::milliseconds(std::max<std::int64_t>(1, when_unix - now) * 1000));
}

void OutboundEngine::scan() {
    scan_posted_ = false;
    if (stopping_) return;
    const std::int64_t now = clock_.now_unix_seconds();
    const auto& is_remote = options_.is_remote;
    for (const std::string& id : spool_.due(now, is_remote)) take(id, now);
    // Next scan: when the next deferred recipient is due, at the latest after rescan_interval.
    std::chrono::milliseconds delay = options_.rescan_interval;
    if (auto next = spool_.next_due(is_remote); next && *next > now)
        delay = std::min(delay, std::chrono::milliseconds((*next - now) * 1000));
    schedule_scan(std::max(delay, std::chrono::milliseconds(1000)));
}

void OutboundEngine::start_job(const JobPtr& job) {
    if (!job->invalid_domain.empty()) {
        // Nothing to look up: a permanent failure, reported like any route failure.
        Route route;
        route.kind = Route::Kind::permanent;
        route.reply = core::Reply(553, "5.1.3", job->domain + ": " + job->invalid_domain);
        route.explanation.push_back(job->domain + " cannot be converted to A-labels: " + job->invalid_domain);
        auto alive = alive_;
        runtime_.post([this, alive, job, route = std::move(route)]() mutable {
            if (*alive) route_ready(job, std::move(route));
        });
        return;
    }
    RouteRequest req;
    if (job->fixed) {
        req.mode = RouteRequest::Mode::host;
        req.domain = job->fixed->host;
        req.port = job->fixed->port;
    } else {
        req.mode = RouteRequest::Mode::mx;
        req.domain = job->domain;
        req.port = options_.mx_port;
    }
    req.our_names = options_.our_names;
    req.shuffle_seed = random_.next_u64();
    req.dane = options_.dane && options_.tls_context != nullptr;
    req.ipv4 = options_.ipv4;
    req.ipv6 = options_.ipv6;
    auto alive = alive_;
    Runtime& runtime = runtime_;
    find_route_async(resolver_, std::move(req), [this, alive, job, &runtime](Route route) {
        // The resolver may answer on its own thread: continue on the loop.
        runtime.post([this, alive, job, route = std::move(route)]() mutable {
            if (*alive) route_ready(job, std::move(route));
        });
    });
}

void OutboundEngine::route_ready(const JobPtr& job, Route route) {
    if (stopping_) {
        if (--busy_[job->id] == 0) busy_.erase(job->id);
        return;
    }
    job->route = std::move(route);
    for (const std::string& line : job->route.explanation) log(job->id + ": route: " + line);
    if (job->route.kind != Route::Kind::ok) {
        fail_all(job, job->route.reply, job->route.kind == Route::Kind::permanent, "route");
        finish(job);
        return;
    }
    waiting_[job->key].push_back(job);
    pump(job->key);
}

void OutboundEngine::pump(const std::string& key) {
    auto it = waiting_.find(key);
    while (!stopping_ && it != waiting_.end() && !it->second.empty() &&
           active_[key] < options_.max_per_destination &&
           connections_.size() < options_.max_connections) {
        JobPtr job = it->second.front();
        it->second.pop_front();
        try_next_address(job);
    }
    if (it != waiting_.end() && it->second.empty()) waiting_.erase(it);
}

void OutboundEngine::try_next_address(const JobPtr& job) {
    if (stopping_) {
        if (--busy_[job->id] == 0) busy_.erase(job->id);
        return;
    }
    const auto& hops = job->route.hops;
    while (job->hop < hops.size()) {
        const Hop& hop = hops[job->hop];
        if (hop.tls == Hop::Tls::unreachable) {
            job->last_problem = hop.host + ": " + hop.note;
            ++job->hop;
            job->address = 0;
            continue;
        }
        if (job->address >= hop.addresses.size()) {
            ++job->hop;
            job->address = 0;
            continue;
        }
        const std::string address = hop.addresses[job->address++];
        smtp::ClientTls tls = job->fixed ? job->fixed->tls : smtp::ClientTls::opportunistic;
        // DANE, or secure TLSA records none of which is usable: TLS is mandatory (RFC 7672 2.2).
        if (hop.tls == Hop::Tls::dane || hop.tls_required) tls = smtp::ClientTls::required;
        if (options_.tls_context == nullptr) tls = smtp::ClientTls::none;
        if (job->plaintext_fallback && tls == smtp::ClientTls::opportunistic) tls = smtp::ClientTls::none;
        job->plaintext_fallback = false;
        ++active_[job->key];
        ++stats_.connections;
        auto alive = alive_;
        runtime_.connect(address, hop.port, options_.connect_timeout,
                         [this, alive, job, hop, address, tls](std::unique_ptr<Stream> stream,
                                                               const std::string& error) {
                             if (!*alive) return;
                             if (!stream) {
                                 if (--active_[job->key] == 0) active_.erase(job->key);
                                 job->last_problem = hop.host + "[" + address + "]:" +
                                                     std::to_string(hop.port) + ": " + error;
                                 log(job->id + ": " + job->last_problem);
                                 try_next_address(job);
                                 return;
                             }
                             connected(job, std::move(stream), hop, address, tls);
                         });
        return;
    }
    const std::string problem = job->last_problem.empty() ? "no address to connect to"
                                                          : job->last_problem;
    fail_all(job, core::Reply(451, "4.4.1", "no host for " + job->domain + " took the message: " + problem),
             false, "connect");
    finish(job);
}

void OutboundEngine::connected(const JobPtr& job, std::unique_ptr<Stream> stream, const Hop& hop,
                               const std::string& address, smtp::ClientTls tls) {
    auto conn = std::make_shared<Conn>();
    conn->label = "o" + std::to_string(next_connection_++) + " " + hop.host + "[" + address +
                  "]:" + std::to_string(hop.port);
    conn->key = job->key;
    conn->hop = hop;
    conn->address = address;
    job->connected_unix = clock_.now_unix_seconds();
    conn->policy = tls;
    if (job->fixed && tls == smtp::ClientTls::required) conn->trust = job->fixed->trust;
    conn->stream = std::move(stream);
    conn->job = job;
    connections_.insert(conn);

    smtp::ClientConfig config;
    config.hostname = options_.hostname;
    config.tls = tls;
    if (job->fixed) config.credentials = job->fixed->credentials;
    if (options_.trace) {
        const std::string label = conn->label;
        auto trace = options_.trace;
        config.trace = [trace, label](std::string_view line) { trace(label, line); };
    }
    conn->session = smtp::make_client_session(std::move(config));
    log(job->id + ": connected to " + conn->label +
        (tls == smtp::ClientTls::required ? " (TLS required" +
                                                std::string(hop.tls == Hop::Tls::dane ? ", DANE)"
                                                            : conn->trust         ? ", certificate verified)"
                                                                                  : ")")
         : tls == smtp::ClientTls::none   ? " (no TLS)"
                                          : ""));

    std::weak_ptr<Conn> weak = conn;
    auto alive = alive_;
    conn->stream->start(
        [this, alive, weak](std::string_view bytes) {
            if (!*alive) return;
            if (auto c = weak.lock()) received(c, bytes);
        },
        [this, alive, weak](const std::string& reason) {
            if (!*alive) return;
            if (auto c = weak.lock()) ended(c, reason);
        });
    run_actions(conn, conn->session->start());
    if (!conn->closed) run_actions(conn, conn->session->on(smtp::Deliver{client_message(*job)}));
}

void OutboundEngine::write(const ConnPtr& conn, std::string_view plaintext) {
    if (conn->closed) return;
    if (conn->tls) {
        tls::TlsOutput out = conn->tls->send(plaintext);
        if (!out.to_peer.empty()) conn->stream->write(std::move(out.to_peer));
    } else {
        conn->stream->write(std::string(plaintext));
    }
}

void OutboundEngine::received(const ConnPtr& conn, std::string_view bytes) {
    if (conn->closed) return;
    if (!conn->tls) {
        run_actions(conn, conn->session->put(bytes));
        return;
    }
    tls::TlsOutput out = conn->tls->received(bytes);
    if (!out.to_peer.empty()) conn->stream->write(std::move(out.to_peer));
    if (!out.plaintext.empty()) run_actions(conn, conn->session->put(out.plaintext));
    if (conn->closed) return;
    if (out.established_now) run_actions(conn, conn->session->on(smtp::ClientTlsReady{}));
    if (conn->closed) return;
    if (out.closed) {
        if (!conn->tls->established() || !out.error.empty()) {
            const std::string why = out.error.empty() ? "TLS closed during the handshake" : out.error;
            log(conn->label + ": TLS: " + why);
            run_actions(conn, conn->session->on(smtp::ClientTlsFailed{why}));
        } else {
            run_actions(conn, conn->session->put_eof());
        }
    }
}

void OutboundEngine::ended(const ConnPtr& conn, const std::string& reason) {
    if (conn->closed) return;
    if (!reason.empty()) log(conn->label + ": connection ended: " + reason);
    run_actions(conn, conn->session->put_eof());
    close_connection(conn);
}

void OutboundEngine::run_actions(const ConnPtr& conn, std::vector<smtp::ClientAction> actions) {
    bool sent = false;  // a command (or the handshake) went out: a new wait starts
    for (auto& action : actions) {
        if (conn->closed) break;
        if (auto* send = std::get_if<smtp::ClientSend>(&action)) {
            write(conn, send->bytes);
            sent = true;
        } else if (std::holds_alternative<smtp::ClientStartTls>(action)) {
            sent = true;
            tls::CertificateVerifier verifier;
            if (conn->hop.tls == Hop::Tls::dane)
                verifier = tls::dane_verifier(conn->hop.tlsa, conn->hop.dane_names,
                                              clock_.now_unix_seconds());
            else if (conn->trust)  // tls = "verify": the Web PKI way, for the configured host name
                verifier = tls::pkix_verifier(conn->trust, conn->hop.host, clock_.now_unix_seconds());
            conn->tls = std::make_unique<tls::TlsClientChannel>(options_.tls_context,
                                                                 conn->hop.host, std::move(verifier));
            tls::TlsOutput out = conn->tls->start();
            if (!out.to_peer.empty()) conn->stream->write(std::move(out.to_peer));
        } else if (auto* done = std::get_if<smtp::ClientDone>(&action)) {
            transaction_done(conn, std::move(done->result));
        } else if (std::holds_alternative<smtp::ClientIdle>(action)) {
            after_transaction(conn);
        } else if (std::holds_alternative<smtp::ClientClose>(action)) {
            close_connection(conn);
        }
    }
    arm_timer(conn, sent);
}

// RFC 5321 4.5.3.2: each reply has its own deadline, from the command that asks for it (or
// from the previous reply, for pipelined commands). Octets that do not complete a reply
// leave the running timer alone: a peer sending a byte every few seconds would otherwise
// hold the connection, and a delivery slot, forever.
void OutboundEngine::arm_timer(const ConnPtr& conn, bool sent) {
    if (conn->closed) {
        runtime_.cancel(conn->timer);
        conn->timer = 0;
        return;
    }
    const std::string_view wait = conn->session->waiting_for();
    const std::uint64_t replies = conn->session->replies_received();
    if (conn->timer != 0 && !sent && wait == conn->timed_wait && replies == conn->timed_replies)
        return;  // the same wait, no reply completed: the deadline stands
    runtime_.cancel(conn->timer);
    conn->timer = 0;
    conn->timed_wait = std::string(wait);
    conn->timed_replies = replies;
    const auto delay = (wait == "data block" || wait == "end of data") ? options_.data_timeout
                                                                       : options_.command_timeout;
    std::weak_ptr<Conn> weak = conn;
    auto alive = alive_;
    conn->timer = runtime_.after(delay, [this, alive, weak] {
        if (!*alive) return;
        auto c = weak.lock();
        if (!c || c->closed) return;
        c->timer = 0;
        log(c->label + ": timed out waiting for " + std::string(c->session->waiting_for()));
        run_actions(c, c->session->on(smtp::ClientTimeout{}));
        if (!c->closed) close_connection(c);
    });
}

void OutboundEngine::transaction_done(const ConnPtr& conn, smtp::TransactionResult result) {
    JobPtr job = std::move(conn->job);
    conn->job = nullptr;
    if (!job) return;
    ++stats_.transactions;
    if (result.maybe_delivered) {
        ++stats_.maybe_duplicates;
        log(job->id + ": " + conn->label +
            ": no reply to the end of data; the peer may have the message (it will be sent again)");
    }
    const bool level = result.connection_level && !result.maybe_delivered;
    if (level && !stopping_) {
        const smtp::RecipientResult* first = result.recipients.empty() ? nullptr : &result.recipients[0];
        job->last_problem = conn->label + ": " + (first ? first->stage + ": " + outbound_detail::one_line(first->reply)
                                                        : std::string("connection failed"));
        log(job->id + ": " + job->last_problem);
        if (first && tls_stage(first->stage) && conn->policy == smtp::ClientTls::opportunistic) {
            // RFC 7435 opportunistic TLS: a failed handshake falls back to plain text, once,
            // on the same address (never under DANE or a required policy).
            job->plaintext_fallback = true;
            --job->address;
        }
        try_next_address(job);
        return;
    }
    for (std::size_t k = 0; k < job->results.size() && k < result.recipients.size(); ++k)
        job->results[k] = std::move(result.recipients[k]);
    job->remote_mta = conn->hop.host;
    job->relay = conn->hop.host + "[" + conn->address + "]:" + std::to_string(conn->hop.port);
    finish(job);
}

void OutboundEngine::after_transaction(const ConnPtr& conn) {
    if (conn->closed) return;
    auto it = waiting_.find(conn->key);
    if (!stopping_ && it != waiting_.end() && !it->second.empty()) {
        // Connection reuse: the next transaction for the same destination.
        JobPtr next = it->second.front();
        it->second.pop_front();
        if (it->second.empty()) waiting_.erase(it);
        next->route.hops = {conn->hop};  // reused: this host; on trouble, a fresh route later
        next->hop = 1;
        conn->job = next;
        run_actions(conn, conn->session->on(smtp::Deliver{client_message(*next)}));
        return;
    }
    run_actions(conn, conn->session->on(smtp::Quit{}));
}

void OutboundEngine::close_connection(const ConnPtr& conn) {
    if (conn->closed) return;
    conn->closed = true;
    runtime_.cancel(conn->timer);
    conn->timer = 0;
    conn->stream->close();
    connections_.erase(conn);
    if (--active_[conn->key] == 0) active_.erase(conn->key);
    if (conn->job) {
        // Closed with a transaction in hand (stop()): its recipients stay as they were.
        JobPtr job = std::move(conn->job);
        if (--busy_[job->id] == 0) busy_.erase(job->id);
    }
    if (stopping_) {
        if (connections_.empty() && stopped_) {
            auto done = std::move(stopped_);
            stopped_ = nullptr;
            done();
        }
        return;
    }
    std::vector<std::string> keys;
    for (const auto& [key, jobs] : waiting_) keys.push_back(key);
    for (const auto& key : keys) pump(key);
}

void OutboundEngine::fail_all(const JobPtr& job, const core::Reply& reply, bool permanent,
                              std::string stage) {
    const auto& recipients = job->record->entry.envelope.recipients;
    for (std::size_t k = 0; k < job->indexes.size(); ++k) {
        smtp::RecipientResult r;
        r.recipient = recipients[job->indexes[k]];
        r.outcome = permanent ? smtp::Outcome::permanent : smtp::Outcome::transient;
        r.reply = reply;
        r.from_peer = false;
        r.stage = stage;
        job->results[k] = std::move(r);
    }
}

// finish(): outbound_finish.cpp.

void OutboundEngine::stop(std::function<void()> done) {
    stopping_ = true;
    runtime_.cancel(scan_timer_);
    scan_timer_ = 0;
    waiting_.clear();
    stopped_ = std::move(done);
    std::vector<ConnPtr> open(connections_.begin(), connections_.end());
    for (const ConnPtr& c : open) close_connection(c);
    if (connections_.empty() && stopped_) {
        auto d = std::move(stopped_);
        stopped_ = nullptr;
        d();
    }
}

}  // namespace pigeon::delivery
