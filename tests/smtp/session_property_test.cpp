// Properties of the session: arbitrary input never breaks it, and a model of each role's
// machine predicts every reply code (rc::state; a shrunk failure prints as an SMTP transcript).
#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>
#include <rapidcheck/state.h>

#include "core/reply.hpp"
#include "support/session_driver.hpp"

using pigeon::smtp::Role;
using pigeon::smtp::SessionConfig;
using pigeon::test::SessionDriver;

namespace {

// Every byte the server sends must be a sequence of well-formed replies (RFC 5321 4.2).
void check_wellformed_output(const std::string& output) {
    std::string_view rest(output);
    pigeon::core::ReplyParser parser;
    while (!rest.empty()) {
        auto used = parser.put(rest);
        RC_ASSERT(!parser.failed());
        RC_ASSERT(used > 0u);
        rest.remove_prefix(used);
        RC_ASSERT(parser.done());
        parser.reset();
    }
}

// Bytes that look a lot like SMTP, so random streams reach deep states.
rc::Gen<std::string> smtp_ish_chunk() {
    return rc::gen::oneOf(
        rc::gen::element<std::string>(
            "EHLO a.example\r\n", "HELO a.example\r\n", "MAIL FROM:<a@b.example>\r\n",
            "MAIL FROM:<>\r\n", "RCPT TO:<c@d.example>\r\n", "DATA\r\n", ".\r\n", "\r\n.\r\n",
            "RSET\r\n", "NOOP\r\n", "STARTTLS\r\n", "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
            "AUTH LOGIN\r\n", "YWxpY2U=\r\n", "*\r\n", "\n.\n", "\r", "\n", ".", "QUIT\r\n",
            "VRFY x\r\n", "BDAT 10\r\n", "MAIL FROM:<a@b.example> SIZE=99999999999\r\n"),
        rc::gen::string<std::string>());
}

void run_random_stream(Role role, bool tls_available, bool tls_active,
                       const std::vector<std::string>& chunks, bool answer_tls) {
    SessionConfig c;
    c.role = role;
    c.tls_available = tls_available;
    c.tls_active = tls_active;
    SessionDriver d(c);
    for (const auto& chunk : chunks) {
        d.send_raw(chunk);
        if (answer_tls && d.tls_starts > 0 && d.session().state() == std::string_view("TlsHandshake"))
            d.event(pigeon::smtp::TlsReady{});
        if (d.closed) break;
    }
    d.eof();
    RC_ASSERT(d.closed);
    check_wellformed_output(d.output);
}

// ---------------------------------------------------------------- the model

struct Model {
    enum class Phase { connected, greeted, mail, rcpt } phase = Phase::connected;
    Role role = Role::inbound;
    bool tls = false;            // TLS active
    bool tls_available = false;  // a certificate: STARTTLS can be offered
    bool authed = false;
    std::size_t rcpts = 0;
    std::size_t max_recipients = 3;
    std::size_t queued = 0;
    bool in_tx() const { return phase == Phase::mail || phase == Phase::rcpt; }
    bool may_transact() const { return role == Role::inbound || authed; }
};

using Cmd = rc::state::Command<Model, SessionDriver>;

// Exactly one reply (RFC 5321 4.2: "ddd-" continuation lines, then one "ddd " line) with the
// expected code: a command answered twice is as wrong as one answered with the wrong code.
void expect(const std::vector<std::string>& reply, const std::string& code) {
    RC_ASSERT(!reply.empty());
    for (std::size_t i = 0; i < reply.size(); ++i) {
        RC_ASSERT(reply[i].size() >= 4u);
        RC_ASSERT(reply[i].substr(0, 3) == code);
        RC_ASSERT(reply[i][3] == (i + 1 == reply.size() ? ' ' : '-'));
    }
}

struct Ehlo : Cmd {
    void apply(Model& m) const override { m.phase = Model::Phase::greeted; m.rcpts = 0; }
    void run(const Model&, SessionDriver& d) const override { expect(d.send("EHLO c.example"), "250"); }
    void show(std::ostream& os) const override { os << "EHLO c.example"; }
};

struct Helo : Cmd {
    void apply(Model& m) const override { m.phase = Model::Phase::greeted; m.rcpts = 0; }
    void run(const Model&, SessionDriver& d) const override { expect(d.send("HELO c.example"), "250"); }
    void show(std::ostream& os) const override { os << "HELO c.example"; }
};

struct Mail : Cmd {
    static std::string expected(const Model& m) {
        if (m.phase == Model::Phase::connected || m.in_tx()) return "503";
        if (!m.may_transact()) return "530";
        return "250";
    }
    void apply(Model& m) const override {
        if (expected(m) == "250") { m.phase = Model::Phase::mail; m.rcpts = 0; }
    }
    void run(const Model& m, SessionDriver& d) const override {
        expect(d.send("MAIL FROM:<a@b.example>"), expected(m));
    }
    void show(std::ostream& os) const override { os << "MAIL FROM:<a@b.example>"; }
};

struct Rcpt : Cmd {
    bool good = *rc::gen::arbitrary<bool>();  // the test policy rejects local part "nobody"
    std::string expected(const Model& m) const {
        if (!m.in_tx()) return "503";
        if (m.rcpts >= m.max_recipients) return "452";
        return good ? "250" : "550";
    }
    void apply(Model& m) const override {
        if (expected(m) == "250") { m.phase = Model::Phase::rcpt; ++m.rcpts; }
    }
    void run(const Model& m, SessionDriver& d) const override {
        expect(d.send(line()), expected(m));
    }
    std::string line() const { return good ? "RCPT TO:<c@d.example>" : "RCPT TO:<nobody@d.example>"; }
    void show(std::ostream& os) const override { os << line(); }
};

struct Data : Cmd {
    std::string body = *rc::gen::container<std::string>(
        rc::gen::element('a', 'b', '.', ' ', '\r', '\n'));
    // Only CRLF line ends: the model is about sequencing; DataReader tests cover bare CR/LF.
    std::string text() const {
        std::string t;
        for (char c : body) {
            if (c == '\r') continue;
            if (c == '\n') t += "\r\n"; else t += c;
        }
        return t;
    }
    static std::string expected(const Model& m) {
        if (m.phase == Model::Phase::rcpt) return "354";
        if (m.phase == Model::Phase::mail) return "554";
        return "503";
    }
    void apply(Model& m) const override {
        if (expected(m) == "354") { m.phase = Model::Phase::greeted; m.rcpts = 0; ++m.queued; }
    }
    void run(const Model& m, SessionDriver& d) const override {
        expect(d.send("DATA"), expected(m));
        if (expected(m) != "354") return;
        std::string t = text();
        std::string wire;
        bool line_start = true;
        for (char c : t) {
            if (line_start && c == '.') wire += '.';
            wire += c;
            line_start = c == '\n';
        }
        if (!t.empty() && t.back() != '\n') wire += "\r\n";
        expect(d.send_raw(wire + ".\r\n"), "250");
        RC_ASSERT(d.queued.size() == m.queued + 1);
        const std::string msg = d.queued.back().message.to_string();
        std::string expected_body = t.empty() || t.back() == '\n' ? t : t + "\r\n";
        RC_ASSERT(msg.size() >= expected_body.size());
        RC_ASSERT(msg.substr(msg.size() - expected_body.size()) == expected_body);
    }
    void show(std::ostream& os) const override { os << "DATA + " << body.size() << " octets"; }
};

struct Rset : Cmd {
    void apply(Model& m) const override {
        if (m.phase != Model::Phase::connected) { m.phase = Model::Phase::greeted; m.rcpts = 0; }
    }
    void run(const Model&, SessionDriver& d) const override { expect(d.send("RSET"), "250"); }
    void show(std::ostream& os) const override { os << "RSET"; }
};

struct Noop : Cmd {
    void run(const Model&, SessionDriver& d) const override { expect(d.send("NOOP"), "250"); }
    void show(std::ostream& os) const override { os << "NOOP"; }
};

struct Garbage : Cmd {
    void run(const Model&, SessionDriver& d) const override { expect(d.send("FROB x"), "500"); }
    void show(std::ostream& os) const override { os << "FROB x"; }
};

struct StartTls : Cmd {
    static std::string expected(const Model& m) {
        if (m.phase != Model::Phase::greeted || m.authed) return "503";
        if (m.tls) return "503";
        if (!m.tls_available) return "454";
        return "220";
    }
    void apply(Model& m) const override {
        if (expected(m) == "220") { m.tls = true; m.phase = Model::Phase::connected; }
    }
    void run(const Model& m, SessionDriver& d) const override {
        expect(d.send("STARTTLS"), expected(m));
        if (expected(m) == "220") RC_ASSERT(d.event(pigeon::smtp::TlsReady{}).empty());
    }
    void show(std::ostream& os) const override { os << "STARTTLS (handshake)"; }
};

struct Auth : Cmd {
    bool good = *rc::gen::arbitrary<bool>();
    std::string expected(const Model& m) const {
        if (m.role == Role::inbound) return m.phase == Model::Phase::greeted ? "502" : "503";
        if (m.phase != Model::Phase::greeted) return "503";
        if (m.authed) return "503";
        if (!m.tls) return "530";
        return good ? "235" : "535";
    }
    void apply(Model& m) const override {
        if (expected(m) == "235") m.authed = true;
    }
    // "\0alice\0secret" and "\0alice\0wrong"
    std::string line() const {
        return good ? "AUTH PLAIN AGFsaWNlAHNlY3JldA==" : "AUTH PLAIN AGFsaWNlAHdyb25n";
    }
    void run(const Model& m, SessionDriver& d) const override { expect(d.send(line()), expected(m)); }
    void show(std::ostream& os) const override { os << line(); }
};

void check_model(Role role, bool tls_available, bool tls_active) {
    Model m;
    m.role = role;
    m.tls_available = tls_available;
    m.tls = tls_active;
    SessionConfig c;
    c.role = role;
    c.tls_available = tls_available;
    c.tls_active = tls_active;
    c.max_recipients = m.max_recipients;
    c.max_errors = 0;  // the error limit has its own unit test; the model is about sequencing
    SessionDriver d(c);
    d.recipient_policy = [](const pigeon::smtp::CheckRecipient& r) {
        pigeon::smtp::Verdict v;
        v.accept = r.recipient.mailbox.local_part() != "nobody";
        return v;
    };
    rc::state::check(m, d,
                     rc::state::gen::execOneOfWithArgs<Ehlo, Helo, Mail, Rcpt, Data, Rset, Noop,
                                                       Garbage, StartTls, Auth>());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(session_properties)

RC_BOOST_PROP(random_streams_never_break_inbound,
              (const std::vector<std::string>& raw, bool tls, bool answer_tls)) {
    auto chunks = *rc::gen::container<std::vector<std::string>>(smtp_ish_chunk());
    chunks.insert(chunks.end(), raw.begin(), raw.end());
    run_random_stream(Role::inbound, tls, false, chunks, answer_tls);
}

RC_BOOST_PROP(random_streams_never_break_submission, (bool tls_active, bool answer_tls)) {
    auto chunks = *rc::gen::container<std::vector<std::string>>(smtp_ish_chunk());
    run_random_stream(Role::submission, true, tls_active, chunks, answer_tls);
}

RC_BOOST_PROP(inbound_model, (bool tls_available)) {
    check_model(Role::inbound, tls_available, false);
}

RC_BOOST_PROP(submission_model, (bool tls_active)) {
    check_model(Role::submission, true, tls_active);
}

BOOST_AUTO_TEST_SUITE_END()
