// pigeon/app/services.hpp: the server's answers to what sessions ask (net::Services):
// credentials (Argon2id/bcrypt, verified off the I/O threads, failures throttled per client:
// an IPv4 address or an IPv6 /N network, policy/auth_throttle.hpp; with [auth] dovecot, asked of
// Dovecot's auth service instead, net/dovecot_auth_client.hpp), the sender/recipient/message
// policy and SPF/DKIM/DMARC (pipeline.hpp, shared with the simulator; the crypto on a bounded
// pool), and the durable spool (group commit).
//
// Live reload: what a configuration decides (the directory of users, aliases and domains, the
// host name, SPF/DMARC settings, the signing keys) is one Settings value, made into a snapshot
// (prepare) and made current (use). The server hands each connection the snapshot current at
// its accept (net::ConnectionInfo::snapshot) and every question of that connection is answered
// from it, so an open session keeps the users and policy it started with. Local submission and
// connections without a snapshot get the current one. The pools, the AUTH failure throttle and
// the spool are shared by every snapshot and live as long as the AppServices.
#pragma once
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "policy/auth_throttle.hpp"
#include "policy/pipeline.hpp"
#include "config/config.hpp"
#include "auth/dkim/dkim.hpp"
#include "policy/directory.hpp"
#include "dns/dns.hpp"
#include "core/clock.hpp"
#include "net/local_submission.hpp"
#include "core/mail_event.hpp"
#include "net/dovecot_auth_client.hpp"
#include "net/server.hpp"
#include "os/group_commit.hpp"
#include "queue/queue_id.hpp"

namespace pigeon::app {

class AppServices final : public net::Services {
public:
    using SigningKey = policy::SigningKey;
    // What a live reload replaces (see the top).
    struct Settings {
        std::string hostname;
        std::shared_ptr<const policy::Directory> directory;  // required
        config::SpfSettings spf;      // inbound MAIL FROM
        config::DmarcSettings dmarc;  // inbound end of DATA (DKIM, DMARC, Authentication-Results)
        // The organizational domain (RFC 7489 3.2, the Public Suffix List); empty: no DMARC.
        std::function<std::string(std::string_view)> org_domain;
        // Submission signs with every key of the message's From: domain ([[dkim.keys]]).
        std::vector<SigningKey> dkim_keys;
        // [auth]: dovecot set: submission AUTH asks Dovecot (net/dovecot_auth_client.hpp)
        // instead of the directory's password hashes. A snapshot with the same [auth] as a
        // live one shares its client (and connection).
        config::AuthSettings auth;
    };
    // What stays for the AppServices' life.
    struct Options {
        std::uint32_t auth_failures_per_ip_per_minute = 5;
        Botan::RandomNumberGenerator* rng = nullptr;  // for signing (Botan's API takes one)
        // Records each DMARC evaluation for aggregate reports; may be null.
        policy::DmarcRecordSink* dmarc_recorder = nullptr;
        // The pool that verifies DKIM, decides DMARC and signs submissions (never an I/O thread
        // or the resolver's thread): its threads (0: one per CPU core) and the CPU time one
        // message's verification may use.
        unsigned verify_threads = 0;
        std::chrono::milliseconds verify_cpu_budget{5000};
        // True while the spool's disk is below its reserve: MAIL gets 452 4.3.1 on both roles
        // (mail already accepted keeps the room it needs). May be empty.
        std::function<bool()> storage_low;
        std::function<void(net::LogLevel, std::string_view)> log;
        // Sees each answer just before the session gets it (metrics), with the listener of the
        // connection and the question's stage ("auth", "mail", "rcpt", "data", "queue");
        // called on the answering thread. May be empty.
        std::function<void(std::size_t listener, std::string_view stage, const smtp::Event&)> on_answer;
        // PipelineOptions::count: each SPF, DKIM and DMARC verdict (metrics). May be empty.
        std::function<void(std::string_view check, std::string_view result)> count_verdict;
        // The operator's lines: each message accepted and queued, each refusal
        // (core/mail_event.hpp). May be empty.
        std::function<void(const core::MailEvent&)> event;
    };

    // resolver: SPF at MAIL FROM, DKIM keys and DMARC records at the end of DATA; its
    // answers come back on the resolver's thread and are handed on at once (the crypto goes
    // to the verification pool). Null turns SPF, DKIM verification and DMARC off.
    // `settings` is the first current snapshot.
    AppServices(Options options, Settings settings, os::GroupCommitter& committer,
                const core::Clock& clock, queue::RandomSource& random,
                dns::Resolver* resolver = nullptr);
    ~AppServices() override;
    void stop();  // waits for credential checks and verifications in progress

    // A snapshot of `settings` (its policy pipeline built), for net::LiveSettings::snapshot and
    // use(). Thread-safe.
    std::shared_ptr<const net::ServicesSnapshot> prepare(Settings settings);
    // Makes a snapshot from prepare() current. Thread-safe.
    void use(std::shared_ptr<const net::ServicesSnapshot> snapshot);
    std::shared_ptr<const net::ServicesSnapshot> current() const;
    // The current snapshot's directory (local submission's callers). Thread-safe.
    std::shared_ptr<const policy::Directory> directory() const;

    void handle(const net::ConnectionInfo& connection, const smtp::Action& action,
                std::function<void(smtp::Event)> done) override;

    // Local submission (pigeon sendmail, app/local_submit.cpp): the sender, each recipient and
    // the message checked as on the submission role with `caller` as their owner (all or
    // nothing: the first refusal is the answer), stamped, signed, then the durable spool.
    // `done` gets 250 2.0.0 with the queue id, or the refusal; from any thread.
    void submit_local(const policy::LocalCaller& caller, const net::LocalSubmission& submission,
                      std::function<void(core::Reply)> done);

private:
    struct Generation;  // one snapshot: its Settings and the Pipeline built on them
    std::shared_ptr<const Generation> current_generation() const;
    void answer(const Generation& g, const net::ConnectionInfo& connection, const smtp::Action& action,
                std::function<void(smtp::Event)> done);
    void authenticate(const Generation& g, const net::ConnectionInfo& connection, const smtp::Authenticate& a,
                      std::function<void(smtp::Event)> done);
    // AUTH against Settings::users (services_directory.cpp): the login's hash from the backend,
    // verified on auth_pool_; the backend unavailable -> 454 4.7.0, not counted as a failure.
    void authenticate_from(policy::UserDirectory& users, const net::ConnectionInfo& connection,
                           const smtp::Authenticate& a, std::string client, std::function<void(smtp::Event)> done);
    // The same, answered by Dovecot (g.dovecot): OK is the login (Dovecot's user=), FAIL 535
    // and a counted failure, anything else 454 4.7.0.
    void authenticate_with_dovecot(const Generation& g, const net::ConnectionInfo& connection,
                                   const smtp::Authenticate& a, std::string client,
                                   std::function<void(smtp::Event)> done);
    // The client for `auth` (null when auth.dovecot is empty): a live one with the same
    // settings, or a new one on auth_pool_.
    std::shared_ptr<net::DovecotAuthClient> dovecot_client(const config::AuthSettings& auth);
    // The refusal's line, when `verdict` refuses; `to` only for RCPT.
    void log_refusal(const net::ConnectionInfo& connection, std::string_view stage,
                     const core::Envelope& envelope, const core::Path* to,
                     const smtp::Event& verdict) const;
    // done, after logging the refusal it carries, if any.
    std::function<void(smtp::Event)> logging_refusals(const net::ConnectionInfo& connection,
                                                      std::string stage, const core::Envelope& envelope,
                                                      std::function<void(smtp::Event)> done) const;
    struct AcceptedLines {
        core::MessageReceived received;
        core::MessageQueued queued;
    };
    AcceptedLines accepted_lines(const net::ConnectionInfo& connection, const smtp::Enqueue& e) const;
    void log_accepted(AcceptedLines& lines, const std::string& queue_id) const;
    bool throttled(const std::string& client);  // client: ConnectionInfo::client_key
    void record_failure(const std::string& client);

    Options options_;
    os::GroupCommitter& committer_;
    const core::Clock& clock_;
    queue::RandomSource& random_;
    dns::Resolver* resolver_;
    boost::asio::thread_pool verify_pool_;  // DKIM crypto and DMARC verdicts; before generations
    // Argon2 takes ~0.1 s: never on an I/O thread. Also runs the Dovecot clients (their sockets
    // and timers), so it is made before the generations that hold them and outlives them.
    boost::asio::thread_pool auth_pool_{2};
    std::mutex dovecot_mutex_;
    std::vector<std::weak_ptr<net::DovecotAuthClient>> dovecot_clients_;  // under dovecot_mutex_; pruned
    mutable std::mutex current_mutex_;
    std::shared_ptr<const Generation> current_;  // under current_mutex_
    policy::AuthFailureThrottle auth_failures_;  // bounded; pruned as it grows
};

// One snapshot. Its Pipeline refers to settings.directory, which it owns. The last reference
// to an old one is dropped by a connection's end or an answer's callback, never while its
// Pipeline is running a step (the caller of handle() holds the connection, and an async step's
// callback is released after it has returned).
struct AppServices::Generation final : net::ServicesSnapshot {
    Generation(Settings s, policy::PipelineOptions options, const core::Clock& clock, queue::RandomSource& random,
               dns::Resolver* resolver, std::shared_ptr<net::DovecotAuthClient> dovecot_client)
        : settings(std::move(s)),
          checks(std::move(options), *settings.directory, clock, random, resolver),
          dovecot(std::move(dovecot_client)) {}
    const Settings settings;
    mutable policy::Pipeline checks;  // the policy questions (shared with the simulator; thread-safe)
    const std::shared_ptr<net::DovecotAuthClient> dovecot;  // null: the directory's hashes
};

}  // namespace pigeon::app
