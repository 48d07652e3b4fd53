// The client session in LMTP mode (ClientConfig::lmtp, RFC 2033): LHLO, one reply per
// accepted recipient after the final "." mapped to that recipient, PIPELINING when offered,
// multi-line and malformed replies, a refused LHLO, timeouts and a lost connection after the
// ".", and two messages on one session. Driven by hand: each test feeds the peer's bytes.
#include "smtp/client/session.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace {

using namespace pigeon;
using smtp::ClientAction;
using smtp::Outcome;

core::Path path(const std::string& address) { return core::Path::of(core::Mailbox::parse(address).value()); }

smtp::ClientMessage message(std::vector<std::string> recipients,
                            std::string body = "Subject: x\r\n\r\nhi\r\n.dot line\r\n") {
    smtp::ClientMessage m;
    m.reverse_path = path("sender@a.example");
    for (const auto& r : recipients) m.recipients.push_back(path(r));
    m.message = std::make_shared<const std::string>(std::move(body));
    return m;
}

const std::string lhlo_pipelining =
    "250-store.example\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING\r\n";
const std::string lhlo_plain = "250-store.example\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n";

struct Driver {
    std::unique_ptr<smtp::ClientSession> s;
    std::string sent;  // since the last take()
    std::vector<smtp::TransactionResult> done;
    int idles = 0, closes = 0;

    Driver() {
        smtp::ClientConfig c;
        c.hostname = "mx.pigeon.example";
        c.tls = smtp::ClientTls::none;
        c.lmtp = true;
        s = smtp::make_client_session(std::move(c));
        run(s->start());
    }
    void run(std::vector<ClientAction> actions) {
        for (auto& a : actions) {
            if (auto* send = std::get_if<smtp::ClientSend>(&a)) sent += send->bytes;
            else if (auto* d = std::get_if<smtp::ClientDone>(&a)) done.push_back(d->result);
            else if (std::holds_alternative<smtp::ClientIdle>(a)) ++idles;
            else if (std::holds_alternative<smtp::ClientClose>(a)) ++closes;
        }
    }
    void put(const std::string& bytes) { run(s->put(bytes)); }
    void deliver(smtp::ClientMessage m) { run(s->on(smtp::Deliver{std::move(m)})); }
    std::string take() { return std::exchange(sent, {}); }
    // Greeting and LHLO answered: the session is idle.
    void greet(const std::string& lhlo = lhlo_pipelining) {
        put("220 store.example LMTP ready\r\n");
        BOOST_TEST(take() == "LHLO mx.pigeon.example\r\n");
        BOOST_TEST(s->waiting_for() == "LHLO");
        put(lhlo);
    }
};

std::string outcomes(const smtp::TransactionResult& r) {
    std::string s;
    for (const auto& rr : r.recipients)
        s += rr.outcome == Outcome::delivered ? 'D' : rr.outcome == Outcome::transient ? 'T' : 'P';
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lmtp_client)

// RFC 2033 4.2: after the final ".", one reply per RCPT that succeeded, in RCPT order; a
// refused RCPT keeps its own reply and gets none after the data.
BOOST_AUTO_TEST_CASE(one_reply_per_accepted_recipient_after_the_dot) {
    Driver d;
    d.greet();
    BOOST_TEST(d.idles == 1);
    d.deliver(message({"a@store.example", "b@store.example", "c@store.example", "d@store.example"}));
    // PIPELINING offered: MAIL, every RCPT and DATA in one write (RFC 2920 3.1).
    BOOST_TEST(d.take() ==
               "MAIL FROM:<sender@a.example>\r\nRCPT TO:<a@store.example>\r\nRCPT TO:<b@store.example>\r\n"
               "RCPT TO:<c@store.example>\r\nRCPT TO:<d@store.example>\r\nDATA\r\n");
    d.put("250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 <b@store.example> User doesn't exist\r\n"
          "250 2.1.5 ok\r\n250 2.1.5 ok\r\n354 go\r\n");
    // Dot-stuffed, ended by CRLF "." CRLF.
    BOOST_TEST(d.take() == "Subject: x\r\n\r\nhi\r\n..dot line\r\n.\r\n");
    BOOST_TEST(d.s->waiting_for() == "end of data");
    d.put("250 2.0.0 <a@store.example> Saved\r\n");
    BOOST_TEST(d.done.empty());  // two more replies owed
    d.put("452 4.2.2 <c@store.example> Quota exceeded\r\n");
    BOOST_TEST(d.done.empty());
    d.put("552-5.2.2 <d@store.example> Mailbox\r\n552 5.2.2 full for good\r\n");  // multi-line
    BOOST_REQUIRE(d.done.size() == 1u);
    const auto& r = d.done[0];
    BOOST_TEST(outcomes(r) == "DPTP");
    BOOST_TEST(r.recipients[0].stage == "end of data");
    BOOST_TEST(r.recipients[0].reply.code == 250);
    BOOST_TEST(r.recipients[1].stage == "RCPT");
    BOOST_TEST(r.recipients[1].reply.code == 550);
    BOOST_TEST(r.recipients[2].reply.code == 452);
    BOOST_TEST(r.recipients[2].reply.enhanced->to_string() == "4.2.2");
    BOOST_TEST(r.recipients[3].reply.code == 552);
    BOOST_TEST(r.recipients[3].reply.lines.size() == 2u);
    BOOST_TEST(r.recipients[3].from_peer);
    BOOST_TEST(!r.connection_level);
}

// Without PIPELINING: one command at a time; a single recipient is SMTP's case.
BOOST_AUTO_TEST_CASE(without_pipelining_commands_go_one_by_one) {
    Driver d;
    d.greet(lhlo_plain);
    d.deliver(message({"a@store.example", "b@store.example"}));
    BOOST_TEST(d.take() == "MAIL FROM:<sender@a.example>\r\n");
    d.put("250 2.1.0 ok\r\n");
    BOOST_TEST(d.take() == "RCPT TO:<a@store.example>\r\n");
    d.put("250 2.1.5 ok\r\n");
    BOOST_TEST(d.take() == "RCPT TO:<b@store.example>\r\n");
    d.put("250 2.1.5 ok\r\n");
    BOOST_TEST(d.take() == "DATA\r\n");
    d.put("354 go\r\n");
    d.take();
    d.put("250 2.0.0 saved\r\n250 2.0.0 saved\r\n");
    BOOST_REQUIRE(d.done.size() == 1u);
    BOOST_TEST(outcomes(d.done[0]) == "DD");
    // The session is reused: a second message on the same LHLO.
    d.deliver(message({"c@store.example"}));
    BOOST_TEST(d.take() == "MAIL FROM:<sender@a.example>\r\n");
    d.put("250 2.1.0 ok\r\n");
    d.take();
    d.put("250 2.1.5 ok\r\n");
    d.take();
    d.put("354 go\r\n");
    d.take();
    d.put("451 4.3.0 <c@store.example> Temporary failure\r\n");
    BOOST_REQUIRE(d.done.size() == 2u);
    BOOST_TEST(outcomes(d.done[1]) == "T");
    BOOST_TEST(d.closes == 0);
}

// RFC 2033 4.1: no HELO in LMTP; a refused LHLO fails the attempt, every recipient transient.
BOOST_AUTO_TEST_CASE(a_refused_lhlo_defers_everything) {
    Driver d;
    d.deliver(message({"a@store.example"}));
    d.put("220 store.example LMTP\r\n");
    BOOST_TEST(d.take() == "LHLO mx.pigeon.example\r\n");
    d.put("500 5.5.1 What?\r\n");
    BOOST_REQUIRE(d.done.size() == 1u);
    BOOST_TEST(outcomes(d.done[0]) == "T");
    BOOST_TEST(d.done[0].connection_level);
    BOOST_TEST(d.take().find("HELO") == std::string::npos);
    BOOST_TEST(d.closes == 1);
}

// A timeout or a lost connection while replies after the "." are owed: the recipients
// already answered keep their answer, the rest are transient and flagged maybe-delivered.
BOOST_AUTO_TEST_CASE(timeout_after_some_replies_defers_the_rest) {
    Driver d;
    d.greet();
    d.deliver(message({"a@store.example", "b@store.example"}));
    d.put("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    d.take();
    d.put("250 2.0.0 saved\r\n");
    d.run(d.s->on(smtp::ClientTimeout{}));
    BOOST_REQUIRE(d.done.size() == 1u);
    BOOST_TEST(outcomes(d.done[0]) == "DT");
    BOOST_TEST(d.done[0].maybe_delivered);
    BOOST_TEST(d.done[0].recipients[1].reply.lines.at(0) == "Timeout waiting for the end of data reply");
    BOOST_TEST(d.closes == 1);

    Driver e;
    e.greet();
    e.deliver(message({"a@store.example", "b@store.example"}));
    e.put("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    e.run(e.s->put_eof());
    BOOST_REQUIRE(e.done.size() == 1u);
    BOOST_TEST(outcomes(e.done[0]) == "TT");
}

// A malformed reply, or more replies than recipients, is a protocol error: nothing is taken
// as delivered that the peer did not say was.
BOOST_AUTO_TEST_CASE(bad_and_surplus_replies_fail_safe) {
    Driver d;
    d.greet();
    d.deliver(message({"a@store.example", "b@store.example"}));
    d.put("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    d.put("250 2.0.0 saved\r\nxyz garbage\r\n");
    BOOST_REQUIRE(d.done.size() == 1u);
    BOOST_TEST(outcomes(d.done[0]) == "DT");
    BOOST_TEST(d.closes == 1);

    Driver e;
    e.greet();
    e.deliver(message({"a@store.example"}));
    e.put("250 ok\r\n250 ok\r\n354 go\r\n");
    e.put("250 2.0.0 saved\r\n250 2.0.0 one too many\r\n");
    BOOST_REQUIRE(e.done.size() == 1u);
    BOOST_TEST(outcomes(e.done[0]) == "D");
    BOOST_TEST(e.closes == 1);  // unsolicited octets while idle: the connection is dropped
}

// Bare LF in the message is sent as it is stored (the spool holds CRLF); a line starting with
// "." is stuffed; a message without a final CRLF gets one before the ".".
BOOST_AUTO_TEST_CASE(dot_stuffing_and_final_crlf) {
    Driver d;
    d.greet();
    d.deliver(message({"a@store.example"}, "Subject: y\r\n\r\n.\r\n..two\r\nend"));
    d.take();
    d.put("250 ok\r\n250 ok\r\n354 go\r\n");
    BOOST_TEST(d.take() == "Subject: y\r\n\r\n..\r\n...two\r\nend\r\n.\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
