// Tests for sim/swarm.hpp: the generator is a function of the seed, and the invariant checker
// reports what it must.
#include <boost/test/unit_test.hpp>

#include <string>

#include "sim/swarm.hpp"

#include <sstream>

#include "core/assert.hpp"

using namespace pigeon::sim;

BOOST_AUTO_TEST_SUITE(sim_swarm)

BOOST_AUTO_TEST_CASE(the_same_seed_gives_the_same_scenario_and_run) {
    const Scenario a = generate_swarm_scenario(17), b = generate_swarm_scenario(17);
    BOOST_TEST(a.zone == b.zone);
    BOOST_TEST(a.description == b.description);
    BOOST_TEST(a.actions.size() == b.actions.size());
    BOOST_TEST(a.faults.size() == b.faults.size());
    BOOST_TEST(generate_swarm_scenario(18).zone != a.zone);
    const RunResult ra = run_scenario(a), rb = run_scenario(b);
    BOOST_TEST(ra.digest == rb.digest);
    BOOST_TEST(check_invariants(a, ra) == "");
}

BOOST_AUTO_TEST_CASE(every_fault_is_healed_before_the_quiet_phase) {
    for (std::uint64_t seed = 1; seed <= 50; ++seed) {
        const Scenario s = generate_swarm_scenario(seed);
        for (const auto& f : s.faults) BOOST_TEST(f.at_ms <= 600'000);
        BOOST_TEST(s.duration_ms > 600'000 + 1800'000);
        BOOST_TEST(s.hosts.size() >= 3u);  // two domains and the outside client at least
    }
}

BOOST_AUTO_TEST_CASE(the_checker_reports_each_broken_invariant) {
    Scenario s;
    RunResult r;
    Observations::Submission sub;
    sub.client = "client1";
    sub.from = "a@a.test";
    sub.subject = "S";
    sub.accepted = {"b@b.test"};
    sub.accepted_message = true;
    r.observed.submissions.push_back(sub);
    // Lost: neither delivered nor bounced; and a spool not empty; and a bad reply.
    r.observed.queued["h1"] = 1;
    r.observed.bad_replies.push_back("  1.000  h1/o1  S: 25O ok");
    std::string e = check_invariants(s, r);
    BOOST_TEST(e.find("neither delivered nor bounced") != std::string::npos);
    BOOST_TEST(e.find("h1: 1 message(s) left in the spool") != std::string::npos);
    BOOST_TEST(e.find("reply does not parse") != std::string::npos);

    // Delivered twice without a lost reply: a duplicate; with one lost reply: allowed.
    r.observed.queued.clear();
    r.observed.bad_replies.clear();
    const std::string copy = "Subject: S\r\n\r\nbody\r\n";
    r.observed.mail.push_back({"h2", "b@b.test", "", copy});
    BOOST_TEST(check_invariants(s, r) == "");
    r.observed.mail.push_back({"h2b", "b@b.test", "", copy});
    BOOST_TEST(check_invariants(s, r).find("1 duplicate copies") != std::string::npos);
    r.observed.lost_replies = 1;
    BOOST_TEST(check_invariants(s, r) == "");

    // Bounced instead: a DSN naming the recipient in the sender's mailbox.
    r.observed.mail.clear();
    r.observed.lost_replies = 0;
    const std::string dsn = "Content-Type: multipart/report; report-type=delivery-status\r\n\r\n"
                            "Final-Recipient: rfc822; b@b.test\r\nAction: failed\r\n\r\nSubject: S\r\n";
    r.observed.mail.push_back({"h1", "a@a.test", "", dsn});
    BOOST_TEST(check_invariants(s, r) == "");
    // A DSN that quotes a DSN's header: a bounce of a bounce.
    r.observed.mail.push_back({"h1", "a@a.test", "", dsn + "Content-Type: multipart/report; report-type=delivery-status\r\n"});
    BOOST_TEST(check_invariants(s, r).find("a DSN about a DSN") != std::string::npos);
    r.observed.mail.pop_back();
    // A null sender gets no DSN.
    r.observed.submissions[0].null_sender = true;
    r.observed.submissions[0].from = "";
    r.observed.mail[0].mailbox = "";
    BOOST_TEST(check_invariants(s, r).find("a DSN for a null-sender message") != std::string::npos);
}

// A PIGEON_ASSERT that fails inside a seed is Pigeon's bug: the swarm names the seed at once
// with the replay command, reports it FAIL, and exits with its distinct code; the handler it
// installed is gone afterwards.
BOOST_AUTO_TEST_CASE(a_failed_assertion_names_its_seed_and_exits_with_the_distinct_code) {
    SwarmArgs args;
    args.seeds = 3;
    args.start = 7;
    args.before_seed = [](std::uint64_t seed) { PIGEON_ASSERT(seed != 8, "a planted failure"); };
    std::ostringstream out, err;
    const int status = swarm_command(args, out, err);
    BOOST_TEST(status == swarm_assertion_failed);
    BOOST_TEST(swarm_assertion_failed != 1);
    BOOST_TEST(err.str().find("assertion failed in seed 8: ") != std::string::npos);
    BOOST_TEST(err.str().find("a planted failure") != std::string::npos);
    BOOST_TEST(err.str().find("replay: pigeon sim swarm --seeds 1 --start 8") != std::string::npos);
    BOOST_TEST(err.str().find("seed 7") == std::string::npos);
    BOOST_TEST(out.str().find("FAIL  seed 8: ") != std::string::npos);
    BOOST_TEST(out.str().find("FAIL  seed 7") == std::string::npos);
    BOOST_TEST(out.str().find(", 1 failed;") != std::string::npos);
    BOOST_TEST(pigeon::core::assertions_enabled());

    // Without a planted failure the same seeds pass, with status 0.
    SwarmArgs clean = args;
    clean.before_seed = nullptr;
    std::ostringstream out2, err2;
    BOOST_TEST(swarm_command(clean, out2, err2) == 0);
    BOOST_TEST(err2.str().empty());
}

BOOST_AUTO_TEST_SUITE_END()
