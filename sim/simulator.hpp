// pigeon/sim/simulator.hpp: the deterministic simulator - a virtual clock and event queue, a
// simulated network of named hosts, a simulated authoritative DNS, and complete Pigeon hosts
// built from the same src/ code as the `pigeon` binary - running one Scenario.
//
// Contract:
//   - Deterministic: no wall clock, no random_device, no threads, no file access after the
//     hosts are built (TLS certificates are read then). One seeded sim::Rng drives every
//     random choice (network jitter and loss, queue ids, Message-IDs, retry jitter, DMARC
//     pct=, DKIM signing). The same scenario and seed give the same trace, byte for byte.
//   - Real: smtp::Session (submission on port 587, inbound on 25), the outbound engine and its
//     client sessions, the spool over queue::MemoryStorage, SPF/DKIM/DMARC and the sender and
//     recipient policy (policy::Pipeline, the code AppServices uses), dns::ZoneResolver, and TLS
//     through Botan's sans-I/O channels (STARTTLS, DANE) when a host has a certificate.
//     Modelled: the network (latency, jitter, loss as a retransmission delay, bandwidth,
//     partitions, resets, refusals, crashes), password checks (plain comparison), local
//     delivery (in-memory mailboxes with folders, made durable at once: the Maildir's
//     guarantee), and DNS latency (answers are immediate; a "timeout" is an Rcode).
//   - The trace holds every plaintext SMTP line of every conversation (seen from the client
//     side: the outbound engine's client session or the simulator's submission client; the
//     message's own lines too, taken from the sender's spool for the engine), every
//     DNS question and answer, the policy decisions, queue changes and faults, each stamped
//     with the virtual time. Botan's handshakes are random, but they are not in the trace, so
//     the digest (FNV-1a 64 of the trace) does not depend on them.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/scenario.hpp"

namespace pigeon::sim {

// What a run saw, for the swarm's invariants (sim/swarm.hpp); filled on every run.
struct Observations {
    struct Submission {               // one submit action
        std::string client;           // its trace label ("client3")
        std::string server, from, subject;
        bool null_sender = false;     // MAIL FROM:<>
        std::vector<std::string> accepted;  // recipients whose RCPT got 2xx
        bool accepted_message = false;      // 250 to the end of DATA
    };
    struct Stored {                   // a message in a Pigeon host's mailbox
        std::string host, mailbox, folder, content;
    };
    struct Sunk {                     // a message a scripted peer took (2xx to the end of data)
        std::string host;
        std::vector<std::string> recipients;
        std::string content;
    };
    std::vector<Submission> submissions;
    std::vector<Stored> mail;
    std::vector<Sunk> sunk;
    std::map<std::string, std::size_t> queued;  // Pigeon host -> messages left in its spool
    std::uint64_t maybe_duplicates = 0;  // OutboundStats::maybe_duplicates over every life of every host
    // Transactions whose end of data got no reply, to a peer that may have kept the message
    // (a Pigeon host, a scripted peer that says 2xx there): the engine's lost replies
    // (OutboundStats::maybe_duplicates), and the sender's crashes while waiting for the reply.
    std::uint64_t lost_replies = 0;
    std::uint64_t crashes = 0;
    std::vector<std::string> bad_replies;  // server replies that core::parse_reply refused
    std::vector<std::string> dsn_of_dsn;   // a DSN queued about a null-sender message
};

struct RunOptions {
    std::optional<std::uint64_t> seed;  // overrides the scenario's
    bool explain = false;               // also build the annotated, readable transcript
};

struct RunResult {
    std::uint64_t seed = 0;
    std::string trace;                  // one line per event, "  12.345  who  what"
    std::string explain;                // the trace with explanations (RunOptions::explain)
    std::vector<std::string> passed;    // one line per expectation met
    std::vector<std::string> failures;  // one line per expectation not met
    std::string digest;                 // FNV-1a 64 of `trace`, 16 hex digits
    Observations observed;
    bool ok() const { return failures.empty(); }
    // What the expected-transcript file holds: the trace, the expectations, the digest.
    std::string transcript() const;
};

RunResult run_scenario(const Scenario& scenario, const RunOptions& options = {});

// FNV-1a, 64 bits (http://www.isthe.com/chongo/tech/comp/fnv/).
std::uint64_t fnv1a64(std::string_view bytes);

}  // namespace pigeon::sim
