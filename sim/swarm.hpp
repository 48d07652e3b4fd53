// pigeon/sim/swarm.hpp: swarm testing - scenarios drawn from a seed (topology, traffic, fault
// rates), run through the simulator, and checked against the invariants every mail system
// must keep whatever the faults.
//
// Contract:
//   generate_swarm_scenario(seed)  a pure function of the seed (its own sim::Rng, never the
//       run's): 2-5 Pigeon domains with users, MX records and sometimes a backup MX, 0-2
//       scripted peers (greylisting, 5xx on RCPT, a connection dropped at the end of data), a
//       null MX domain now and then, 3-14 messages (some from the null sender, straight to port
//       25), link latency/jitter/loss, and a fault phase of 600 s (crash/restart - some aimed
//       just after a submission -, partitions, resets, refusals, link changes, DNS
//       SERVFAIL/timeout and bogus windows) that ends with every fault undone, then a quiet
//       phase long enough for every retry to end (give_up + two maximum intervals + 600 s).
//   check_invariants(scenario, result)  "" when all hold, else one line per broken invariant:
//     1. every message accepted at submission (250 to the end of DATA) ends, for each accepted
//        recipient, delivered (in a mailbox of that address on any Pigeon host, or taken by a
//        scripted peer) or bounced (a DSN naming the recipient in the sender's mailbox); for a
//        null sender, delivered or nothing;
//     2. a bounce never bounces: no DSN is queued about a null-sender message, and no DSN
//        carries another DSN's headers;
//     3. extra copies (one message delivered twice to one recipient, two DSNs for it, or
//        delivered and bounced) are at most Observations::lost_replies x the most recipients
//        of a message: the only duplicates allowed follow a lost reply to the end of data (RFC
//        1047) - OutboundStats::maybe_duplicates towards a peer that may keep the message
//        (which covers a receiving host that crashed after its 250), and a sender that
//        crashed while waiting for that reply;
//     4. every server reply in every conversation parses with core::parse_reply;
//     5. every spool is empty at the end; the run settled (no event limit hit).
//   swarm_command  runs seeds start..start+count-1, prints one line per failing seed with the
//       command that replays it, and a summary with seeds per minute and scenarios per second.
//       It turns the costly invariant checks on (core::enable_costly_assertions) and, while it
//       runs, routes PIGEON_ASSERT to its own handler: a failed assertion is Pigeon's bug, not
//       the scenario's, so it prints "assertion failed in seed N: ..." with the replay command
//       at once (on `err`), the seed is reported FAIL, the run goes on with the code's safe
//       fallback, and the exit status is the distinct swarm_assertion_failed.
#pragma once
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "sim/run.hpp"
#include "sim/scenario.hpp"
#include "sim/simulator.hpp"

namespace pigeon::sim {

Scenario generate_swarm_scenario(std::uint64_t seed);

std::string check_invariants(const Scenario& scenario, const RunResult& result);

struct SwarmArgs {
    std::uint64_t seeds = 100;
    std::uint64_t start = 1;
    bool explain = false;     // print each run's annotated transcript (meant for --seeds 1)
    bool verbose = false;     // one line per seed, also for those that pass
    std::string trace_file;   // write the (last) run's transcript here ("-": standard output)
    Stopwatch stopwatch;      // times the run for the summary's seeds/minute (run.hpp)
    // Tests only: runs before each seed's scenario (e.g. to fail an assertion on purpose).
    std::function<void(std::uint64_t seed)> before_seed;
};

// Exit status 0: every seed kept every invariant; 1: one did not; 2: the trace could not be
// written; swarm_assertion_failed (3): a PIGEON_ASSERT failed in some seed, whatever else held.
inline constexpr int swarm_assertion_failed = 3;
int swarm_command(const SwarmArgs& args, std::ostream& out, std::ostream& err);

}  // namespace pigeon::sim
