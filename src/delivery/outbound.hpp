// pigeon/delivery/outbound.hpp: the outbound role's engine - takes remote recipients out of the
// spool, routes them (MX, relayhost or a configured route), delivers them with the client
// session (smtp/client/session.hpp) over TLS where possible (DANE where DNSSEC proves TLSA records),
// and records each recipient's fate durably: delivered, retried later with backoff, or failed
// with a delivery status notification (RFC 3464) to the sender.
//
// Contract:
//   - Deterministic: the clock, random source, resolver, storage (through the Spool) and the
//     network, timers and loop (Runtime) are injected; the simulator runs this same code.
//   - Every public method, and every callback the engine registers, runs on the Runtime's loop
//     (see runtime.hpp); from another thread use runtime.post().
//   - A recipient is pending until its outcome is durable: delivered (the peer's 2xx to the
//     end of data), failed (a 5xx, a permanent routing answer, or retries ran out - a DSN is
//     queued first when the sender is not <>), or deferred (attempts and next attempt time
//     recorded). A crash between the peer's 2xx and that record delivers the message again
//     on restart; nothing else can duplicate or lose it.
//   - One message's recipients are grouped by destination (domain, or the relayhost); each
//     group is one transaction. Connections are limited overall and per destination, and an
//     idle connection carries the next waiting transaction for the same destination.
//   - Each reply the peer owes has its own deadline (RFC 5321 4.5.3.2): command_timeout, or
//     data_timeout from the end of the message data to the reply to it. Octets that do not
//     complete a reply never extend it; on expiry the connection is closed and its
//     recipients are deferred (4.4.2) like any connection failure: an attempt counted, the
//     next MX host tried, the slot freed for other mail.
//   - Held messages (Spool::hold) are not taken; one already under way finishes its attempt.
//   - Never throws out of its methods or callbacks; failures become deferrals and log lines.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/mail_event.hpp"

#include "core/address.hpp"
#include "core/clock.hpp"
#include "delivery/route.hpp"
#include "delivery/runtime.hpp"
#include "dns/dns.hpp"
#include "queue/queue_id.hpp"
#include "queue/retry.hpp"
#include "queue/spool.hpp"
#include "smtp/client/session.hpp"
#include "tls/pkix.hpp"

namespace pigeon::tls {
class TlsContext;
}

namespace pigeon::delivery {

// A fixed next hop: the relayhost (smarthost) or a per-domain route.
struct NextHop {
    std::string host;  // a host name (address records only, no MX) or an IP address
    std::uint16_t port = 25;
    smtp::ClientTls tls = smtp::ClientTls::opportunistic;
    std::optional<smtp::ClientCredentials> credentials;  // AUTH (only over TLS)
    // With tls == required: the certificate must validate against these CAs and name `host`
    // (tls = "verify", tls/pkix.hpp), or the handshake fails and nothing is sent. Null: any
    // certificate (tls = "required" encrypts without authenticating, like Postfix's "encrypt").
    std::shared_ptr<const tls::TrustStore> trust;
    friend bool operator==(const NextHop&, const NextHop&) = default;
};

struct OutboundOptions {
    std::string hostname = "localhost";  // EHLO name, Reporting-MTA of DSNs
    std::vector<std::string> our_names;  // an MX naming one of these ends the MX list
    std::uint16_t mx_port = 25;          // the port MX hosts are contacted on
    bool dane = true;                    // RFC 7672 where DNSSEC allows
    bool ipv4 = true, ipv6 = true;
    std::optional<NextHop> relayhost;           // every remote recipient goes there
    std::map<std::string, NextHop> routes;      // domain (lower case) -> next hop, before relayhost
    queue::RetryPolicy retry;
    std::size_t max_connections = 50;           // in total
    std::size_t max_per_destination = 4;        // per destination (domain or next hop)
    std::size_t max_recipients_per_transaction = 100;  // RFC 5321 4.5.3.1.8
    std::chrono::milliseconds connect_timeout{30'000};
    std::chrono::milliseconds command_timeout{300'000};   // RFC 5321 4.5.3.2.1-4, .7
    std::chrono::milliseconds data_timeout{600'000};      // RFC 5321 4.5.3.2.6 (end of data)
    std::chrono::milliseconds rescan_interval{60'000};    // spool scan when nothing is due sooner
    std::shared_ptr<tls::TlsContext> tls_context;         // client context; null: no TLS at all
    // Which pending recipients are ours to deliver (not local). Required.
    std::function<bool(const core::Path&)> is_remote;
    // One line per event; may be empty. With `event` set, a recipient's outcome and the
    // removal are only the event's line (no text line beside it).
    std::function<void(std::string_view line)> log;
    // The operator's lines: each recipient's attempt and the message's removal
    // (core/mail_event.hpp); may be empty.
    std::function<void(const core::MailEvent&)> event;
    // Every SMTP line sent and received ("C: ..." / "S: ..."), with the connection's label.
    std::function<void(std::string_view connection, std::string_view line)> trace;
    // A message (a DSN) was committed to the spool: local delivery may want it.
    std::function<void(const std::string& id)> on_queued;
    // Each recipient's outcome as it is settled, for metrics: its new state (delivered,
    // pending = deferred, failed), when its message arrived and now (unix seconds). May be empty.
    std::function<void(queue::RecipientState state, std::int64_t arrival_unix, std::int64_t now_unix)>
        on_outcome;
};

struct OutboundStats {
    std::uint64_t transactions = 0;       // ClientDone results handled
    std::uint64_t connections = 0;        // TCP connections opened
    std::uint64_t delivered = 0;          // recipients
    std::uint64_t deferred = 0;           // recipient deferrals
    std::uint64_t failed = 0;             // recipients failed for good
    std::uint64_t dsns = 0;               // DSNs queued (failure and delay)
    std::uint64_t maybe_duplicates = 0;   // transactions whose end of data got no reply
};

class OutboundEngine {
public:
    OutboundEngine(OutboundOptions options, queue::Spool& spool, const core::Clock& clock,
                   queue::RandomSource& random, dns::Resolver& resolver, Runtime& runtime);
    ~OutboundEngine();
    OutboundEngine(const OutboundEngine&) = delete;
    OutboundEngine& operator=(const OutboundEngine&) = delete;

    void start();                        // first scan of the spool (recovery)
    void notify(const std::string& id);  // a message was committed: look at it now
    void flush();                        // every deferred recipient is due now
    void retry(const std::string& id);   // that message's deferred recipients are due now
    // Live reload: every later routing decision, connection and retry uses `options`; jobs
    // already routed keep their next hop and their connection. The callbacks are replaced too.
    void reconfigure(OutboundOptions options);
    // Stop: no new connections; open ones are closed; `done` runs once nothing is left.
    void stop(std::function<void()> done);
    const OutboundStats& stats() const { return stats_; }
    std::size_t active_connections() const { return connections_.size(); }

private:
    struct Job;      // outbound_job.hpp
    struct Conn;
    struct Closing;  // one finished job's results made durable (outbound_finish.cpp)
    using JobPtr = std::shared_ptr<Job>;
    using ConnPtr = std::shared_ptr<Conn>;

    void scan();
    void take(const std::string& id, std::int64_t now);
    void take_fresh();
    void wake_at(std::int64_t when_unix);
    void schedule_scan(std::chrono::milliseconds delay);
    void start_job(const JobPtr& job);
    void route_ready(const JobPtr& job, Route route);
    void pump(const std::string& key);
    void try_next_address(const JobPtr& job);
    void connected(const JobPtr& job, std::unique_ptr<Stream> stream, const Hop& hop,
                   const std::string& address, smtp::ClientTls tls);
    void run_actions(const ConnPtr& conn, std::vector<smtp::ClientAction> actions);
    void received(const ConnPtr& conn, std::string_view bytes);
    void ended(const ConnPtr& conn, const std::string& reason);
    void transaction_done(const ConnPtr& conn, smtp::TransactionResult result);
    void after_transaction(const ConnPtr& conn);
    void arm_timer(const ConnPtr& conn, bool sent);
    void write(const ConnPtr& conn, std::string_view plaintext);
    void close_connection(const ConnPtr& conn);
    void fail_all(const JobPtr& job, const core::Reply& reply, bool permanent, std::string stage);
    void finish(const JobPtr& job);
    void log(const std::string& line) const;
    void log_unless_reported(const std::string& line) const;  // log(), when no event says it
    void event(core::MailEvent e) const;
    static smtp::ClientMessage client_message(const Job& job);
    std::optional<NextHop> fixed_hop(const std::string& domain) const;

    OutboundOptions options_;
    queue::Spool& spool_;
    const core::Clock& clock_;
    queue::RandomSource& random_;
    dns::Resolver& resolver_;
    Runtime& runtime_;

    // Liveness token for callbacks from other threads (the resolver) posted back to the loop.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    std::map<std::string, std::size_t> busy_;  // message id -> jobs in flight
    std::map<std::string, std::deque<JobPtr>> waiting_;  // destination key -> jobs ready to send
    std::map<std::string, std::size_t> active_;           // destination key -> connections
    std::set<ConnPtr> connections_;
    Runtime::TimerId scan_timer_ = 0;
    std::int64_t scan_at_ = 0;          // when the scan timer fires (unix seconds)
    bool scan_posted_ = false;
    std::vector<std::string> fresh_;    // notify(id) since the last take_fresh()
    bool fresh_posted_ = false;
    bool stopping_ = false;
    std::function<void()> stopped_;
    std::uint64_t next_connection_ = 1;
    OutboundStats stats_;
};

// The domain to route user@domain by, as DNS is asked about it: "example.org" (ASCII
// lower-cased), "xn--bcher-kva.example" for user@bücher.example (IDNA2008 A-labels,
// core/idna.hpp; the envelope keeps the U-label, RFC 6531), the literal's text for address
// literals. A domain that is not valid IDNA2008 is an Error: its recipients fail with
// 553 5.1.3 without a DNS question.
core::Result<std::string> destination_domain(const core::Path& recipient);

}  // namespace pigeon::delivery
