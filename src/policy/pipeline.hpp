// pigeon/policy/pipeline.hpp: the mail policy as one chain of named steps: the deterministic
// answers to a session's questions, shared by the server (app/services.hpp) and the simulator
// (sim/), which call the same object.
//
// The chain (each step a short function in pipeline.cpp, its state in the fields of one
// evaluation; a step that waits on DNS or the offload pool calls the next when it is answered):
//   MAIL, inbound      sender rules (directory.hpp) -> SPF (spf_step.hpp)
//   MAIL, submission   sender rules: only the user's own addresses
//   RCPT               recipient rules: the directory, anti-relay
//   (With a [directory] backend, Directory::backend(), the users' answers at RCPT, MAIL and
//   From: on submission are asked of it asynchronously: user_directory.hpp.)
//   DATA, every role   forged Authentication-Results renamed (RFC 8601 5)
//   DATA, inbound      DKIM -> DMARC -> decide (the disposition and the
//                      Authentication-Results field: dmarc_step.hpp) -> record (reports)
//   DATA, submission   ownership of From:, Date:/Message-ID: stamp -> DKIM signing
//   DATA, local        the same for pigeon sendmail, the calling Unix user as owner
// A step that configuration turns off ([spf] check, [dmarc] check, no resolver, no keys) is
// skipped and the chain goes on with the directory's answer. Later steps (rate limits,
// DNSBL, greylisting, milters) join the chain here.
//
// Contract:
//   - No I/O of its own: DNS goes through the injected dns::Resolver, time through the
//     core::Clock, randomness (Message-ID, DMARC pct=) through the queue::RandomSource and, for
//     signing, the Botan RNG of the options; DMARC records go to the injected DmarcRecordSink.
//     Given the same answers it makes the same verdicts.
//   - check_sender / check_message call `done` exactly once, either before they return (a
//     resolver that answers at once: the ZoneResolver, the simulator, no offload) or later on
//     the resolver's thread (SPF) or an offload thread (DKIM, DMARC, signing): callers that care about
//     threads post it back.
//   - SPF's outcome reaches DMARC typed (SpfOutcome in Verdict::sender_facts, handed back by
//     the session in Envelope::sender_facts), never as text.
//   - RFC 8601 5: on every role, an Authentication-Results field naming our authserv-id is
//     renamed to X-Original-Authentication-Results before the message is stored or signed,
//     whether or not DMARC runs and even when the header does not parse.
//   - Credentials are not checked here (the server hashes on a thread pool; the simulator
//     decides for itself); neither is the spool.
//   - Thread-safe: the random source and the signing RNG are used under a lock.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.hpp"
#include "auth/dmarc/report.hpp"
#include "policy/directory.hpp"
#include "policy/user_directory.hpp"
#include "auth/dkim/dkim.hpp"
#include "auth/dmarc/auth_results.hpp"
#include "auth/dmarc/dmarc.hpp"
#include "core/clock.hpp"
#include "core/log_level.hpp"
#include "dns/dns.hpp"
#include "queue/queue_id.hpp"
#include "smtp/server/session.hpp"

namespace Botan {
class Private_Key;
class RandomNumberGenerator;
}  // namespace Botan

namespace pigeon::policy {

// Where each DMARC evaluation with a policy goes, for aggregate reports (RFC 7489 7.2). The
// server's is app::DmarcRecorder (files in the state directory). record() returns why it
// failed, or nullopt; a failure is logged and never affects the message. Thread-safe.
class DmarcRecordSink {
public:
    virtual ~DmarcRecordSink() = default;
    virtual std::optional<std::string> record(const dmarc::EvaluationRecord& record) = 0;
};

// A key submission signs with ([[dkim.keys]]): every key of the message's From: domain.
struct SigningKey {
    std::string domain, selector;
    std::shared_ptr<const Botan::Private_Key> key;
    dkim::Algorithm algorithm = dkim::Algorithm::rsa_sha256;
};

struct PipelineOptions {
    std::string hostname;  // authserv-id, receiver in Received-SPF, Message-ID's right side
    config::SpfSettings spf;  // inbound MAIL FROM
    config::DmarcSettings dmarc;  // inbound end of DATA (DKIM, DMARC, Authentication-Results)
    // The organizational domain (RFC 7489 3.2, the Public Suffix List); empty: no DMARC.
    std::function<std::string(std::string_view)> org_domain;
    std::vector<SigningKey> dkim_keys;
    // For signing (Botan's API takes one). Used from several threads at once without a lock:
    // it must be thread-safe, as Botan's AutoSeeded_RNG is (Stateful_RNG locks internally);
    // the simulator's deterministic one is used from its one thread.
    Botan::RandomNumberGenerator* rng = nullptr;
    DmarcRecordSink* dmarc_recorder = nullptr;    // may be null
    // Where the slow part of the end of DATA runs: DKIM's canonicalization, hashing and
    // public-key work, the DMARC verdict with its report record (a file write), and DKIM
    // signing of submissions. The
    // server hands these to a bounded worker pool, never an I/O thread or the resolver's
    // thread; null runs them inline (the simulator, tests).
    std::function<void(std::function<void()>)> offload;
    // Polled by DKIM verification inside an offloaded task: true once that task has spent its
    // CPU budget, and the rest of the message's signatures get temperror (auth/dkim/dkim.hpp).
    // The server measures the pool thread's CPU time; null: no budget.
    std::function<bool()> over_budget;
    // One line per decision or problem; may be empty.
    using Level = core::LogLevel;  // error, warn or info
    std::function<void(Level, std::string_view line)> log;
    // Each verdict as it is reached, for metrics: check "spf" (one per evaluation), "dkim"
    // (one per signature, "none" for a message without one) or "dmarc", and the verdict's
    // name (spf::verdict_name, dmarc::dkim_result_name, dmarc::verdict_name). May be empty.
    std::function<void(std::string_view check, std::string_view result)> count;
};

class Pipeline {
public:
    // resolver: for SPF, DKIM and DMARC; null turns them off.
    Pipeline(PipelineOptions options, const Directory& directory, const core::Clock& clock,
             queue::RandomSource& random, dns::Resolver* resolver);

    // `label` names the connection in log lines ("c12").
    void check_sender(smtp::Role role, const smtp::CheckSender& c, const std::string& label,
                      std::function<void(smtp::Event)> done);
    smtp::Verdict check_recipient(smtp::Role role, const smtp::CheckRecipient& c) const;
    // As above, asking the Directory's backend() for a local-domain recipient when there is one
    // (`done` then runs on the directory's thread, or at once from its cache); without one,
    // `done` gets check_recipient's answer before this returns.
    void check_recipient(smtp::Role role, const smtp::CheckRecipient& c, std::function<void(smtp::Event)> done);
    // True when the asynchronous check_recipient would ask the Directory's backend() about `path`.
    bool asks_directory(const core::Path& path) const;
    void check_message(smtp::Role role, const smtp::CheckMessage& c, const std::string& label,
                       std::function<void(smtp::Event)> done);

    // Local submission (pigeon sendmail): as submission's end of DATA, with the calling Unix
    // user (directory.hpp) as the owner of From: instead of a directory user; then signed.
    void check_local_message(const smtp::CheckMessage& c, const LocalCaller& caller,
                             std::function<void(smtp::Event)> done);

    const Directory& directory() const { return directory_; }

private:
    struct InboundMessage;  // the state of one inbound end-of-DATA evaluation (pipeline.cpp)
    // Forged Authentication-Results renamed (RFC 8601 5): what to store instead of the
    // message's first octets; nullopt when none is ours.
    using Patch = std::optional<dmarc::ResultsPatch>;

    void check_spf(const smtp::CheckSender& c, const std::string& label,
                   std::function<void(smtp::Event)> done);
    void inbound_message(const smtp::CheckMessage& c, Patch patch, const std::string& label,
                         std::function<void(smtp::Event)> done);
    void submission_message(const smtp::CheckMessage& c, Patch patch,
                            std::function<void(smtp::Event)> done);
    Patch our_results_renamed(const smtp::CheckMessage& c) const;
    void sign_if_accepted(smtp::Verdict v, const smtp::CheckMessage& c, Patch patch,
                          std::function<void(smtp::Event)> done);
    void sign_submission(std::string_view message, smtp::Verdict& v);
    void offload(std::function<void()> task) const;
    double pct_sample();  // uniform in [0, 1), for DMARC's pct=
    MessageStamp stamp();

    PipelineOptions options_;
    const Directory& directory_;
    const core::Clock& clock_;
    queue::RandomSource& random_;
    dns::Resolver* resolver_;
    std::mutex mutex_;  // random_
};

}  // namespace pigeon::policy
