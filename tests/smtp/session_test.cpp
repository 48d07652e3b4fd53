// The sans-I/O session of both roles, driven through tests/support/session_driver.hpp.
#include "smtp/server/session.hpp"

#include <boost/test/unit_test.hpp>

#include "core/reply.hpp"
#include "support/assertion_recorder.hpp"
#include "support/session_driver.hpp"

using pigeon::smtp::Role;
using pigeon::smtp::SessionConfig;
using pigeon::test::SessionDriver;

namespace {

SessionConfig inbound(bool tls_available = false) {
    SessionConfig c;
    c.role = Role::inbound;
    c.tls_available = tls_available;
    return c;
}

SessionConfig submission(bool tls_active = true) {
    SessionConfig c;
    c.role = Role::submission;
    c.tls_available = true;
    c.tls_active = tls_active;
    return c;
}

std::string code(const std::vector<std::string>& lines) { return SessionDriver::code(lines); }

bool contains(const std::vector<std::string>& lines, const std::string& text) {
    for (const auto& l : lines)
        if (l == text) return true;
    return false;
}

// A session that has greeted, with EHLO done.
SessionDriver greeted(SessionConfig c) {
    SessionDriver d(std::move(c));
    d.send("EHLO client.example");
    return d;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(session)

BOOST_AUTO_TEST_CASE(greeting_is_220_with_hostname) {
    SessionDriver d(inbound());
    BOOST_TEST(d.output == "220 mx.test.example ESMTP Pigeon\r\n");
    BOOST_TEST(std::string(d.session().state()) == "Connected");
}

BOOST_AUTO_TEST_CASE(ehlo_lists_inbound_extensions_in_order) {
    SessionDriver d(inbound(true));
    auto r = d.send("EHLO client.example");
    std::vector<std::string> expected{
        "250-mx.test.example greets client.example", "250-PIPELINING", "250-SIZE 26214400",
        "250-8BITMIME", "250-SMTPUTF8", "250-ENHANCEDSTATUSCODES", "250 STARTTLS"};
    BOOST_TEST(r == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(ehlo_without_certificate_does_not_offer_starttls) {
    SessionDriver d(inbound(false));
    auto r = d.send("EHLO client.example");
    BOOST_TEST(r.back() == "250 ENHANCEDSTATUSCODES");
    BOOST_TEST(code(d.send("STARTTLS")) == "454");
}

BOOST_AUTO_TEST_CASE(helo_gets_plain_250) {
    SessionDriver d(inbound());
    BOOST_TEST(d.send("HELO client.example") == std::vector<std::string>{"250 mx.test.example"});
}

BOOST_AUTO_TEST_CASE(inbound_transaction_queues_message_with_received_header) {
    auto d = greeted(inbound());
    BOOST_TEST(d.send("MAIL FROM:<alice@example.org> SIZE=100 BODY=8BITMIME") ==
               std::vector<std::string>{"250 2.1.0 Sender OK"});
    BOOST_TEST(d.send("RCPT TO:<bob@test.example>") ==
               std::vector<std::string>{"250 2.1.5 Recipient OK"});
    BOOST_TEST(d.send("DATA") ==
               std::vector<std::string>{"354 End data with <CR><LF>.<CR><LF>"});
    auto r = d.send_raw("Subject: hi\r\n\r\n..dot\r\nbody\r\n.\r\n");
    BOOST_TEST(r == std::vector<std::string>{"250 2.0.0 OK: queued as Q1"});
    BOOST_REQUIRE(d.queued.size() == 1);
    const auto& q = d.queued[0];
    BOOST_TEST(q.envelope.reverse_path.to_string() == "<alice@example.org>");
    BOOST_REQUIRE(q.envelope.recipients.size() == 1);
    BOOST_TEST(q.envelope.recipients[0].to_string() == "<bob@test.example>");
    BOOST_TEST((q.envelope.body == pigeon::core::BodyType::eight_bit_mime));
    BOOST_TEST(q.envelope.declared_size.value() == 100u);
    BOOST_TEST(q.envelope.client_address == "192.0.2.1");
    BOOST_TEST(q.envelope.helo == "client.example");
    const std::string expected_message =
        "Received: from client.example ([192.0.2.1])\r\n"
        "\tby mx.test.example (Pigeon) with ESMTP\r\n"
        "\tfor <bob@test.example>; " +
        pigeon::core::format_rfc5322_date(1795000000) +
        "\r\n"
        "Subject: hi\r\n\r\n.dot\r\nbody\r\n";
    BOOST_TEST(q.message.to_string() == expected_message);
    BOOST_TEST(std::string(d.session().state()) == "Greeted");
}

BOOST_AUTO_TEST_CASE(pipelined_transaction_gets_replies_in_order) {
    auto d = greeted(inbound());
    auto r = d.send_raw(
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@test.example>\r\nRCPT TO:<c@test.example>\r\n"
        "DATA\r\n");
    std::vector<std::string> expected{"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK",
                                      "250 2.1.5 Recipient OK",
                                      "354 End data with <CR><LF>.<CR><LF>"};
    BOOST_TEST(r == expected, boost::test_tools::per_element());
    r = d.send_raw("x\r\n.\r\nRSET\r\nQUIT\r\n");
    expected = {"250 2.0.0 OK: queued as Q1", "250 2.0.0 OK",
                "221 2.0.0 mx.test.example closing connection"};
    BOOST_TEST(r == expected, boost::test_tools::per_element());
    BOOST_TEST(d.closed);
}

// RFC 2920 3.2: replies to a pipelined group go out together, not one write per reply.
BOOST_AUTO_TEST_CASE(pipelined_replies_are_batched_into_one_send) {
    pigeon::core::FixedClock clock(1795000000);
    auto c = inbound();
    c.clock = &clock;
    auto s = pigeon::smtp::make_session(c, {});
    s->start();
    auto actions = s->put("EHLO c.example\r\nNOOP\r\nHELP\r\nRSET\r\nVRFY x\r\n");
    BOOST_REQUIRE(actions.size() == 1u);
    const auto* send = std::get_if<pigeon::smtp::Send>(&actions[0]);
    BOOST_REQUIRE(send != nullptr);
    BOOST_TEST(send->bytes.rfind("250-localhost greets c.example\r\n", 0) == 0u);
    BOOST_TEST(send->bytes.find("250 ENHANCEDSTATUSCODES\r\n250 2.0.0 OK\r\n214 2.0.0 Commands") !=
               std::string::npos);
    const std::string tail =
        "250 2.0.0 OK\r\n252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n";
    BOOST_TEST(send->bytes.substr(send->bytes.size() - tail.size()) == tail);
}

BOOST_AUTO_TEST_CASE(commands_split_across_reads_are_reassembled) {
    auto d = greeted(inbound());
    BOOST_TEST(d.send_raw("MAIL FR").empty());
    BOOST_TEST(d.send_raw("OM:<a@example.org>\r").empty());
    BOOST_TEST(d.send_raw("\n") == std::vector<std::string>{"250 2.1.0 Sender OK"});
}

BOOST_AUTO_TEST_CASE(bad_sequences_get_503) {
    SessionDriver d(inbound());
    BOOST_TEST(d.send("MAIL FROM:<a@example.org>") ==
               std::vector<std::string>{"503 5.5.1 Bad sequence of commands"});
    d.send("EHLO c.example");
    BOOST_TEST(code(d.send("RCPT TO:<b@test.example>")) == "503");
    BOOST_TEST(code(d.send("DATA")) == "503");
    d.send("MAIL FROM:<a@example.org>");
    BOOST_TEST(code(d.send("MAIL FROM:<a@example.org>")) == "503");  // nested MAIL
    BOOST_TEST(code(d.send("DATA")) == "554");                         // no recipients
}

BOOST_AUTO_TEST_CASE(rejected_recipients_keep_the_transaction) {
    auto d = greeted(inbound());
    d.recipient_policy = [](const pigeon::smtp::CheckRecipient& c) {
        pigeon::smtp::Verdict v;
        v.accept = c.recipient.mailbox.local_part() != "nobody";
        return v;
    };
    d.send("MAIL FROM:<a@example.org>");
    BOOST_TEST(d.send("RCPT TO:<nobody@test.example>").back() == "550 5.1.1 Recipient rejected");
    BOOST_TEST(std::string(d.session().state()) == "MailGiven");
    BOOST_TEST(code(d.send("DATA")) == "554");
    BOOST_TEST(code(d.send("RCPT TO:<bob@test.example>")) == "250");
    BOOST_TEST(code(d.send("RCPT TO:<nobody@test.example>")) == "550");
    BOOST_TEST(std::string(d.session().state()) == "RcptGiven");
    BOOST_TEST(code(d.send("DATA")) == "354");
}

BOOST_AUTO_TEST_CASE(policy_replies_are_used_and_wrong_class_replies_are_not) {
    auto d = greeted(inbound());
    d.sender_policy = [](const pigeon::smtp::CheckSender&) {
        pigeon::smtp::Verdict v;
        v.accept = false;
        v.reply = pigeon::core::Reply(550, "5.7.23", "SPF fail");
        return v;
    };
    BOOST_TEST(d.send("MAIL FROM:<a@example.org>").back() == "550 5.7.23 SPF fail");
    d.sender_policy = [](const pigeon::smtp::CheckSender&) {
        pigeon::smtp::Verdict v;
        v.accept = false;
        v.reply = pigeon::core::Reply(250, "2.0.0", "confused policy");
        return v;
    };
    BOOST_TEST(d.send("MAIL FROM:<a@example.org>").back() == "550 5.7.1 Sender rejected");
}

BOOST_AUTO_TEST_CASE(recipient_limit_gives_452) {
    auto c = inbound();
    c.max_recipients = 2;
    auto d = greeted(c);
    d.send("MAIL FROM:<a@example.org>");
    BOOST_TEST(code(d.send("RCPT TO:<b1@test.example>")) == "250");
    BOOST_TEST(code(d.send("RCPT TO:<b2@test.example>")) == "250");
    BOOST_TEST(d.send("RCPT TO:<b3@test.example>").back() == "452 4.5.3 Too many recipients");
    d.send("DATA");
    d.send_raw(".\r\n");
    BOOST_REQUIRE(d.queued.size() == 1);
    BOOST_TEST(d.queued[0].envelope.recipients.size() == 2u);
}

BOOST_AUTO_TEST_CASE(declared_size_over_limit_gives_552) {
    auto c = inbound();
    c.max_message_octets = 1000;
    auto d = greeted(c);
    BOOST_TEST(d.send("MAIL FROM:<a@example.org> SIZE=1001").back() ==
               "552 5.3.4 Message size exceeds fixed maximum message size");
    BOOST_TEST(code(d.send("MAIL FROM:<a@example.org> SIZE=1000")) == "250");
}

BOOST_AUTO_TEST_CASE(message_over_limit_is_refused_after_end_of_data) {
    auto c = inbound();
    c.max_message_octets = 10;
    auto d = greeted(c);
    d.send("MAIL FROM:<a@example.org>");
    d.send("RCPT TO:<b@test.example>");
    d.send("DATA");
    BOOST_TEST(code(d.send_raw("0123456789abcdef\r\n.\r\n")) == "552");
    BOOST_TEST(d.queued.empty());
    BOOST_TEST(code(d.send("MAIL FROM:<a@example.org>")) == "250");  // the session goes on
}

BOOST_AUTO_TEST_CASE(bare_lf_in_data_rejects_the_whole_message) {
    auto d = greeted(inbound());
    d.send("MAIL FROM:<a@example.org>");
    d.send("RCPT TO:<b@test.example>");
    d.send("DATA");
    // The classic smuggling attempt: <LF>.<CRLF> followed by a second transaction.
    auto r = d.send_raw(
        "Subject: one\r\n\r\nhello\n.\r\nMAIL FROM:<evil@example.org>\r\nRCPT "
        "TO:<victim@test.example>\r\nDATA\r\nforged\r\n.\r\n");
    BOOST_TEST(r == std::vector<std::string>{
                        "554 5.6.0 Message rejected: bare CR or LF in message (RFC 5321 2.3.8)"});
    BOOST_TEST(d.queued.empty());
}

BOOST_AUTO_TEST_CASE(enqueue_failure_gives_452_and_transaction_ends) {
    auto d = greeted(inbound());
    d.enqueue_fails = true;
    d.send("MAIL FROM:<a@example.org>");
    d.send("RCPT TO:<b@test.example>");
    d.send("DATA");
    BOOST_TEST(d.send_raw("x\r\n.\r\n").back() ==
               "452 4.3.1 Insufficient system storage; try again later");
    BOOST_TEST(std::string(d.session().state()) == "Greeted");
}

BOOST_AUTO_TEST_CASE(sender_verdict_fields_are_kept_below_received) {
    auto d = greeted(inbound());
    d.sender_policy = [](const pigeon::smtp::CheckSender&) {
        pigeon::smtp::Verdict v;
        v.prepend = "Received-SPF: pass (mx.test.example: test) client-ip=192.0.2.1;\r\n";
        v.sender_facts = std::string("spf pass");  // any typed value the policy keeps
        return v;
    };
    std::string seen_by_message_check;
    std::string note_seen;
    d.message_policy = [&](const pigeon::smtp::CheckMessage& m) {
        seen_by_message_check = m.envelope.trace_fields;
        const auto* facts = std::any_cast<std::string>(&m.envelope.sender_facts);
        note_seen = facts ? *facts : "";
        pigeon::smtp::Verdict v;
        v.prepend = "X-Checked: yes\r\n";
        // The stored message may be replaced (forged fields renamed).
        v.replacement = "X-Original-Authentication-Results: forged\r\n";
        v.replaced_octets = 0;  // inserted: nothing of the message is replaced
        return v;
    };
    d.send("MAIL FROM:<a@example.org>");
    d.send("RCPT TO:<b@test.example>");
    d.send("DATA");
    d.send_raw("Subject: s\r\n\r\nbody\r\n.\r\n");
    BOOST_REQUIRE(d.queued.size() == 1);
    const std::string m = d.queued[0].message.to_string();
    BOOST_TEST(m.rfind("Received: from client.example", 0) == 0u);
    BOOST_TEST(m.find("\r\nReceived-SPF: pass (mx.test.example: test) client-ip=192.0.2.1;\r\n"
                      "X-Checked: yes\r\nX-Original-Authentication-Results: forged\r\n"
                      "Subject: s\r\n") != std::string::npos);
    BOOST_TEST(note_seen == "spf pass");
    BOOST_TEST(seen_by_message_check ==
               "Received-SPF: pass (mx.test.example: test) client-ip=192.0.2.1;\r\n");
    // The next transaction starts clean.
    d.sender_policy = [](const pigeon::smtp::CheckSender&) { return pigeon::smtp::Verdict{}; };
    d.send("MAIL FROM:<a@example.org>");
    d.send("RCPT TO:<b@test.example>");
    d.send("DATA");
    d.send_raw("x\r\n.\r\n");
    BOOST_TEST(d.queued.back().message.to_string().find("Received-SPF") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(message_verdict_can_reject_or_prepend_and_file) {
    auto d = greeted(inbound());
    d.message_policy = [](const pigeon::smtp::CheckMessage& m) {
        pigeon::smtp::Verdict v;
        v.accept = m.message.to_string().find("spam") == std::string::npos;
        if (!v.accept) v.reply = pigeon::core::Reply(550, "5.7.1", "DMARC policy reject");
        v.prepend = "Authentication-Results: mx.test.example; none\r\n";
        v.folder = "Junk";
        return v;
    };
    d.send("MAIL FROM:<a@example.org>");
    d.send("RCPT TO:<b@test.example>");
    d.send("DATA");
    BOOST_TEST(d.send_raw("spam\r\n.\r\n").back() == "550 5.7.1 DMARC policy reject");
    d.send("MAIL FROM:<a@example.org>");
    d.send("RCPT TO:<b@test.example>");
    d.send("DATA");
    BOOST_TEST(code(d.send_raw("ham\r\n.\r\n")) == "250");
    BOOST_REQUIRE(d.queued.size() == 1);
    // Our Received: on top (RFC 5321 4.4), the verdict's fields right below it.
    const std::string stored = d.queued[0].message.to_string();
    BOOST_TEST(stored.rfind("Received: ", 0) == 0u);
    BOOST_TEST(stored.find("\r\nAuthentication-Results: mx.test.example; none\r\nham\r\n") !=
               std::string::npos);
    BOOST_TEST(d.queued[0].folder == "Junk");
}

BOOST_AUTO_TEST_CASE(starttls_discards_pipelined_plaintext) {
    auto d = greeted(inbound(true));
    // CVE-2011-0411: the RSET and MAIL were sent in clear after STARTTLS.
    auto r = d.send_raw("STARTTLS\r\nRSET\r\nMAIL FROM:<evil@example.org>\r\n");
    BOOST_TEST(r == std::vector<std::string>{"220 2.0.0 Ready to start TLS"});
    BOOST_TEST(d.tls_starts == 1);
    BOOST_TEST(d.send_raw("NOOP\r\n").empty());  // still in the handshake: ignored
    BOOST_TEST(d.event(pigeon::smtp::TlsReady{}).empty());
    BOOST_TEST(std::string(d.session().state()) == "Connected");
    BOOST_TEST(code(d.send("MAIL FROM:<a@example.org>")) == "503");  // EHLO again first
    auto ehlo = d.send("EHLO client.example");
    BOOST_TEST(!contains(ehlo, "250-STARTTLS"));
    BOOST_TEST(!contains(ehlo, "250 STARTTLS"));
    BOOST_TEST(d.send("STARTTLS").back() == "503 5.5.1 TLS already active");
    d.send("MAIL FROM:<a@example.org>");
    d.send("RCPT TO:<b@test.example>");
    d.send("DATA");
    d.send_raw("x\r\n.\r\n");
    BOOST_REQUIRE(d.queued.size() == 1);
    BOOST_TEST(d.queued[0].envelope.tls);
    BOOST_TEST(d.queued[0].message.to_string().find("with ESMTPS") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(inbound_refuses_auth) {
    auto d = greeted(inbound());
    BOOST_TEST(d.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==").back() ==
               "502 5.5.1 AUTH not available on this service");
}

BOOST_AUTO_TEST_CASE(submission_requires_tls_before_auth_and_auth_before_mail) {
    auto d = greeted(submission(false));
    auto ehlo = d.output;
    BOOST_TEST(ehlo.find("AUTH") == std::string::npos);  // not offered in clear
    BOOST_TEST(d.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==").back() ==
               "530 5.7.0 Must issue a STARTTLS command first");
    BOOST_TEST(d.send("MAIL FROM:<alice@example.org>").back() == "530 5.7.0 Authentication required");
    BOOST_TEST(d.auth_requests.empty());
}

BOOST_AUTO_TEST_CASE(submission_auth_plain_with_initial_response) {
    auto d = greeted(submission());
    BOOST_TEST(d.output.find("250 AUTH PLAIN LOGIN") != std::string::npos);
    // "\0alice\0secret"
    BOOST_TEST(d.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==").back() ==
               "235 2.7.0 Authentication successful");
    BOOST_REQUIRE(d.auth_requests.size() == 1);
    BOOST_TEST(d.auth_requests[0].mechanism == "PLAIN");
    BOOST_TEST(d.auth_requests[0].authcid == "alice");
    BOOST_TEST(d.auth_requests[0].password == "secret");
    BOOST_TEST(d.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==").back() == "503 5.5.1 Already authenticated");
    BOOST_TEST(d.send("EHLO client.example").back() == "250 ENHANCEDSTATUSCODES");  // no AUTH now
    BOOST_TEST(code(d.send("MAIL FROM:<alice@example.org>")) == "250");
    d.send("RCPT TO:<anyone@elsewhere.example>");
    d.send("DATA");
    d.send_raw("Subject: x\r\n\r\nbody\r\n.\r\n");
    BOOST_REQUIRE(d.queued.size() == 1);
    BOOST_TEST(d.queued[0].envelope.auth_identity == "alice");
    BOOST_TEST(d.queued[0].message.to_string().find("with ESMTPSA") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(submission_auth_plain_with_empty_challenge) {
    auto d = greeted(submission());
    BOOST_TEST(d.send("AUTH PLAIN") == std::vector<std::string>{"334 "});
    BOOST_TEST(d.send("AGFsaWNlAHdyb25n").back() == "535 5.7.8 Authentication credentials invalid");
    BOOST_TEST(std::string(d.session().state()) == "Greeted");
}

BOOST_AUTO_TEST_CASE(submission_auth_login_two_steps) {
    auto d = greeted(submission());
    BOOST_TEST(d.send("AUTH LOGIN") == std::vector<std::string>{"334 VXNlcm5hbWU6"});
    BOOST_TEST(d.send("YWxpY2U=") == std::vector<std::string>{"334 UGFzc3dvcmQ6"});
    BOOST_TEST(d.send("c2VjcmV0").back() == "235 2.7.0 Authentication successful");
    BOOST_REQUIRE(d.auth_requests.size() == 1);
    BOOST_TEST(d.auth_requests[0].mechanism == "LOGIN");
    BOOST_TEST(d.auth_requests[0].authcid == "alice");
}

BOOST_AUTO_TEST_CASE(submission_auth_cancel_bad_base64_unknown_mechanism) {
    auto d = greeted(submission());
    d.send("AUTH LOGIN");
    BOOST_TEST(d.send("*").back() == "501 5.0.0 Authentication cancelled");
    d.send("AUTH PLAIN");
    BOOST_TEST(d.send("not base64!").back() == "501 5.5.2 Cannot decode response");
    BOOST_TEST(d.send("AUTH PLAIN bm90IHBsYWlu").back() == "501 5.5.2 Cannot decode response");
    BOOST_TEST(d.send("AUTH CRAM-MD5").back() == "504 5.5.4 Unrecognized authentication type");
    BOOST_TEST(code(d.send("NOOP")) == "250");  // back to commands
    BOOST_TEST(d.auth_requests.empty());
}

BOOST_AUTO_TEST_CASE(submission_auth_temporary_failure_gives_454) {
    auto d = greeted(submission());
    d.auth = [](const pigeon::smtp::Authenticate&) {
        return pigeon::smtp::AuthResult{pigeon::smtp::AuthResult::Outcome::temporary_failure, ""};
    };
    BOOST_TEST(d.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==").back() ==
               "454 4.7.0 Temporary authentication failure");
}

BOOST_AUTO_TEST_CASE(submission_overlong_sasl_line_gives_500_5_5_6) {
    auto d = greeted(submission());
    d.send("AUTH PLAIN");
    auto r = d.send(std::string(20000, 'A'));
    BOOST_TEST(r.back() == "500 5.5.6 Authentication exchange line is too long");
    BOOST_TEST(code(d.send("NOOP")) == "250");
}

BOOST_AUTO_TEST_CASE(overlong_auth_line_gets_5_5_6_however_it_is_split) {
    const std::string line = "AUTH PLAIN " + std::string(13000, 'A') + "\r\n";
    for (std::size_t chunk : {line.size(), std::size_t{4096}, std::size_t{1}}) {
        auto d = greeted(submission());
        std::vector<std::string> r;
        for (std::size_t at = 0; at < line.size(); at += chunk) {
            auto part = d.send_raw(line.substr(at, chunk));
            r.insert(r.end(), part.begin(), part.end());
        }
        BOOST_TEST(r == std::vector<std::string>{
                            "500 5.5.6 Authentication exchange line is too long"},
                   "chunk " << chunk);
    }
}

BOOST_AUTO_TEST_CASE(auth_initial_response_that_is_not_base64_gets_501_5_5_2) {
    auto d = greeted(submission());
    BOOST_TEST(d.send("AUTH PLAIN %%%") ==
               std::vector<std::string>{"501 5.5.2 Cannot decode response"});
}

BOOST_AUTO_TEST_CASE(overlong_command_line_is_skipped_with_500) {
    auto d = greeted(inbound());
    auto r = d.send_raw(std::string(20000, 'x'));
    BOOST_TEST(r.empty());  // answered when the line ends, so replies stay in order
    r = d.send_raw("yyy\r\nNOOP\r\n");
    std::vector<std::string> expected{"500 5.5.2 Line too long", "250 2.0.0 OK"};
    BOOST_TEST(r == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(anywhere_commands) {
    SessionDriver d(inbound());
    BOOST_TEST(d.send("NOOP").back() == "250 2.0.0 OK");
    BOOST_TEST(code(d.send("HELP")) == "214");
    BOOST_TEST(code(d.send("VRFY bob")) == "252");
    BOOST_TEST(code(d.send("EXPN list")) == "502");
    BOOST_TEST(d.send("RSET").back() == "250 2.0.0 OK");
    BOOST_TEST(std::string(d.session().state()) == "Connected");
    BOOST_TEST(d.send("QUIT").back() == "221 2.0.0 mx.test.example closing connection");
    BOOST_TEST(d.closed);
    BOOST_TEST(d.send("NOOP").empty());  // nothing after QUIT
}

BOOST_AUTO_TEST_CASE(timeout_gives_421_and_closes) {
    auto d = greeted(inbound());
    d.send("MAIL FROM:<a@example.org>");
    BOOST_TEST(d.event(pigeon::smtp::Timeout{}).back() ==
               "421 4.4.2 mx.test.example Error: timeout exceeded");
    BOOST_TEST(d.closed);
}

BOOST_AUTO_TEST_CASE(eof_closes_quietly) {
    auto d = greeted(inbound());
    BOOST_TEST(d.eof().empty());
    BOOST_TEST(d.closed);
    BOOST_TEST(d.session().closed());
}

// A client may send a whole pipeline and half-close at once (nc -q, scripts): the end of input
// must not drop what is buffered behind a check still in progress.
BOOST_AUTO_TEST_CASE(eof_after_a_pipeline_still_answers_it_then_closes) {
    pigeon::core::FixedClock clock(1795000000);
    auto c = inbound();
    c.clock = &clock;
    auto s = pigeon::smtp::make_session(c, {});
    s->start();
    s->put("EHLO c.example\r\n");
    auto a = s->put("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@test.example>\r\nQUIT\r\n");
    BOOST_TEST(std::holds_alternative<pigeon::smtp::CheckSender>(a.at(0)));
    a = s->put_eof();  // the check is still out: nothing may close yet
    BOOST_TEST(a.empty());
    BOOST_TEST(!s->closed());
    a = s->on(pigeon::smtp::Verdict{});  // sender accepted -> RCPT is checked next
    BOOST_REQUIRE(a.size() == 2u);
    BOOST_TEST(std::holds_alternative<pigeon::smtp::CheckRecipient>(a[0]));
    BOOST_TEST(std::get<pigeon::smtp::Send>(a[1]).bytes == "250 2.1.0 Sender OK\r\n");
    a = s->on(pigeon::smtp::Verdict{});
    BOOST_REQUIRE(a.size() == 2u);
    BOOST_TEST(std::get<pigeon::smtp::Send>(a[0]).bytes ==
               "250 2.1.5 Recipient OK\r\n221 2.0.0 localhost closing connection\r\n");
    BOOST_TEST(std::holds_alternative<pigeon::smtp::Close>(a[1]));
    BOOST_TEST(s->closed());
}

// The 1 MiB bound on unprocessed input (session_base.cpp, max_pending_input_octets).
namespace {
constexpr std::size_t input_cap_octets = 1024 * 1024;

std::string noops(std::size_t octets) {  // whole "NOOP\r\n" lines, at least `octets` long
    std::string s;
    while (s.size() < octets) s += "NOOP\r\n";
    return s;
}

std::string sent_text(const std::vector<pigeon::smtp::Action>& actions) {
    std::string out;
    for (const auto& a : actions)
        if (const auto* send = std::get_if<pigeon::smtp::Send>(&a)) out += send->bytes;
    return out;
}

bool has_close(const std::vector<pigeon::smtp::Action>& actions) {
    for (const auto& a : actions)
        if (std::holds_alternative<pigeon::smtp::Close>(a)) return true;
    return false;
}
}  // namespace

BOOST_AUTO_TEST_CASE(input_cap_while_waiting_on_a_check_gives_421_and_closes) {
    pigeon::core::FixedClock clock(1795000000);
    auto c = inbound();
    c.clock = &clock;
    auto s = pigeon::smtp::make_session(c, {});
    s->start();
    s->put("EHLO c.example\r\n");
    auto a = s->put("MAIL FROM:<a@example.org>\r\n");
    BOOST_TEST(std::holds_alternative<pigeon::smtp::CheckSender>(a.at(0)));
    const std::string flood = noops(input_cap_octets - 6);  // at the cap, not over it
    BOOST_REQUIRE(flood.size() <= input_cap_octets);
    for (std::size_t i = 0; i < flood.size(); i += 4096) BOOST_TEST(s->put(flood.substr(i, 4096)).empty());
    BOOST_TEST(!s->closed());
    a = s->put("NOOP\r\n");  // one line more
    BOOST_TEST(s->closed());
    BOOST_TEST(sent_text(a) == "421 4.7.0 localhost Error: too much pipelined input\r\n");
    BOOST_TEST(has_close(a));
}

// Before the fix the cap was only checked while already waiting: one put() with a command that
// makes the session wait and megabytes after it was kept whole.
BOOST_AUTO_TEST_CASE(input_cap_holds_for_input_that_arrives_before_the_wait) {
    pigeon::core::FixedClock clock(1795000000);
    auto c = inbound();
    c.clock = &clock;
    auto s = pigeon::smtp::make_session(c, {});
    s->start();
    s->put("EHLO c.example\r\n");
    const auto a = s->put("NOOP\r\nMAIL FROM:<a@example.org>\r\n" + noops(input_cap_octets + 1));
    BOOST_TEST(s->closed());
    BOOST_TEST(std::holds_alternative<pigeon::smtp::CheckSender>(a.at(0)));
    BOOST_TEST(sent_text(a) ==
               "250 2.0.0 OK\r\n421 4.7.0 localhost Error: too much pipelined input\r\n");
    BOOST_TEST(has_close(a));
    BOOST_TEST(s->on(pigeon::smtp::Verdict{}).empty());  // the late answer changes nothing
}

// Below the cap, a long pipeline behind a check is legitimate and answered in full.
BOOST_AUTO_TEST_CASE(input_below_the_cap_is_answered_once_the_check_returns) {
    pigeon::core::FixedClock clock(1795000000);
    auto c = inbound();
    c.clock = &clock;
    auto s = pigeon::smtp::make_session(c, {});
    s->start();
    s->put("EHLO c.example\r\n");
    const std::string pipeline = noops(input_cap_octets - 64);
    auto a = s->put("MAIL FROM:<a@example.org>\r\n" + pipeline);
    BOOST_TEST(!s->closed());
    a = s->on(pigeon::smtp::Verdict{});
    const std::string out = sent_text(a);
    BOOST_TEST(!s->closed());
    BOOST_TEST(out.rfind("250 2.1.0 Sender OK\r\n", 0) == 0u);
    BOOST_TEST(out.size() == std::string("250 2.1.0 Sender OK\r\n").size() +
                                 pipeline.size() / 6 * std::string("250 2.0.0 OK\r\n").size());
}

// In states that consume what they get, input never piles up: a flood of command lines, of
// DATA, of one endless line, or of bytes during a TLS handshake leaves the session open.
BOOST_AUTO_TEST_CASE(input_cap_is_not_hit_by_input_the_session_uses_as_it_arrives) {
    SessionConfig cfg = inbound(true);
    cfg.max_errors = 1000000;
    const std::string megabytes(3 * input_cap_octets / 2, 'x');
    {
        auto d = greeted(cfg);  // commands: each line answered
        d.send_raw(noops(3 * input_cap_octets / 2));
        BOOST_TEST(!d.closed);
    }
    {
        auto d = greeted(cfg);  // one over-long line: skipped as it arrives
        for (std::size_t i = 0; i < megabytes.size(); i += 65536) d.send_raw(megabytes.substr(i, 65536));
        BOOST_TEST(code(d.send_raw("\r\n")) == "500");
        BOOST_TEST(!d.closed);
    }
    {
        auto d = greeted(cfg);  // DATA: read into the message (and refused over its size)
        d.send("MAIL FROM:<a@example.org>");
        d.send("RCPT TO:<b@test.example>");
        BOOST_TEST(code(d.send("DATA")) == "354");
        for (std::size_t i = 0; i < megabytes.size(); i += 65536) d.send_raw(megabytes.substr(i, 65536));
        BOOST_TEST(!d.closed);
    }
}

BOOST_AUTO_TEST_CASE(eof_in_the_middle_of_a_line_or_of_data_closes) {
    auto d = greeted(inbound());
    d.send_raw("NOOP");  // no CRLF: never a command
    d.eof();
    BOOST_TEST(d.closed);
    auto e = greeted(inbound());
    e.send("MAIL FROM:<a@example.org>");
    e.send("RCPT TO:<b@test.example>");
    e.send("DATA");
    e.send_raw("unfinished\r\n");
    BOOST_TEST(e.eof().empty());
    BOOST_TEST(e.closed);
    BOOST_TEST(e.queued.empty());
}

BOOST_AUTO_TEST_CASE(events_nobody_asked_for_are_asserted_and_ignored) {
    // A driver bug: PIGEON_ASSERT reports it (fatal in dev builds), and the session survives
    // it as a release build does, by ignoring the event.
    pigeon::test::AssertionRecorder recorder;
    auto d = greeted(inbound());
    BOOST_TEST(d.event(pigeon::smtp::Enqueued{"X"}).empty());
    BOOST_TEST(d.event(pigeon::smtp::Verdict{}).empty());
    BOOST_TEST(d.event(pigeon::smtp::TlsReady{}).empty());
    BOOST_TEST(recorder.seen() ==
                   std::vector<std::string>(3, "an event answers the question the session awaits"),
               boost::test_tools::per_element());
    BOOST_TEST(code(d.send("NOOP")) == "250");
}

BOOST_AUTO_TEST_CASE(ehlo_resets_a_transaction) {
    auto d = greeted(inbound());
    d.send("MAIL FROM:<a@example.org>");
    d.send("RCPT TO:<b@test.example>");
    d.send("EHLO again.example");
    BOOST_TEST(std::string(d.session().state()) == "Greeted");
    BOOST_TEST(code(d.send("DATA")) == "503");
}

BOOST_AUTO_TEST_CASE(ipv6_peer_is_written_as_ipv6_literal_in_received) {
    SessionDriver d(inbound(), "2001:db8::1");
    d.send("HELO client.example");
    d.send("MAIL FROM:<>");
    d.send("RCPT TO:<b@test.example>");
    d.send("DATA");
    d.send_raw(".\r\n");
    BOOST_REQUIRE(d.queued.size() == 1);
    BOOST_TEST(d.queued[0].message.to_string().rfind(
                   "Received: from client.example ([IPv6:2001:db8::1])\r\n\tby mx.test.example "
                   "(Pigeon) with SMTP\r\n",
                   0) == 0u);
    BOOST_TEST(d.queued[0].envelope.reverse_path.is_null());
}

BOOST_AUTO_TEST_CASE(error_limit_ends_the_session_with_421) {
    auto c = inbound();
    c.max_errors = 3;
    auto d = greeted(c);
    BOOST_TEST(code(d.send("FROB")) == "500");
    BOOST_TEST(code(d.send("RCPT TO:<a@b.example>")) == "503");
    auto r = d.send_raw("FROB\r\nNOOP\r\n");
    std::vector<std::string> expected{"500 5.5.2 Command not recognized",
                                      "421 4.7.0 mx.test.example Error: too many errors"};
    BOOST_TEST(r == expected, boost::test_tools::per_element());
    BOOST_TEST(d.closed);
}

BOOST_AUTO_TEST_CASE(shutdown_gives_421_4_3_2_and_idle_tells_when_it_is_safe) {
    auto d = greeted(inbound());
    BOOST_TEST(d.session().idle());
    d.send("MAIL FROM:<a@example.org>");
    BOOST_TEST(!d.session().idle());
    d.send("RSET");
    BOOST_TEST(d.session().idle());
    BOOST_TEST(d.event(pigeon::smtp::Shutdown{}).back() ==
               "421 4.3.2 mx.test.example Service shutting down");
    BOOST_TEST(d.closed);
    BOOST_TEST(!d.session().idle());
}

BOOST_AUTO_TEST_CASE(trace_never_contains_credentials) {
    std::vector<std::string> trace;
    auto c = submission();
    c.trace = [&](std::string_view line) { trace.emplace_back(line); };
    auto d = greeted(c);
    d.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==");
    d.send("AUTH LOGIN");  // 503: already authenticated, still traced safely
    SessionDriver login(c);
    login.send("EHLO c.example");
    login.send("auth login YWxpY2U=");
    login.send("c2VjcmV0");
    // SASL responses sent after a refused AUTH arrive as (unknown) commands.
    auto clear = submission(false);
    clear.trace = c.trace;
    SessionDriver in_clear(clear);
    in_clear.send("EHLO c.example");
    in_clear.send("AUTH LOGIN");
    in_clear.send("YWxpY2U=");
    in_clear.send("c2VjcmV0");
    bool saw_state_change = false;
    for (const auto& line : trace) {
        BOOST_TEST(line.find("AGFsaWNlAHNlY3JldA") == std::string::npos, line);
        BOOST_TEST(line.find("c2VjcmV0") == std::string::npos, line);
        BOOST_TEST(line.find("YWxpY2U") == std::string::npos, line);
        BOOST_TEST(line.find("secret") == std::string::npos, line);
        if (line == "state: Greeted -> CheckingCredentials") saw_state_change = true;
    }
    BOOST_TEST(saw_state_change);
}

BOOST_AUTO_TEST_CASE(session_requires_a_clock) {
    SessionConfig c;
    BOOST_CHECK_THROW(pigeon::smtp::make_session(c, {}), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
