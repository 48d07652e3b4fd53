// The outbound SMTP client session (src/smtp/client/session.hpp) against scripted peers: every reply
// class at every step, with and without PIPELINING, STARTTLS and AUTH policies, multi-line and
// malformed replies, end of input and timeouts at every wait, dot-stuffing, two messages on
// one connection.
#include "smtp/client/session.hpp"

#include <boost/test/unit_test.hpp>
#include <deque>
#include <map>
#include <set>

namespace {

using namespace pigeon;
using smtp::ClientAction;
using smtp::ClientConfig;
using smtp::ClientMessage;
using smtp::ClientTls;
using smtp::Outcome;

core::Path path(const std::string& address) {
    return core::Path::of(core::Mailbox::parse(address).value());
}

ClientMessage message(std::vector<std::string> recipients, std::string body = "Subject: x\r\n\r\nhi\r\n") {
    ClientMessage m;
    m.reverse_path = path("sender@a.example");
    for (const auto& r : recipients) m.recipients.push_back(path(r));
    m.message = std::make_shared<const std::string>(std::move(body));
    return m;
}

const std::string ehlo_plain = "250-mx.b.example\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES";
const std::string ehlo_pipelining =
    "250-mx.b.example\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES";
const std::string ehlo_starttls = "250-mx.b.example\r\n250-STARTTLS\r\n250 8BITMIME";
const std::string ehlo_after_tls = "250-mx.b.example\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME";

// A peer played from a script: each command verb (or "." for the end of data, "SASL" for an
// AUTH LOGIN response line) is answered with the front of its queue of replies (the last one
// repeats). The driver carries out the session's actions at once and feeds the replies back.
class Peer {
public:
    std::map<std::string, std::deque<std::string>> script = {
        {"EHLO", {ehlo_plain}},     {"HELO", {"250 mx.b.example"}},
        {"STARTTLS", {"220 2.0.0 go ahead"}}, {"AUTH", {"235 2.7.0 ok"}},
        {"SASL", {"235 2.7.0 ok"}}, {"MAIL", {"250 2.1.0 ok"}},
        {"RCPT", {"250 2.1.5 ok"}}, {"DATA", {"354 go ahead"}},
        {".", {"250 2.0.0 queued"}}, {"RSET", {"250 2.0.0 ok"}},
        {"QUIT", {"221 2.0.0 bye"}}};
    std::set<std::string> silent;  // verbs the peer never answers (the test then acts)
    bool tls_succeeds = true;
    bool answer_tls = true;  // false: the handshake never ends (the test acts)

    std::unique_ptr<smtp::ClientSession> session;
    std::string sent;           // every byte the client sent
    std::string sent_in_clear;  // ... before TLS
    std::vector<std::string> commands;   // command lines received, in order
    std::vector<std::string> data_lines; // message lines as on the wire (dot-stuffed)
    std::vector<smtp::TransactionResult> done;
    std::vector<std::string> trace;
    int idles = 0, tls_starts = 0, closes = 0;
    bool tls = false;

    explicit Peer(ClientConfig config = {}) {
        config.trace = [this](std::string_view line) { trace.emplace_back(line); };
        session = smtp::make_client_session(std::move(config));
        run(session->start());
    }

    void greet(const std::string& greeting = "220 mx.b.example ESMTP") { run(session->put(greeting + "\r\n")); }
    void put(const std::string& raw) { run(session->put(raw)); }
    void eof() { run(session->put_eof()); }
    void event(const smtp::ClientEvent& e) { run(session->on(e)); }
    void deliver(ClientMessage m) { event(smtp::Deliver{std::move(m)}); }
    void quit() { event(smtp::Quit{}); }

    bool sent_command(const std::string& prefix) const {
        for (const auto& c : commands)
            if (c.rfind(prefix, 0) == 0) return true;
        return false;
    }

private:
    std::string inbox_;
    bool in_data_ = false;
    bool login_ = false;
    bool stopped_ = false;

    std::string next(const std::string& verb) {
        auto& q = script[verb];
        BOOST_REQUIRE_MESSAGE(!q.empty(), "no scripted reply for " + verb);
        std::string r = q.front();
        if (q.size() > 1) q.pop_front();
        return r + "\r\n";
    }

    std::string answer() {
        std::string replies;
        std::size_t crlf;
        while (!stopped_ && (crlf = inbox_.find("\r\n")) != std::string::npos) {
            std::string line = inbox_.substr(0, crlf);
            inbox_.erase(0, crlf + 2);
            if (in_data_) {
                if (line != ".") { data_lines.push_back(line); continue; }
                in_data_ = false;
                line = ".";
            } else {
                commands.push_back(line);
            }
            std::string verb = line == "." ? "." : line.substr(0, line.find_first_of(" :"));
            if (verb == "MAIL" || verb == "RCPT") verb = line.substr(0, 4);
            if (login_ && verb != "QUIT") verb = "SASL";
            if (silent.count(verb)) { stopped_ = true; break; }
            std::string r = next(verb);
            if (verb == "DATA" && r.rfind("354", 0) == 0) in_data_ = true;
            login_ = (verb == "AUTH" || verb == "SASL") && r.rfind("334", 0) == 0;
            replies += r;
        }
        return replies;
    }

    void run(std::vector<ClientAction> actions) {
        bool start_tls = false;
        for (auto& a : actions) {
            std::visit(
                [&](auto& x) {
                    using A = std::decay_t<decltype(x)>;
                    if constexpr (std::is_same_v<A, smtp::ClientSend>) {
                        BOOST_TEST(closes == 0, "ClientSend after ClientClose");
                        sent += x.bytes;
                        if (!tls) sent_in_clear += x.bytes;
                        inbox_ += x.bytes;
                    } else if constexpr (std::is_same_v<A, smtp::ClientStartTls>) {
                        ++tls_starts;
                        start_tls = true;
                    } else if constexpr (std::is_same_v<A, smtp::ClientDone>) {
                        done.push_back(x.result);
                    } else if constexpr (std::is_same_v<A, smtp::ClientIdle>) {
                        ++idles;
                    } else {
                        ++closes;
                    }
                },
                a);
        }
        std::string replies = answer();
        if (start_tls) {
            BOOST_TEST(replies.empty());
            if (!answer_tls) return;
            if (tls_succeeds) {
                tls = true;
                run(session->on(smtp::ClientTlsReady{}));
            } else {
                run(session->on(smtp::ClientTlsFailed{"handshake failure alert"}));
            }
            return;
        }
        if (!replies.empty() && !session->closed()) run(session->put(replies));
    }
};

// The recipients' outcomes, in order, as one string: "D" delivered, "T" transient, "P" permanent.
std::string outcomes(const smtp::TransactionResult& r) {
    std::string s;
    for (const auto& rr : r.recipients)
        s += rr.outcome == Outcome::delivered ? 'D' : rr.outcome == Outcome::transient ? 'T' : 'P';
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(client)

// ---------------------------------------------------------------- the ordinary path

BOOST_AUTO_TEST_CASE(one_message_without_pipelining_goes_step_by_step) {
    Peer p;
    p.deliver(message({"x@b.example", "y@b.example"}));
    p.greet();
    BOOST_TEST(p.commands.size() == 5u);  // EHLO MAIL RCPT RCPT DATA; the message is data
    BOOST_TEST(p.commands[0] == "EHLO localhost");
    BOOST_TEST(p.commands[1] == "MAIL FROM:<sender@a.example> SIZE=18");
    BOOST_TEST(p.commands[2] == "RCPT TO:<x@b.example>");
    BOOST_TEST(p.commands[3] == "RCPT TO:<y@b.example>");
    BOOST_TEST(p.commands[4] == "DATA");
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(outcomes(p.done[0]) == "DD");
    BOOST_TEST(p.done[0].recipients[0].stage == "end of data");
    BOOST_TEST(p.done[0].recipients[0].from_peer);
    BOOST_TEST(p.done[0].recipients[0].reply.code == 250);
    BOOST_TEST(!p.done[0].connection_level);
    BOOST_TEST(p.idles == 1);
    BOOST_TEST(p.session->state() == "Idle");
    BOOST_TEST(p.session->waiting_for() == "");
    p.quit();
    BOOST_TEST(p.commands.back() == "QUIT");
    BOOST_TEST(p.closes == 1);
    BOOST_TEST(p.session->closed());
}

BOOST_AUTO_TEST_CASE(pipelining_sends_mail_rcpts_and_data_in_one_send) {
    Peer p;
    p.script["EHLO"] = {ehlo_pipelining};
    p.script["RCPT"] = {"250 2.1.5 ok", "550 5.1.1 no such user", "451 4.3.0 later"};
    p.silent.insert("MAIL");  // hold the replies to look at what was sent
    p.greet();
    BOOST_TEST(p.session->peer_offers("pipelining"));
    p.deliver(message({"x@b.example", "y@b.example", "z@b.example"}));
    BOOST_TEST(p.sent.find("MAIL FROM:<sender@a.example> SIZE=18\r\nRCPT TO:<x@b.example>\r\n"
                           "RCPT TO:<y@b.example>\r\nRCPT TO:<z@b.example>\r\nDATA\r\n") !=
               std::string::npos);
    // All five replies at once, in order.
    p.put("250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n451 4.3.0 later\r\n354 go\r\n");
    BOOST_TEST(p.session->state() == "AwaitDataEnd");
    p.put("250 2.0.0 queued\r\n");
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(outcomes(p.done[0]) == "DPT");
    BOOST_TEST(p.done[0].recipients[1].stage == "RCPT");
    BOOST_TEST(p.done[0].recipients[1].reply.code == 550);
}

BOOST_AUTO_TEST_CASE(pipelined_no_recipient_accepted_but_354_sends_only_the_dot) {
    Peer p;
    p.script["EHLO"] = {ehlo_pipelining};
    p.script["RCPT"] = {"550 5.1.1 no"};
    p.script["."] = {"554 5.5.1 no valid recipients"};
    p.greet();
    p.deliver(message({"x@b.example", "y@b.example"}));
    BOOST_TEST(p.data_lines.empty());  // no message octet was sent
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(outcomes(p.done[0]) == "PP");
    BOOST_TEST(p.done[0].recipients[0].stage == "RCPT");
    BOOST_TEST(p.sent.find("\r\n.\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(pipelined_data_refusal_goes_to_the_accepted_recipients) {
    Peer p;
    p.script["EHLO"] = {ehlo_pipelining};
    p.script["RCPT"] = {"250 ok", "550 5.1.1 no"};
    p.script["DATA"] = {"451 4.3.0 try later"};
    p.greet();
    p.deliver(message({"x@b.example", "y@b.example"}));
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(outcomes(p.done[0]) == "TP");
    BOOST_TEST(p.done[0].recipients[0].stage == "DATA");
    BOOST_TEST(p.done[0].recipients[0].reply.code == 451);
    BOOST_TEST(p.data_lines.empty());
}

BOOST_AUTO_TEST_CASE(pipelined_mail_refusal_decides_every_recipient) {
    Peer p;
    p.script["EHLO"] = {ehlo_pipelining};
    p.script["MAIL"] = {"550 5.7.1 go away"};
    p.script["RCPT"] = {"503 5.5.1 need MAIL"};
    p.script["DATA"] = {"503 5.5.1 need RCPT"};
    p.greet();
    p.deliver(message({"x@b.example", "y@b.example"}));
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(outcomes(p.done[0]) == "PP");
    BOOST_TEST(p.done[0].recipients[1].reply.code == 550);
    BOOST_TEST(p.done[0].recipients[1].stage == "MAIL");
    BOOST_TEST(p.session->state() == "Idle");
}

BOOST_AUTO_TEST_CASE(mail_replies_each_class) {
    for (auto [reply, expect] : std::vector<std::pair<std::string, std::string>>{
             {"451 4.3.0 later", "TT"}, {"550 5.7.1 no", "PP"}}) {
        Peer p;
        p.script["MAIL"] = {reply};
        p.greet();
        p.deliver(message({"x@b.example", "y@b.example"}));
        BOOST_REQUIRE(p.done.size() == 1u);
        BOOST_TEST(outcomes(p.done[0]) == expect);
        BOOST_TEST(!p.sent_command("RCPT"));
        BOOST_TEST(!p.done[0].connection_level);
    }
}

BOOST_AUTO_TEST_CASE(mixed_rcpt_results_without_pipelining) {
    Peer p;
    p.script["RCPT"] = {"250 ok", "550 5.1.1 unknown", "452 4.2.2 full", "251 2.1.5 will forward"};
    p.greet();
    p.deliver(message({"a@b.example", "b@b.example", "c@b.example", "d@b.example"}));
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(outcomes(p.done[0]) == "DPTD");
}

BOOST_AUTO_TEST_CASE(no_rcpt_accepted_means_no_data_and_rset_before_the_next) {
    Peer p;
    p.script["RCPT"] = {"550 5.1.1 unknown"};
    p.greet();
    p.deliver(message({"a@b.example", "b@b.example"}));
    BOOST_TEST(!p.sent_command("DATA"));
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(outcomes(p.done[0]) == "PP");
    p.script["RCPT"] = {"250 ok"};
    p.deliver(message({"c@b.example"}));
    BOOST_REQUIRE(p.done.size() == 2u);
    BOOST_TEST(outcomes(p.done[1]) == "D");
    // RSET came between the failed transaction and the next MAIL.
    std::vector<std::string> verbs;
    for (auto& c : p.commands) verbs.push_back(c.substr(0, 4));
    BOOST_TEST((verbs == std::vector<std::string>{"EHLO", "MAIL", "RCPT", "RCPT", "RSET", "MAIL",
                                                  "RCPT", "DATA"}));
}

BOOST_AUTO_TEST_CASE(data_replies_each_class) {
    for (auto [reply, expect] : std::vector<std::pair<std::string, std::string>>{
             {"451 4.3.0 later", "T"}, {"554 5.7.1 no", "P"}}) {
        Peer p;
        p.script["DATA"] = {reply};
        p.greet();
        p.deliver(message({"x@b.example"}));
        BOOST_REQUIRE(p.done.size() == 1u);
        BOOST_TEST(outcomes(p.done[0]) == expect);
        BOOST_TEST(p.done[0].recipients[0].stage == "DATA");
        BOOST_TEST(p.data_lines.empty());
    }
}

BOOST_AUTO_TEST_CASE(end_of_data_replies_each_class) {
    for (auto [reply, expect] : std::vector<std::pair<std::string, std::string>>{
             {"250 2.0.0 ok", "D"}, {"451 4.3.0 later", "T"}, {"554 5.6.0 bad", "P"}}) {
        Peer p;
        p.script["."] = {reply};
        p.greet();
        p.deliver(message({"x@b.example"}));
        BOOST_REQUIRE(p.done.size() == 1u);
        BOOST_TEST(outcomes(p.done[0]) == expect);
        BOOST_TEST(p.done[0].recipients[0].stage == "end of data");
        BOOST_TEST(!p.done[0].maybe_delivered);
    }
}

BOOST_AUTO_TEST_CASE(two_messages_on_one_connection_and_rset_after_a_failed_one) {
    Peer p;
    p.script["."] = {"554 5.7.1 spam", "250 ok"};
    p.greet();
    p.deliver(message({"x@b.example"}));
    p.deliver(message({"y@b.example"}));
    p.deliver(message({"z@b.example"}));
    BOOST_REQUIRE(p.done.size() == 3u);
    BOOST_TEST(outcomes(p.done[0]) == "P");
    BOOST_TEST(outcomes(p.done[1]) == "D");
    BOOST_TEST(outcomes(p.done[2]) == "D");
    int rsets = 0;
    for (auto& c : p.commands) rsets += c == "RSET";
    BOOST_TEST(rsets == 1);  // only after the failed one
    BOOST_TEST(p.idles == 4);  // after the greeting and after each message
}

BOOST_AUTO_TEST_CASE(delivers_given_before_the_greeting_are_held_in_order) {
    Peer p;
    p.deliver(message({"x@b.example"}));
    p.deliver(message({"y@b.example"}));
    BOOST_TEST(p.sent.empty());
    BOOST_TEST(p.session->waiting_for() == "greeting");
    p.greet();
    BOOST_REQUIRE(p.done.size() == 2u);
    BOOST_TEST(p.done[0].recipients[0].recipient.to_string() == "<x@b.example>");
    BOOST_TEST(p.done[1].recipients[0].recipient.to_string() == "<y@b.example>");
    BOOST_TEST(p.idles == 1);
}

BOOST_AUTO_TEST_CASE(quit_waits_for_221_then_closes) {
    Peer p;
    p.silent.insert("QUIT");
    p.greet();
    p.quit();
    BOOST_TEST(p.session->waiting_for() == "QUIT");
    BOOST_TEST(p.closes == 0);
    p.put("221 2.0.0 bye\r\n");
    BOOST_TEST(p.closes == 1);
    BOOST_TEST(p.session->state() == "Closed");
    // A Deliver after the end is answered at once.
    p.deliver(message({"x@b.example"}));
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(outcomes(p.done[0]) == "T");
    BOOST_TEST(p.done[0].connection_level);
    BOOST_TEST(p.done[0].recipients[0].stage == "connect");
}

// Found by fuzz/client_session: a Deliver after Quit, while an earlier one still waited for the
// greeting, was answered at once, ahead of the earlier one.
BOOST_AUTO_TEST_CASE(deliver_after_quit_before_the_greeting_keeps_the_order) {
    Peer p;
    p.deliver(message({"x@b.example"}));
    p.quit();
    p.deliver(message({"y@b.example", "z@b.example"}));
    BOOST_TEST(p.done.empty());
    p.greet();
    BOOST_REQUIRE(p.done.size() == 2u);
    BOOST_TEST(p.done[0].recipients.size() == 1u);
    BOOST_TEST(outcomes(p.done[1]) == "DD");
    BOOST_TEST(p.commands.back() == "QUIT");
    BOOST_TEST(p.closes == 1);
}

BOOST_AUTO_TEST_CASE(eof_after_quit_closes_quietly) {
    Peer p;
    p.silent.insert("QUIT");
    p.greet();
    p.quit();
    p.eof();
    BOOST_TEST(p.closes == 1);
    BOOST_TEST(p.done.empty());
}

// ---------------------------------------------------------------- greeting and EHLO

BOOST_AUTO_TEST_CASE(greeting_554_is_a_transient_connection_level_failure_with_quit) {
    Peer p;
    p.deliver(message({"x@b.example"}));
    p.greet("554 5.7.1 no service for you");
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(outcomes(p.done[0]) == "T");
    BOOST_TEST(p.done[0].connection_level);
    BOOST_TEST(p.done[0].recipients[0].from_peer);
    BOOST_TEST(p.done[0].recipients[0].reply.code == 554);
    BOOST_TEST(p.done[0].recipients[0].stage == "greeting");
    BOOST_TEST((p.commands == std::vector<std::string>{"QUIT"}));
    BOOST_TEST(p.closes == 1);
}

BOOST_AUTO_TEST_CASE(greeting_421_closes_without_quit) {
    Peer p;
    p.deliver(message({"x@b.example", "y@b.example"}));
    p.greet("421 4.3.2 busy");
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(outcomes(p.done[0]) == "TT");
    BOOST_TEST(p.done[0].connection_level);
    BOOST_TEST(p.commands.empty());
    BOOST_TEST(p.closes == 1);
}

BOOST_AUTO_TEST_CASE(multi_line_greeting_and_ehlo) {
    Peer p;
    p.script["EHLO"] = {"250-mx.b.example hello\r\n250-PIPELINING\r\n250-SIZE\r\n250 8BITMIME"};
    p.greet("220-mx.b.example ESMTP\r\n220-no UCE\r\n220 really");
    BOOST_TEST(p.session->state() == "Idle");
    BOOST_TEST(p.session->peer_offers("PIPELINING"));
    BOOST_TEST(p.session->peer_offers("size"));
    BOOST_TEST(!p.session->peer_offers("STARTTLS"));
}

BOOST_AUTO_TEST_CASE(ehlo_5xx_falls_back_to_helo_without_extensions) {
    for (std::string refusal : {"500 5.5.1 what?", "502 5.5.2 not implemented"}) {
        Peer p;
        p.script["EHLO"] = {refusal};
        p.greet();
        p.deliver(message({"x@b.example"}));
        BOOST_TEST(p.commands[1] == "HELO localhost");
        BOOST_TEST(p.commands[2] == "MAIL FROM:<sender@a.example>");  // no SIZE after HELO
        BOOST_REQUIRE(p.done.size() == 1u);
        BOOST_TEST(outcomes(p.done[0]) == "D");
    }
}

BOOST_AUTO_TEST_CASE(ehlo_4xx_and_helo_refusal_are_connection_level) {
    {
        Peer p;
        p.script["EHLO"] = {"451 4.3.0 later"};
        p.deliver(message({"x@b.example"}));
        p.greet();
        BOOST_REQUIRE(p.done.size() == 1u);
        BOOST_TEST(p.done[0].connection_level);
        BOOST_TEST(p.done[0].recipients[0].stage == "EHLO");
        BOOST_TEST(p.commands.back() == "QUIT");
    }
    {
        Peer p;
        p.script["EHLO"] = {"502 no"};
        p.script["HELO"] = {"550 5.7.1 go away"};
        p.deliver(message({"x@b.example"}));
        p.greet();
        BOOST_REQUIRE(p.done.size() == 1u);
        BOOST_TEST(outcomes(p.done[0]) == "T");
        BOOST_TEST(p.done[0].connection_level);
        BOOST_TEST(p.done[0].recipients[0].stage == "HELO");
    }
}

// ---------------------------------------------------------------- STARTTLS and AUTH

BOOST_AUTO_TEST_CASE(starttls_when_offered_then_ehlo_again_forgetting_extensions) {
    Peer p;
    p.script["EHLO"] = {ehlo_starttls, "250-mx.b.example\r\n250 8BITMIME"};
    p.greet();
    BOOST_TEST(p.tls_starts == 1);
    BOOST_TEST(p.sent_in_clear == "EHLO localhost\r\nSTARTTLS\r\n");
    BOOST_TEST(p.commands.size() == 3u);
    BOOST_TEST(p.commands[2] == "EHLO localhost");
    BOOST_TEST(!p.session->peer_offers("STARTTLS"));  // forgotten (RFC 3207 4.2)
    BOOST_TEST(p.session->state() == "Idle");
}

BOOST_AUTO_TEST_CASE(tls_none_never_starts_tls) {
    ClientConfig c;
    c.tls = ClientTls::none;
    Peer p(c);
    p.script["EHLO"] = {ehlo_starttls};
    p.greet();
    BOOST_TEST(p.tls_starts == 0);
    BOOST_TEST(p.session->state() == "Idle");
}

BOOST_AUTO_TEST_CASE(starttls_refused_or_failed_is_transient_connection_level) {
    for (std::string refusal : {"454 4.7.0 TLS not available", "502 5.5.1 no"}) {
        for (auto policy : {ClientTls::opportunistic, ClientTls::required}) {
            ClientConfig c;
            c.tls = policy;
            Peer p(c);
            p.script["EHLO"] = {ehlo_starttls};
            p.script["STARTTLS"] = {refusal};
            p.deliver(message({"x@b.example"}));
            p.greet();
            BOOST_REQUIRE(p.done.size() == 1u);
            BOOST_TEST(outcomes(p.done[0]) == "T");
            BOOST_TEST(p.done[0].connection_level);
            BOOST_TEST(p.done[0].recipients[0].stage == "STARTTLS");
            BOOST_TEST(!p.sent_command("MAIL"));  // never continue in clear
            BOOST_TEST(p.commands.back() == "QUIT");
        }
    }
    Peer p;
    p.tls_succeeds = false;
    p.script["EHLO"] = {ehlo_starttls};
    p.deliver(message({"x@b.example"}));
    p.greet();
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(p.done[0].connection_level);
    BOOST_TEST(p.done[0].recipients[0].stage == "TLS");
    BOOST_TEST(!p.sent_command("MAIL"));
    BOOST_TEST(p.closes == 1);
}

BOOST_AUTO_TEST_CASE(tls_required_without_starttls_sends_no_mail_in_clear) {
    ClientConfig c;
    c.tls = ClientTls::required;
    Peer p(c);
    p.script["EHLO"] = {ehlo_pipelining};
    p.deliver(message({"x@b.example"}));
    p.greet();
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(p.done[0].connection_level);
    BOOST_TEST(p.done[0].recipients[0].reply.enhanced->to_string() == "4.7.4");
    BOOST_TEST(p.sent == "EHLO localhost\r\nQUIT\r\n");
}

BOOST_AUTO_TEST_CASE(tls_required_and_ehlo_refused_gives_up_without_helo) {
    ClientConfig c;
    c.tls = ClientTls::required;
    Peer p(c);
    p.script["EHLO"] = {"502 5.5.2 what is EHLO"};
    p.deliver(message({"x@b.example"}));
    p.greet();
    BOOST_TEST(p.sent == "EHLO localhost\r\nQUIT\r\n");
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(p.done[0].connection_level);
    BOOST_TEST(outcomes(p.done[0]) == "T");
}

BOOST_AUTO_TEST_CASE(tls_required_over_implicit_tls_needs_no_starttls) {
    ClientConfig c;
    c.tls = ClientTls::required;
    c.tls_active = true;
    Peer p(c);
    p.tls = true;
    p.script["EHLO"] = {ehlo_starttls};
    p.deliver(message({"x@b.example"}));
    p.greet();
    BOOST_TEST(p.tls_starts == 0);
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(outcomes(p.done[0]) == "D");
}

BOOST_AUTO_TEST_CASE(auth_plain_after_tls_with_initial_response) {
    ClientConfig c;
    c.credentials = smtp::ClientCredentials{"user", "secret"};
    Peer p(c);
    p.script["EHLO"] = {ehlo_starttls, ehlo_after_tls};
    p.deliver(message({"x@b.example"}));
    p.greet();
    BOOST_TEST(p.sent_in_clear.find("AUTH") == std::string::npos);
    BOOST_TEST(p.sent_command("AUTH PLAIN AHVzZXIAc2VjcmV0"));  // base64("\0user\0secret")
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(outcomes(p.done[0]) == "D");
    for (const auto& line : p.trace) BOOST_TEST(line.find("AHVzZXIAc2VjcmV0") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(auth_login_when_only_login_is_offered) {
    ClientConfig c;
    c.tls_active = true;
    c.credentials = smtp::ClientCredentials{"user", "secret"};
    Peer p(c);
    p.script["EHLO"] = {"250-mx\r\n250 AUTH LOGIN"};
    p.script["AUTH"] = {"334 VXNlcm5hbWU6"};
    p.script["SASL"] = {"334 UGFzc3dvcmQ6", "235 2.7.0 ok"};
    p.greet();
    BOOST_TEST(p.session->state() == "Idle");
    BOOST_REQUIRE(p.commands.size() == 4u);
    BOOST_TEST(p.commands[1] == "AUTH LOGIN");
    BOOST_TEST(p.commands[2] == "dXNlcg==");
    BOOST_TEST(p.commands[3] == "c2VjcmV0");
    for (const auto& line : p.trace) BOOST_TEST(line.find("c2VjcmV0") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(auth_replies_each_class_and_not_offered) {
    struct Case {
        std::string ehlo, reply, expect;
        bool auth_sent;
    };
    for (const auto& k : std::vector<Case>{{ehlo_after_tls, "535 5.7.8 bad credentials", "P", true},
                                           {ehlo_after_tls, "454 4.7.0 try later", "T", true},
                                           {"250-mx\r\n250 8BITMIME", "", "T", false}}) {
        ClientConfig c;
        c.tls_active = true;
        c.credentials = smtp::ClientCredentials{"user", "secret"};
        Peer p(c);
        p.script["EHLO"] = {k.ehlo};
        if (!k.reply.empty()) p.script["AUTH"] = {k.reply};
        p.deliver(message({"x@b.example", "y@b.example"}));
        p.greet();
        BOOST_REQUIRE(p.done.size() == 1u);
        BOOST_TEST(outcomes(p.done[0]) == k.expect + k.expect);
        BOOST_TEST(p.done[0].connection_level);
        BOOST_TEST(p.sent_command("AUTH") == k.auth_sent);
        BOOST_TEST(!p.sent_command("MAIL"));
        BOOST_TEST(p.commands.back() == "QUIT");
    }
}

BOOST_AUTO_TEST_CASE(credentials_are_never_sent_without_tls) {
    ClientConfig c;
    c.credentials = smtp::ClientCredentials{"user", "secret"};
    Peer p(c);
    p.script["EHLO"] = {ehlo_after_tls};  // offers AUTH but not STARTTLS
    p.deliver(message({"x@b.example"}));
    p.greet();
    BOOST_TEST(!p.sent_command("AUTH"));
    BOOST_TEST(p.sent.find("c2VjcmV0") == std::string::npos);
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(p.done[0].connection_level);
    BOOST_TEST(outcomes(p.done[0]) == "T");
}

// ---------------------------------------------------------------- extensions and the message

BOOST_AUTO_TEST_CASE(dot_stuffing_and_final_crlf) {
    Peer p;
    p.greet();
    p.deliver(message({"x@b.example"}, "Subject: dots\r\n\r\n.\r\n..\r\n.x\r\nlast line"));
    BOOST_TEST(p.sent.find("\r\n\r\n..\r\n...\r\n..x\r\nlast line\r\n.\r\n") != std::string::npos);
    BOOST_TEST((p.data_lines == std::vector<std::string>{"Subject: dots", "", "..", "...", "..x",
                                                         "last line"}));
    BOOST_TEST(p.commands[1] == "MAIL FROM:<sender@a.example> SIZE=39");  // 37 + the added CRLF
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(outcomes(p.done[0]) == "D");
}

BOOST_AUTO_TEST_CASE(empty_message_is_just_the_dot) {
    Peer p;
    p.greet();
    p.deliver(message({"x@b.example"}, ""));
    BOOST_TEST(p.sent.find("DATA\r\n.\r\n") != std::string::npos);
    BOOST_TEST(outcomes(p.done.at(0)) == "D");
}

BOOST_AUTO_TEST_CASE(size_over_the_peers_limit_is_refused_locally) {
    Peer p;
    p.script["EHLO"] = {"250-mx\r\n250 SIZE 10"};
    p.greet();
    p.deliver(message({"x@b.example", "y@b.example"}));
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(outcomes(p.done[0]) == "PP");
    BOOST_TEST(p.done[0].recipients[0].reply.code == 552);
    BOOST_TEST(p.done[0].recipients[0].reply.enhanced->to_string() == "5.3.4");
    BOOST_TEST(!p.done[0].recipients[0].from_peer);
    BOOST_TEST(!p.sent_command("MAIL"));
    BOOST_TEST(p.idles == 2);  // after the greeting and after the refusal
}

BOOST_AUTO_TEST_CASE(eight_bit_needs_8bitmime) {
    {
        Peer p;
        p.greet();
        p.deliver(message({"x@b.example"}, "Subject: caf\xc3\xa9\r\n\r\nx\r\n"));
        BOOST_TEST(p.commands[1] == "MAIL FROM:<sender@a.example> SIZE=21 BODY=8BITMIME");
        BOOST_TEST(outcomes(p.done.at(0)) == "D");
    }
    {
        Peer p;
        p.script["EHLO"] = {"250-mx\r\n250 SIZE"};
        p.greet();
        p.deliver(message({"x@b.example"}, "Subject: caf\xc3\xa9\r\n\r\nx\r\n"));
        BOOST_REQUIRE(p.done.size() == 1u);
        BOOST_TEST(p.done[0].recipients[0].reply.code == 554);
        BOOST_TEST(p.done[0].recipients[0].reply.enhanced->to_string() == "5.6.3");
        BOOST_TEST(outcomes(p.done[0]) == "P");
        BOOST_TEST(!p.sent_command("MAIL"));
    }
}

BOOST_AUTO_TEST_CASE(smtputf8_when_offered_else_553) {
    {
        Peer p;
        p.script["EHLO"] = {"250-mx\r\n250-8BITMIME\r\n250 SMTPUTF8"};
        p.greet();
        auto m = message({"x@b.example"});
        m.smtputf8 = true;
        p.deliver(m);
        BOOST_TEST(p.commands[1] == "MAIL FROM:<sender@a.example> SMTPUTF8");
        BOOST_TEST(outcomes(p.done.at(0)) == "D");
    }
    {
        Peer p;
        p.greet();
        auto m = message({"x@b.example"});
        m.smtputf8 = true;
        p.deliver(m);
        BOOST_TEST(p.done.at(0).recipients[0].reply.code == 553);
        BOOST_TEST(p.done.at(0).recipients[0].reply.enhanced->to_string() == "5.6.7");
        BOOST_TEST(!p.sent_command("MAIL"));
    }
}

// ---------------------------------------------------------------- broken peers

BOOST_AUTO_TEST_CASE(malformed_reply_is_connection_level_and_closes) {
    for (std::string bad : std::vector<std::string>{"hello\r\n", "250 ok\n", "2x0 ok\r\n", "250-a\r\n251 b\r\n", "999 no\r\n",
                            std::string(600, 'x') + "\r\n"}) {
        Peer p;
        p.silent.insert("MAIL");
        p.greet();
        p.deliver(message({"x@b.example"}));
        p.put(bad);
        BOOST_REQUIRE(p.done.size() == 1u);
        BOOST_TEST(p.done[0].connection_level);
        BOOST_TEST(outcomes(p.done[0]) == "T");
        BOOST_TEST(!p.done[0].recipients[0].from_peer);
        BOOST_TEST(p.closes == 1);
        BOOST_TEST(p.session->closed());
    }
}

BOOST_AUTO_TEST_CASE(unexpected_reply_code_is_a_protocol_error) {
    Peer p;
    p.script["RCPT"] = {"354 go ahead"};
    p.greet();
    p.deliver(message({"x@b.example"}));
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(p.done[0].connection_level);
    BOOST_TEST(!p.sent_command("DATA"));
    BOOST_TEST(p.data_lines.empty());
    BOOST_TEST(p.closes == 1);
}

BOOST_AUTO_TEST_CASE(unsolicited_data_while_idle_closes) {
    Peer p;
    p.greet();
    p.put("250 surprise\r\n");
    BOOST_TEST(p.closes == 1);
    p.deliver(message({"x@b.example"}));
    BOOST_TEST(p.done.at(0).connection_level);
}

BOOST_AUTO_TEST_CASE(plaintext_behind_the_starttls_220_is_never_used) {
    Peer p;
    p.script["EHLO"] = {ehlo_starttls};
    p.script["STARTTLS"] = {"220 go\r\n250-injected\r\n250 AUTH PLAIN"};
    p.deliver(message({"x@b.example"}));
    p.greet();
    BOOST_TEST(p.tls_starts == 0);
    BOOST_TEST(p.closes == 1);
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(p.done[0].connection_level);
}

BOOST_AUTO_TEST_CASE(reply_421_mid_transaction_fails_unfinished_recipients) {
    Peer p;
    p.script["RCPT"] = {"550 5.1.1 unknown", "421 4.3.2 shutting down"};
    p.greet();
    p.deliver(message({"x@b.example", "y@b.example"}));
    p.deliver(message({"z@b.example"}));
    BOOST_REQUIRE(p.done.size() == 2u);
    BOOST_TEST(outcomes(p.done[0]) == "PT");
    BOOST_TEST(p.done[0].connection_level);
    BOOST_TEST(p.done[0].recipients[1].reply.code == 421);
    BOOST_TEST(p.done[0].recipients[1].from_peer);
    BOOST_TEST(outcomes(p.done[1]) == "T");
    BOOST_TEST(p.closes == 1);
    BOOST_TEST(!p.sent_command("QUIT"));
}

// End of input and timeout at every wait: unfinished recipients transient, connection-level;
// maybe_delivered exactly when the "." went out and its reply did not come.
BOOST_AUTO_TEST_CASE(eof_and_timeout_at_every_wait) {
    struct Wait {
        std::string silent_verb, waiting_for;
        bool maybe;
    };
    const std::vector<Wait> waits = {{"", "greeting", false},   {"EHLO", "EHLO", false},
                                     {"STARTTLS", "STARTTLS", false}, {"AUTH", "AUTH", false},
                                     {"MAIL", "MAIL", false},   {"RCPT", "RCPT", false},
                                     {"DATA", "DATA", false},   {".", "end of data", true},
                                     {"RSET", "RSET", false}};
    for (bool timeout : {false, true}) {
        for (const auto& w : waits) {
            BOOST_TEST_CONTEXT((timeout ? "timeout at " : "eof at ") << w.waiting_for) {
                ClientConfig c;
                if (w.silent_verb == "AUTH") c.credentials = smtp::ClientCredentials{"u", "p"};
                Peer p(c);
                if (w.silent_verb == "STARTTLS" || w.silent_verb == "AUTH")
                    p.script["EHLO"] = {ehlo_starttls, ehlo_after_tls};
                if (w.silent_verb == "RSET") p.script["MAIL"] = {"451 4.3.0 later", "250 ok"};
                if (!w.silent_verb.empty()) p.silent.insert(w.silent_verb);
                if (w.silent_verb == "RSET") {
                    p.greet();
                    p.deliver(message({"w@b.example"}));  // fails at MAIL: RSET before the next
                }
                p.deliver(message({"x@b.example", "y@b.example"}));
                if (!w.silent_verb.empty() && w.silent_verb != "RSET") p.greet();
                BOOST_TEST(p.session->waiting_for() == w.waiting_for);
                const std::size_t before = p.done.size();
                if (timeout)
                    p.event(smtp::ClientTimeout{});
                else
                    p.eof();
                BOOST_REQUIRE(p.done.size() == before + 1);
                const auto& r = p.done.back();
                BOOST_TEST(outcomes(r) == "TT");
                BOOST_TEST(r.connection_level);
                BOOST_TEST(r.maybe_delivered == w.maybe);
                BOOST_TEST(!r.recipients[0].from_peer);
                BOOST_TEST(r.recipients[0].stage == w.waiting_for);
                BOOST_TEST(p.closes == 1);
                BOOST_TEST(p.session->closed());
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(timeout_in_the_tls_handshake_fails_the_connection) {
    Peer p;
    p.answer_tls = false;
    p.script["EHLO"] = {ehlo_starttls};
    p.deliver(message({"x@b.example"}));
    p.greet();
    BOOST_TEST(p.session->waiting_for() == "TLS handshake");
    BOOST_TEST(p.tls_starts == 1);
    p.tls = true;
    p.event(smtp::ClientTlsReady{});
    BOOST_TEST(outcomes(p.done.at(0)) == "D");
    Peer q;
    q.answer_tls = false;
    q.script["EHLO"] = {ehlo_starttls};
    q.deliver(message({"x@b.example"}));
    q.greet();
    q.event(smtp::ClientTimeout{});
    BOOST_REQUIRE(q.done.size() == 1u);
    BOOST_TEST(q.done[0].connection_level);
    BOOST_TEST(q.done[0].recipients[0].stage == "TLS");
    BOOST_TEST(q.closes == 1);
}

BOOST_AUTO_TEST_CASE(byte_by_byte_replies_give_the_same_result) {
    Peer p;
    p.script["EHLO"] = {ehlo_pipelining};
    p.silent.insert("MAIL");
    p.greet();
    p.deliver(message({"x@b.example", "y@b.example"}));
    const std::string replies = "250 ok\r\n250-a\r\n250 b\r\n550 5.1.1 no\r\n354 go\r\n";
    for (char ch : replies) p.put(std::string(1, ch));
    p.put("250 queued\r\n");
    BOOST_REQUIRE(p.done.size() == 1u);
    BOOST_TEST(outcomes(p.done[0]) == "DP");
}

BOOST_AUTO_TEST_CASE(trace_shows_state_changes) {
    Peer p;
    p.greet();
    bool seen = false;
    for (const auto& t : p.trace) seen = seen || t == "state: AwaitGreeting -> AwaitEhlo";
    BOOST_TEST(seen);
}

BOOST_AUTO_TEST_SUITE_END()
