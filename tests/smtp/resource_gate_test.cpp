// Server-wide message memory through smtp::ResourceGate (session.hpp): the budget at DATA and
// while a message arrives, and that every octet a session takes is given back on every path
// (queued, refused, failed, closed, destroyed).
#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include "smtp/server/session.hpp"
#include "support/session_driver.hpp"

using pigeon::smtp::Role;
using pigeon::smtp::SessionConfig;
using pigeon::test::SessionDriver;

namespace {

// A gate with a fixed budget, counting what is taken, as net::ServerResources does.
struct Gate final : pigeon::smtp::ResourceGate {
    std::size_t budget = 1 << 20;
    std::size_t in_use = 0;
    std::size_t refusals = 0;
    bool message_memory_fits(std::size_t n) const override { return in_use + n <= budget; }
    bool reserve_message_memory(std::size_t n) override {
        if (in_use + n > budget) {
            ++refusals;
            return false;
        }
        in_use += n;
        return true;
    }
    void release_message_memory(std::size_t n) override {
        BOOST_REQUIRE(n <= in_use);
        in_use -= n;
    }
};

SessionConfig config(Gate& gate, Role role = Role::inbound) {
    SessionConfig c;
    c.role = role;
    c.resources = &gate;
    c.auth_without_tls = true;
    return c;
}

SessionDriver in_transaction(Gate& gate) {
    SessionDriver d(config(gate));
    d.send("EHLO client.example");
    BOOST_REQUIRE(SessionDriver::code(d.send("MAIL FROM:<a@example.org>")) == "250");
    BOOST_REQUIRE(SessionDriver::code(d.send("RCPT TO:<b@test.example>")) == "250");
    return d;
}

std::string body(std::size_t lines) {
    std::string text = "Subject: x\r\n\r\n";
    for (std::size_t i = 0; i < lines; ++i) text += std::string(70, 'a') + "\r\n";
    return text;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resource_gate)

BOOST_AUTO_TEST_CASE(data_gets_452_when_the_memory_budget_is_used_up) {
    Gate gate;
    gate.in_use = gate.budget;  // other sessions hold it all
    auto d = in_transaction(gate);
    BOOST_TEST(d.send("DATA") ==
               std::vector<std::string>{
                   "452 4.3.1 Insufficient system resources for a message now; try again later"});
    BOOST_TEST(std::string(d.session().state()) == "RcptGiven");  // the transaction stays
    gate.in_use = 0;
    BOOST_TEST(SessionDriver::code(d.send("DATA")) == "354");
    BOOST_TEST(SessionDriver::code(d.send_raw(body(3) + ".\r\n")) == "250");
    BOOST_TEST(gate.in_use == 0u);
}

// RFC 1870 SIZE=: the declared size is asked for at DATA and reserved at once, so clients
// that declare are served first come, first served.
BOOST_AUTO_TEST_CASE(a_declared_size_is_reserved_at_data) {
    Gate gate;
    gate.budget = 100 * 1024;
    SessionDriver first(config(gate));
    first.send("EHLO a.example");
    first.send("MAIL FROM:<a@example.org> SIZE=80000");
    first.send("RCPT TO:<b@test.example>");
    BOOST_TEST(SessionDriver::code(first.send("DATA")) == "354");
    BOOST_TEST(gate.in_use == 80000u);
    SessionDriver second(config(gate));
    second.send("EHLO b.example");
    second.send("MAIL FROM:<a@example.org> SIZE=30000");
    second.send("RCPT TO:<b@test.example>");
    BOOST_TEST(SessionDriver::code(second.send("DATA")) == "452");  // 80000 + 30000 > 100 KiB
    BOOST_TEST(gate.in_use == 80000u);
    // The first message is smaller than declared: nothing more is taken, all is given back.
    BOOST_TEST(SessionDriver::code(first.send_raw(body(10) + ".\r\n")) == "250");
    BOOST_TEST(gate.in_use == 0u);
    BOOST_TEST(SessionDriver::code(second.send("DATA")) == "354");
    BOOST_TEST(gate.in_use == 30000u);
    // Past its declaration a message is charged as it grows.
    BOOST_TEST(SessionDriver::code(second.send_raw(body(600))) == "");
    BOOST_TEST(gate.in_use > 30000u);
    BOOST_TEST(SessionDriver::code(second.send_raw(".\r\n")) == "250");
    BOOST_TEST(gate.in_use == 0u);
}

BOOST_AUTO_TEST_CASE(a_message_that_outgrows_the_budget_is_discarded_and_gets_452) {
    Gate gate;
    gate.budget = 64 * 1024;
    auto d = in_transaction(gate);
    BOOST_REQUIRE(SessionDriver::code(d.send("DATA")) == "354");
    // 200 KB in 4 KB pieces: reservations succeed until the budget, then one is refused.
    const std::string message = body(2800);
    std::vector<std::string> replies;
    for (std::size_t at = 0; at < message.size(); at += 4096) {
        auto r = d.send_raw(message.substr(at, 4096));
        replies.insert(replies.end(), r.begin(), r.end());
        BOOST_TEST(gate.in_use <= gate.budget);
    }
    BOOST_TEST(replies.empty());
    BOOST_TEST(gate.refusals == 1u);
    BOOST_TEST(gate.in_use == 0u);  // given back at the refusal, nothing taken since
    BOOST_TEST(d.send_raw(".\r\n") ==
               std::vector<std::string>{
                   "452 4.3.1 Insufficient system resources for this message now; try again later"});
    BOOST_TEST(d.queued.empty());
    BOOST_TEST(std::string(d.session().state()) == "Greeted");
    // The session goes on: the next message fits.
    d.send("MAIL FROM:<a@example.org>");
    d.send("RCPT TO:<b@test.example>");
    d.send("DATA");
    BOOST_TEST(SessionDriver::code(d.send_raw(body(3) + ".\r\n")) == "250");
    BOOST_TEST(gate.in_use == 0u);
}

BOOST_AUTO_TEST_CASE(memory_is_given_back_on_every_path) {
    Gate gate;
    {  // refused by the message policy
        auto d = in_transaction(gate);
        d.message_policy = [](auto&) {
            pigeon::smtp::Verdict v;
            v.accept = false;
            return v;
        };
        d.send("DATA");
        BOOST_TEST(SessionDriver::code(d.send_raw(body(10) + ".\r\n")) == "550");
        BOOST_TEST(gate.in_use == 0u);
    }
    {  // the spool failed
        auto d = in_transaction(gate);
        d.enqueue_fails = true;
        d.send("DATA");
        BOOST_TEST(SessionDriver::code(d.send_raw(body(10) + ".\r\n")) == "452");
        BOOST_TEST(gate.in_use == 0u);
    }
    {  // a bad message (bare LF)
        auto d = in_transaction(gate);
        d.send("DATA");
        BOOST_TEST(SessionDriver::code(d.send_raw(body(10) + "bare\nlf\r\n.\r\n")) == "554");
        BOOST_TEST(gate.in_use == 0u);
    }
    {  // the connection ends in the middle of DATA
        auto d = in_transaction(gate);
        d.send("DATA");
        d.send_raw(body(10));
        BOOST_TEST(gate.in_use > 0u);
        d.eof();
        BOOST_TEST(d.closed);
        BOOST_TEST(gate.in_use == 0u);
    }
    {  // a timeout in the middle of DATA, then the session is destroyed
        auto d = in_transaction(gate);
        d.send("DATA");
        d.send_raw(body(10));
        d.event(pigeon::smtp::Timeout{});
        BOOST_TEST(gate.in_use == 0u);
    }
    {  // destroyed in the middle of DATA (the connection was dropped)
        auto* held = new SessionDriver(config(gate));
        held->send("EHLO x");
        held->send("MAIL FROM:<a@example.org>");
        held->send("RCPT TO:<b@test.example>");
        held->send("DATA");
        held->send_raw(body(10));
        BOOST_TEST(gate.in_use > 0u);
        delete held;
        BOOST_TEST(gate.in_use == 0u);
    }
}

// Whatever the budget and however the message is cut, the gate is never over its budget,
// and every octet taken is given back once the message is answered.
RC_BOOST_PROP(gate_never_overdrawn_and_always_repaid,
              (std::uint16_t budget_kb, std::uint16_t lines, std::uint8_t piece)) {
    Gate gate;
    gate.budget = (static_cast<std::size_t>(budget_kb) % 256 + 1) * 1024;
    auto d = in_transaction(gate);
    RC_ASSERT(SessionDriver::code(d.send("DATA")) == "354");
    const std::string message = body(lines % 3000) + ".\r\n";
    const std::size_t step = static_cast<std::size_t>(piece) + 1;
    std::vector<std::string> replies;
    for (std::size_t at = 0; at < message.size(); at += step) {
        auto r = d.send_raw(message.substr(at, step));
        replies.insert(replies.end(), r.begin(), r.end());
        RC_ASSERT(gate.in_use <= gate.budget);
    }
    RC_ASSERT(replies.size() == 1u);
    const std::string code = SessionDriver::code(replies);
    RC_ASSERT((code == "250" || code == "452"));
    RC_ASSERT((code == "452") == (gate.refusals > 0));
    RC_ASSERT(gate.in_use == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
