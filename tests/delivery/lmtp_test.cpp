// delivery/lmtp.hpp: the blocking LMTP driver over a scripted store connection (a fake
// LmtpConnection with a fake clock): one LHLO for many messages, replies per recipient, a
// connection that cannot be made, a store that stops answering (the reply timeout), a store
// that closes, and QUIT after the idle bound. Real sockets and a real Dovecot:
// tests/integration/test_lmtp.py.
#include "delivery/lmtp.hpp"

#include <boost/test/unit_test.hpp>
#include <deque>
#include <memory>

using namespace pigeon;
using namespace std::chrono_literals;
using Read = delivery::LmtpConnection::Read;
using ReadStatus = delivery::LmtpConnection::ReadStatus;

namespace {

// The store's side: answers each complete command line (and the data's final ".").
struct Store {
    std::string received;                 // every octet written to it
    std::vector<std::string> lines;       // command lines (data lines excluded)
    std::deque<std::string> out;          // replies not yet read
    bool in_data = false, silent_after_data = false, close_after_data = false, closed = false;
    int connections = 0;
    int rcpts = 0;                        // RCPTs of the current transaction
    std::string pending;
    std::chrono::steady_clock::time_point* clock = nullptr;

    void take(std::string_view bytes) {
        received += bytes;
        pending += bytes;
        std::size_t crlf;
        while ((crlf = pending.find("\r\n")) != std::string::npos) {
            const std::string line = pending.substr(0, crlf);
            pending.erase(0, crlf + 2);
            if (in_data) {
                if (line != ".") continue;
                in_data = false;
                if (close_after_data) { closed = true; continue; }
                if (silent_after_data) continue;
                for (int i = 0; i < rcpts; ++i) out.push_back("250 2.0.0 Saved\r\n");  // one per RCPT
                continue;
            }
            lines.push_back(line);
            if (line.rfind("LHLO", 0) == 0) out.push_back("250-store\r\n250-8BITMIME\r\n250 PIPELINING\r\n");
            else if (line.rfind("MAIL", 0) == 0) { rcpts = 0; out.push_back("250 2.1.0 Ok\r\n"); }
            else if (line.rfind("RCPT", 0) == 0) { ++rcpts; out.push_back("250 2.1.5 Ok\r\n"); }
            else if (line == "DATA") { out.push_back("354 go\r\n"); in_data = true; }
            else if (line == "QUIT") { out.push_back("221 2.0.0 Bye\r\n"); }
            else out.push_back("250 2.0.0 Ok\r\n");
        }
    }
};

class FakeConnection final : public delivery::LmtpConnection {
public:
    explicit FakeConnection(Store& s) : s_(s) { s_.out.push_back("220 store LMTP ready\r\n"); }
    bool write(std::string_view bytes, std::chrono::milliseconds, std::string& error) override {
        if (s_.closed) { error = "Broken pipe"; return false; }
        s_.take(bytes);
        return true;
    }
    Read read(std::chrono::milliseconds timeout) override {
        Read r;
        if (!s_.out.empty()) {
            r.status = ReadStatus::data;
            r.bytes = s_.out.front();
            s_.out.pop_front();
            return r;
        }
        if (s_.closed) { r.status = ReadStatus::eof; return r; }
        *s_.clock += timeout;  // nothing comes: the whole wait passes
        r.status = ReadStatus::timeout;
        return r;
    }
private:
    Store& s_;
};

struct Fixture {
    Store store;
    std::chrono::steady_clock::time_point now{};
    bool refuse = false;
    delivery::LmtpOptions options() {
        delivery::LmtpOptions o;
        o.hostname = "mx.pigeon.example";
        o.reply_timeout = 5s;
        o.data_timeout = 10s;
        o.idle_timeout = 30s;
        o.now = [this] { return now; };
        return o;
    }
    delivery::LmtpConnector connector() {
        return [this](const config::LmtpEndpoint&, std::chrono::milliseconds, std::string& error)
                   -> std::unique_ptr<delivery::LmtpConnection> {
            if (refuse) { error = "Connection refused"; return nullptr; }
            ++store.connections;
            store.closed = false;
            store.lines.clear();
            store.clock = &now;
            return std::make_unique<FakeConnection>(store);
        };
    }
    config::LmtpEndpoint endpoint() { return config::parse_lmtp_endpoint("unix:/run/dovecot/lmtp").value(); }
};

smtp::ClientMessage message(std::vector<std::string> to) {
    smtp::ClientMessage m;
    m.reverse_path = core::Path::of(core::Mailbox::parse("a@remote.example").value());
    for (const auto& t : to) m.recipients.push_back(core::Path::of(core::Mailbox::parse(t).value()));
    m.message = std::make_shared<const std::string>("Subject: x\r\n\r\n.dot\r\n");
    return m;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lmtp_driver)

BOOST_AUTO_TEST_CASE(one_session_carries_several_messages) {
    Fixture f;
    delivery::LmtpClient client(f.endpoint(), f.options(), f.connector());
    auto r1 = client.deliver(message({"bob@store.example", "carol@store.example"}));
    BOOST_REQUIRE(r1.recipients.size() == 2u);
    BOOST_TEST((r1.recipients[0].outcome == smtp::Outcome::delivered));
    BOOST_TEST((r1.recipients[1].outcome == smtp::Outcome::delivered));
    BOOST_TEST(f.store.lines.front() == "LHLO mx.pigeon.example");
    BOOST_TEST(f.store.received.find("\r\n..dot\r\n.\r\n") != std::string::npos);  // dot-stuffed
    f.now += 10s;
    f.store.lines.clear();
    auto r2 = client.deliver(message({"bob@store.example"}));
    BOOST_TEST((r2.recipients.at(0).outcome == smtp::Outcome::delivered));
    BOOST_TEST(f.store.connections == 1);          // the same session
    BOOST_TEST(client.connections_made() == 1u);
    BOOST_TEST(f.store.lines.front().rfind("MAIL FROM:", 0) == 0u);  // no second LHLO
}

BOOST_AUTO_TEST_CASE(a_refused_connection_defers_every_recipient) {
    Fixture f;
    f.refuse = true;
    delivery::LmtpClient client(f.endpoint(), f.options(), f.connector());
    auto r = client.deliver(message({"bob@store.example", "carol@store.example"}));
    BOOST_REQUIRE(r.recipients.size() == 2u);
    for (const auto& rr : r.recipients) {
        BOOST_TEST((rr.outcome == smtp::Outcome::transient));
        BOOST_TEST(rr.stage == "connect");
        BOOST_TEST(rr.reply.lines.at(0).find("Connection refused") != std::string::npos);
    }
    BOOST_TEST(r.connection_level);
    BOOST_TEST(!client.connected());
}

BOOST_AUTO_TEST_CASE(a_store_that_stops_answering_times_out) {
    Fixture f;
    f.store.silent_after_data = true;
    delivery::LmtpClient client(f.endpoint(), f.options(), f.connector());
    const auto start = f.now;
    auto r = client.deliver(message({"bob@store.example"}));
    BOOST_TEST((r.recipients.at(0).outcome == smtp::Outcome::transient));
    BOOST_TEST(r.maybe_delivered);
    BOOST_TEST(r.recipients[0].reply.lines.at(0) == "Timeout waiting for the end of data reply");
    BOOST_TEST((f.now - start == 10s));  // data_timeout, once
    BOOST_TEST(!client.connected());
    // The next message opens a new session.
    f.store.silent_after_data = false;
    auto again = client.deliver(message({"bob@store.example"}));
    BOOST_TEST((again.recipients.at(0).outcome == smtp::Outcome::delivered));
    BOOST_TEST(f.store.connections == 2);
}

BOOST_AUTO_TEST_CASE(a_store_that_closes_mid_transaction_defers) {
    Fixture f;
    f.store.close_after_data = true;
    delivery::LmtpClient client(f.endpoint(), f.options(), f.connector());
    auto r = client.deliver(message({"bob@store.example"}));
    BOOST_TEST((r.recipients.at(0).outcome == smtp::Outcome::transient));
    BOOST_TEST(!client.connected());
}

BOOST_AUTO_TEST_CASE(an_idle_session_is_closed_with_quit) {
    Fixture f;
    delivery::LmtpClient client(f.endpoint(), f.options(), f.connector());
    (void)client.deliver(message({"bob@store.example"}));
    BOOST_TEST(client.connected());
    f.now += 29s;
    client.close_idle();
    BOOST_TEST(client.connected());
    f.now += 1s;
    client.close_idle();
    BOOST_TEST(!client.connected());
    BOOST_TEST(f.store.lines.back() == "QUIT");
}

BOOST_AUTO_TEST_SUITE_END()
