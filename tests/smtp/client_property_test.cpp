// Properties of the outbound client session against a peer whose reply class at every step is
// drawn at random (success, 4xx, 5xx, 421, malformed, out of sequence, end of input, timeout),
// with PIPELINING on or off and every TLS policy:
//   - exactly one ClientDone per Deliver, in order, with one result per recipient in order;
//   - a recipient is delivered only if its RCPT got 2xx and the reply after "." was 2xx;
//   - no message octet is sent before a 354 (the peer reads every line outside DATA as a command);
//   - under tls=required only EHLO, STARTTLS and QUIT are sent in clear; never AUTH in clear;
//   - every ClientSend ends in CRLF, and every command line is at most 512 octets.
#include <boost/test/unit_test.hpp>
#include <deque>
#include <map>
#include <rapidcheck/boost_test.h>
#include <set>

#include "core/limits.hpp"
#include "smtp/client/session.hpp"

namespace {

using namespace pigeon;
using smtp::ClientTls;

struct Setup {
    ClientTls tls = ClientTls::opportunistic;
    bool tls_active = false;
    bool credentials = false;
    bool pipelining = false, starttls = false, auth = false, login_only = false;
    bool eight_bit_mime = true, smtputf8 = false;
    int size_limit = 0;
};

struct Draw {
    // What the peer does at one step. positive is most likely so that runs reach deep states.
    enum Kind { positive, transient, permanent, closing, garbage, unexpected, eof, timeout };
    static Kind next() {
        const int r = *rc::gen::inRange(0, 100);
        if (r < 72) return positive;
        if (r < 80) return transient;
        if (r < 88) return permanent;
        if (r < 90) return closing;
        if (r < 92) return garbage;
        if (r < 94) return unexpected;
        if (r < 97) return eof;
        return timeout;
    }
};

class RandomPeer {
public:
    Setup setup;
    std::unique_ptr<smtp::ClientSession> session;
    std::vector<std::vector<std::string>> delivered_recipients;  // per Deliver, in order
    std::vector<smtp::TransactionResult> done;
    std::map<std::string, int> rcpt_code;   // address -> code of its RCPT reply (0: none valid)
    std::map<std::string, int> final_code;  // address -> code of the reply after its "."
    std::string sent_in_clear;
    bool tls = false;
    bool idle = false;
    bool tls_asked = false;
    int closes = 0;
    enum class Fate { none, eof, timeout } fate = Fate::none;

    explicit RandomPeer(Setup s, smtp::ClientConfig config) : setup(s) {
        tls = config.tls_active;
        session = smtp::make_client_session(std::move(config));
        process(session->start());
    }

    void process(std::vector<smtp::ClientAction> actions) {
        for (auto& a : actions) {
            if (auto* send = std::get_if<smtp::ClientSend>(&a)) {
                RC_ASSERT(closes == 0);
                RC_ASSERT(send->bytes.size() >= 2u);
                RC_ASSERT(send->bytes.substr(send->bytes.size() - 2) == "\r\n");
                if (!tls) sent_in_clear += send->bytes;
                inbox_ += send->bytes;
            } else if (std::holds_alternative<smtp::ClientStartTls>(a)) {
                RC_ASSERT(!tls);
                tls_asked = true;
            } else if (auto* d = std::get_if<smtp::ClientDone>(&a)) {
                done.push_back(d->result);
            } else if (std::holds_alternative<smtp::ClientIdle>(a)) {
                idle = true;
            } else {
                ++closes;
            }
        }
    }

    // Replies to the complete lines received so far (stops at a drawn eof/timeout).
    std::string answer() {
        std::string replies;
        std::size_t crlf;
        while (fate == Fate::none && (crlf = inbox_.find("\r\n")) != std::string::npos) {
            const std::string line = inbox_.substr(0, crlf);
            inbox_.erase(0, crlf + 2);
            if (in_data_) {
                if (line != ".") continue;
                in_data_ = false;
                replies += reply_to(".", line);
                continue;
            }
            RC_ASSERT(line.size() + 2 <= core::command_line_max_octets);
            std::string verb = line.substr(0, line.find(' '));
            if (sasl_lines_ > 0) {
                --sasl_lines_;
                verb = "SASL";
            } else {
                // Outside DATA only commands arrive: no message octet before a 354.
                static const std::set<std::string> verbs = {"EHLO", "HELO", "STARTTLS", "AUTH", "MAIL",
                                                            "RCPT", "DATA", "RSET", "QUIT"};
                RC_ASSERT(verbs.count(verb) == 1u);
            }
            replies += reply_to(verb, line);
        }
        return replies;
    }

    std::string greeting() {
        switch (Draw::next()) {
            case Draw::positive: return "220-mx.b.example\r\n220 ESMTP\r\n";
            case Draw::transient: return "450 4.3.2 busy\r\n";
            case Draw::permanent: return "554 5.7.1 no\r\n";
            case Draw::closing: return "421 4.3.2 later\r\n";
            case Draw::garbage: return "hello\r\n";
            case Draw::unexpected: return "250 ok\r\n";
            case Draw::eof: fate = Fate::eof; return "";
            case Draw::timeout: fate = Fate::timeout; return "";
        }
        return "";
    }

private:
    std::string inbox_;
    bool in_data_ = false;
    int sasl_lines_ = 0;
    std::vector<std::string> tx_;  // recipients of the current transaction

    std::string positive_for(const std::string& verb, const std::string& line) {
        if (verb == "EHLO") {
            std::string r = "250-mx.b.example\r\n";
            if (setup.pipelining) r += "250-PIPELINING\r\n";
            if (setup.starttls && !tls) r += "250-STARTTLS\r\n";
            if (setup.auth) r += setup.login_only ? "250-AUTH LOGIN\r\n" : "250-AUTH PLAIN LOGIN\r\n";
            if (setup.eight_bit_mime) r += "250-8BITMIME\r\n";
            if (setup.smtputf8) r += "250-SMTPUTF8\r\n";
            return r + "250 SIZE " + std::to_string(setup.size_limit) + "\r\n";
        }
        if (verb == "STARTTLS") return "220 2.0.0 go\r\n";
        if (verb == "AUTH") {
            if (line == "AUTH LOGIN") {
                sasl_lines_ = 1;
                return "334 VXNlcm5hbWU6\r\n";
            }
            return "235 2.7.0 ok\r\n";
        }
        if (verb == "SASL") {
            if (sasl_lines_ == 0 && login_step_++ == 0) {
                sasl_lines_ = 1;
                return "334 UGFzc3dvcmQ6\r\n";
            }
            return "235 2.7.0 ok\r\n";
        }
        if (verb == "DATA") return "354 go\r\n";
        if (verb == "QUIT") return "221 bye\r\n";
        if (verb == "RCPT") return *rc::gen::element(0, 1) ? "250 ok\r\n" : "251 2.1.5 forwarded\r\n";
        return "250-fine\r\n250 ok\r\n";
    }
    int login_step_ = 0;

    std::string reply_to(const std::string& verb, const std::string& line) {
        if (verb == "MAIL") tx_.clear();
        std::string address;
        if (verb == "RCPT") {
            address = line.substr(8);
            tx_.push_back(address);
        }
        std::string r;
        switch (Draw::next()) {
            case Draw::positive: r = positive_for(verb, line); break;
            case Draw::transient: r = "451 4.3.0 later\r\n"; break;
            case Draw::permanent: r = verb == "EHLO" ? "502 5.5.2 no\r\n" : "554 5.7.1 no\r\n"; break;
            case Draw::closing: r = "421 4.3.2 bye\r\n"; break;
            case Draw::garbage: r = "2.0 what\r\n"; break;
            case Draw::unexpected: r = verb == "DATA" ? "250 ok\r\n" : "354 go\r\n"; break;
            case Draw::eof: fate = Fate::eof; break;
            case Draw::timeout: fate = Fate::timeout; break;
        }
        const int code = r.size() >= 3 && r[0] >= '2' && r[0] <= '5' && r[1] >= '0' && r[1] <= '9' &&
                                 r[2] >= '0' && r[2] <= '9'
                             ? std::stoi(r.substr(0, 3))
                             : 0;
        if (verb == "RCPT") rcpt_code[address] = code;
        if (verb == "DATA" && code == 354) in_data_ = true;
        if (verb == ".")
            for (const auto& a : tx_) final_code[a] = code;
        // Any 3xx to AUTH is a challenge to the client (RFC 4954 4): one response line follows.
        if (verb == "SASL" || verb == "AUTH") sasl_lines_ = code >= 300 && code < 400 ? 1 : 0;
        return r;
    }
};

smtp::ClientMessage random_message(int& next_address, bool smtputf8) {
    smtp::ClientMessage m;
    m.reverse_path = core::Path::of(core::Mailbox::parse("s@a.example").value());
    const int n = *rc::gen::inRange(0, 4);
    for (int i = 0; i < n; ++i)
        m.recipients.push_back(core::Path::of(
            core::Mailbox::parse("r" + std::to_string(next_address++) + "@b.example").value()));
    // Lines from a small alphabet that includes dots, so stuffing matters; "B" starts none of
    // the command verbs, so a body line outside DATA is caught by the peer.
    std::string body;
    const int lines = *rc::gen::inRange(0, 5);
    for (int i = 0; i < lines; ++i) {
        body += *rc::gen::element<std::string>("B", ".", "..", ".B", "B.", "", "B\xc3\xa9");
        if (i + 1 < lines || *rc::gen::arbitrary<bool>()) body += "\r\n";
    }
    if (body.empty() || body[0] != '.') body = "B" + body;
    m.message = std::make_shared<const std::string>(body);
    m.smtputf8 = smtputf8;
    return m;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(client_property)

RC_BOOST_PROP(every_deliver_gets_one_honest_done, ()) {
    Setup s;
    s.tls = *rc::gen::element(ClientTls::none, ClientTls::opportunistic, ClientTls::required);
    s.tls_active = *rc::gen::inRange(0, 4) == 0;
    s.credentials = *rc::gen::arbitrary<bool>();
    s.pipelining = *rc::gen::arbitrary<bool>();
    s.starttls = *rc::gen::inRange(0, 4) != 0;
    s.auth = *rc::gen::inRange(0, 4) != 0;
    s.login_only = *rc::gen::arbitrary<bool>();
    s.eight_bit_mime = *rc::gen::inRange(0, 4) != 0;
    s.smtputf8 = *rc::gen::arbitrary<bool>();
    s.size_limit = *rc::gen::element(0, 0, 20, 100000);

    smtp::ClientConfig config;
    config.hostname = "client.a.example";
    config.tls = s.tls;
    config.tls_active = s.tls_active;
    if (s.credentials) config.credentials = smtp::ClientCredentials{"user", "secret"};
    RandomPeer peer(s, config);

    int next_address = 0;
    std::deque<smtp::ClientMessage> later;
    const int before = *rc::gen::inRange(0, 3), after = *rc::gen::inRange(0, 3);
    std::vector<smtp::ClientMessage> all;
    for (int i = 0; i < before + after; ++i) all.push_back(random_message(next_address, *rc::gen::inRange(0, 5) == 0));
    auto deliver = [&](const smtp::ClientMessage& m) {
        std::vector<std::string> rcpts;
        for (const auto& r : m.recipients) rcpts.push_back(r.to_string());
        peer.delivered_recipients.push_back(rcpts);
        peer.process(peer.session->on(smtp::Deliver{m}));
    };
    for (int i = 0; i < before; ++i) deliver(all[i]);
    for (int i = before; i < before + after; ++i) later.push_back(all[i]);

    peer.process(peer.session->put(peer.greeting()));
    bool quit_given = false;
    for (int steps = 0; steps < 500 && !peer.session->closed(); ++steps) {
        if (peer.tls_asked) {
            peer.tls_asked = false;
            const int r = *rc::gen::inRange(0, 10);
            if (r < 8) {
                peer.tls = true;
                peer.process(peer.session->on(smtp::ClientTlsReady{}));
            } else if (r < 9) {
                peer.process(peer.session->on(smtp::ClientTlsFailed{"alert"}));
            } else {
                peer.process(peer.session->on(smtp::ClientTimeout{}));
            }
            continue;
        }
        const std::string replies = peer.answer();
        if (!replies.empty()) {
            peer.process(peer.session->put(replies));
            continue;
        }
        if (peer.fate != RandomPeer::Fate::none) {
            const auto fate = std::exchange(peer.fate, RandomPeer::Fate::none);
            peer.process(fate == RandomPeer::Fate::eof ? peer.session->put_eof()
                                                       : peer.session->on(smtp::ClientTimeout{}));
            continue;
        }
        if (peer.idle && !later.empty()) {
            peer.idle = false;
            deliver(later.front());
            later.pop_front();
            continue;
        }
        if (peer.idle && !quit_given) {
            peer.idle = false;
            quit_given = true;
            peer.process(peer.session->on(smtp::Quit{}));
            continue;
        }
        peer.process(peer.session->put_eof());  // the session waits for something: hang up
    }
    RC_ASSERT(peer.session->closed());
    while (!later.empty()) {  // given after the end: answered at once
        deliver(later.front());
        later.pop_front();
    }

    // Exactly one ClientDone per Deliver, in order, one result per recipient, in order.
    RC_ASSERT(peer.done.size() == peer.delivered_recipients.size());
    for (std::size_t i = 0; i < peer.done.size(); ++i) {
        const auto& r = peer.done[i];
        RC_ASSERT(r.recipients.size() == peer.delivered_recipients[i].size());
        for (std::size_t j = 0; j < r.recipients.size(); ++j) {
            const std::string address = r.recipients[j].recipient.to_string();
            RC_ASSERT(address == peer.delivered_recipients[i][j]);
            if (r.recipients[j].outcome == smtp::Outcome::delivered) {
                RC_ASSERT(peer.rcpt_code.count(address) == 1u);
                RC_ASSERT(peer.rcpt_code[address] >= 200 && peer.rcpt_code[address] < 300);
                RC_ASSERT(peer.final_code.count(address) == 1u);
                RC_ASSERT(peer.final_code[address] >= 200 && peer.final_code[address] < 300);
                RC_ASSERT(!r.connection_level);
            }
        }
        if (r.maybe_delivered) RC_ASSERT(r.connection_level);
    }
    RC_ASSERT(peer.closes == 1);

    // What went out in clear.
    std::string_view clear(peer.sent_in_clear);
    while (!clear.empty()) {
        const auto crlf = clear.find("\r\n");
        RC_ASSERT(crlf != std::string_view::npos);
        const std::string line(clear.substr(0, crlf));
        clear.remove_prefix(crlf + 2);
        RC_ASSERT(line.rfind("AUTH", 0) == std::string::npos);
        if (s.tls == ClientTls::required)
            RC_ASSERT(line.rfind("EHLO ", 0) == 0 || line == "STARTTLS" || line == "QUIT");
    }
}

BOOST_AUTO_TEST_SUITE_END()
