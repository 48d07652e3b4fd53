// Tests for delivery/outbound.hpp: the outbound engine over an in-memory runtime (virtual time,
// in-memory peers), a zone-file resolver and a MemoryStorage spool. Every peer is either a
// scripted one (smtp-sink style) or a real Pigeon inbound session, with TLS through Botan.
#include "delivery/outbound.hpp"

#include <botan/auto_rng.h>
#include <botan/hash.h>
#include <botan/hex.h>
#include <botan/pkcs8.h>
#include <botan/x509_ca.h>
#include <botan/x509self.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>

#include "dns/zone_resolver.hpp"
#include "queue/memory_storage.hpp"
#include "queue/spool_fixtures.hpp"
#include "support/memory_network.hpp"
#include "tls/credentials.hpp"
#include "tls/dane.hpp"
#include "tls/pkix.hpp"

namespace delivery = pigeon::delivery;
namespace queue = pigeon::queue;
namespace smtp = pigeon::smtp;
namespace dns = pigeon::dns;
namespace tls = pigeon::tls;
using pigeon::test::MemoryRuntime;
using pigeon::test::RuntimeClock;
using pigeon::test::ScriptedPeer;
using pigeon::test::SeededRandom;
using pigeon::test::SessionPeer;

namespace {

constexpr std::int64_t t0 = 1795000000;

const char* zone_text = R"(
$ORIGIN test.
example.org.      MX 10 mx.example.org.
mx.example.org.   A  192.0.2.10
backup.org.       MX 10 mx1.backup.org.
backup.org.       MX 20 mx2.backup.org.
mx1.backup.org.   A  192.0.2.21
mx2.backup.org.   A  192.0.2.22
nullmx.org.       MX 0 .
implicit.org.     A  192.0.2.30
xn--bcher-kva.example. MX 10 mx.example.org.
relay.example.    A  192.0.2.60
)";

// A key and self-signed certificate for an in-memory peer, and its TLSA 3 1 1 data (SHA-256
// of the SubjectPublicKeyInfo) in hex.
struct PeerCertificate {
    pigeon::test::TempDir dir;
    std::shared_ptr<tls::TlsContext> context;
    std::string spki_sha256_hex;
    explicit PeerCertificate(const std::string& hostname) {
        const auto cert = (dir.path() / "cert.pem").string(), key = (dir.path() / "key.pem").string();
        tls::generate_self_signed(hostname, cert, key);
        context = tls::TlsContext::from_pem_files(cert, key);
        const std::string data = tls::tlsa_data(context->certificate_chain().at(0), 1, 1);
        spki_sha256_hex = Botan::hex_encode(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
    }
};

// One engine with everything it needs, on virtual time.
struct World {
    MemoryRuntime runtime;
    RuntimeClock clock{runtime, t0};
    SeededRandom random{7};
    queue::MemoryStorage storage;
    std::unique_ptr<queue::Spool> spool;
    dns::ZoneResolver resolver;
    delivery::OutboundOptions options;
    std::unique_ptr<delivery::OutboundEngine> engine;
    std::vector<std::string> log;
    std::vector<std::string> queued;  // on_queued ids (DSNs)
    pigeon::core::FixedClock peer_clock{t0};  // for in-memory Pigeon peers

    explicit World(std::string zone = zone_text)
        : resolver(dns::ZoneResolver::parse(zone).value()) {
        spool = std::make_unique<queue::Spool>(storage, clock, random);
        BOOST_REQUIRE(spool->recover().ok());
        options.hostname = "out.pigeon.test";
        options.our_names = {"out.pigeon.test"};
        options.is_remote = [](const pigeon::core::Path& p) {
            return p.kind == pigeon::core::Path::Kind::mailbox &&
                   p.mailbox.domain().lowercase() != "pigeon.test";
        };
        options.log = [this](std::string_view l) { log.emplace_back(l); };
        options.on_queued = [this](const std::string& id) { queued.push_back(id); };
        options.tls_context = tls::TlsContext::client_only();
    }

    void start() {
        engine = std::make_unique<delivery::OutboundEngine>(options, *spool, clock, random, resolver,
                                                            runtime);
        engine->start();
    }

    std::string submit(const std::string& from, const std::vector<std::string>& to,
                       const std::string& body = "Subject: hi\r\n\r\nHello.\r\n") {
        queue::Submission s;
        s.envelope = pigeon::test::make_envelope(from, to);
        s.message = std::make_shared<const std::string>(body);
        auto id = spool->commit(std::move(s));
        BOOST_REQUIRE(id.ok());
        if (engine) engine->notify(*id);
        return *id;
    }

    // Runs until nothing is left to do before `seconds` of virtual time from now.
    void run_for(std::int64_t seconds) { runtime.run(runtime.now_ms + seconds * 1000); }

    // Every line the client sessions trace (commands, replies, states), in order; call
    // before start().
    std::shared_ptr<std::vector<std::string>> record_trace() {
        auto lines = std::make_shared<std::vector<std::string>>();
        options.trace = [lines](std::string_view, std::string_view line) { lines->emplace_back(line); };
        return lines;
    }

    std::string all_log() const {
        std::string s;
        for (const auto& l : log) s += l + "\n";
        return s;
    }

    // The one DSN the engine queued, as text (the test fails unless there is exactly one).
    std::string only_dsn() {
        BOOST_REQUIRE_EQUAL(queued.size(), 1u);
        auto dsn = spool->show(queued[0]);
        BOOST_REQUIRE(dsn.ok());
        return dsn->message;
    }

    // A real Pigeon inbound session at address:25, with STARTTLS over `tls`; returns what it
    // enqueues.
    std::shared_ptr<std::vector<smtp::Enqueue>> listen_pigeon(const std::string& address,
                                                              const std::string& hostname,
                                                              std::shared_ptr<tls::TlsContext> tls) {
        auto enqueued = std::make_shared<std::vector<smtp::Enqueue>>();
        runtime.listeners[address + ":25"] = [this, hostname, tls, enqueued] {
            return std::make_unique<SessionPeer>(hostname, peer_clock, tls, enqueued);
        };
        return enqueued;
    }

    std::shared_ptr<ScriptedPeer> listen(const std::string& address,
                                         std::function<void(ScriptedPeer&)> setup = {}) {
        auto proto = std::make_shared<ScriptedPeer>();
        if (setup) setup(*proto);
        runtime.listeners[address + ":25"] = [proto] { return std::make_unique<ScriptedPeer>(*proto); };
        return proto;  // copies share commands/messages with it
    }
};

const queue::MessageSummary* find(const std::vector<queue::MessageSummary>& list,
                                  const std::string& id) {
    for (const auto& m : list)
        if (m.id == id) return &m;
    return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(outbound)

BOOST_AUTO_TEST_CASE(delivers_to_the_mx_and_removes_the_message) {
    World w;
    auto peer = w.listen("192.0.2.10");
    w.start();
    const std::string id = w.submit("alice@pigeon.test", {"bob@example.org"},
                                    "Subject: dots\r\n\r\n.leading dot\r\n..two\r\nend\r\n");
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_REQUIRE_EQUAL(peer->messages->size(), 1u);
    BOOST_TEST(peer->messages->at(0) == "Subject: dots\r\n\r\n.leading dot\r\n..two\r\nend\r\n");
    BOOST_TEST(w.spool->size() == 0u);
    BOOST_TEST(w.engine->stats().delivered == 1u);
    BOOST_TEST(w.engine->active_connections() == 0u);
    // MAIL, RCPT and DATA went out together (PIPELINING was offered), then QUIT.
    const auto& c = *peer->commands;
    BOOST_REQUIRE(c.size() >= 4u);
    BOOST_TEST(c[1] .starts_with("MAIL FROM:<alice@pigeon.test>"));
    BOOST_TEST(c[2] == "RCPT TO:<bob@example.org>");
    BOOST_TEST(c.back() == "QUIT");
}

BOOST_AUTO_TEST_CASE(a_refused_primary_mx_falls_back_to_the_next_preference) {
    World w;
    auto peer = w.listen("192.0.2.22");  // mx1 (192.0.2.21) has no listener: refused
    w.start();
    w.submit("alice@pigeon.test", {"carol@backup.org"});
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(peer->messages->size() == 1u);
    BOOST_REQUIRE_EQUAL(w.runtime.connect_log.size(), 2u);
    BOOST_TEST(w.runtime.connect_log[0] == "192.0.2.21:25");
    BOOST_TEST(w.runtime.connect_log[1] == "192.0.2.22:25");
    BOOST_TEST(w.spool->size() == 0u);
}

BOOST_AUTO_TEST_CASE(a_5xx_greeting_is_skipped_like_a_refused_host) {
    World w;
    w.listen("192.0.2.21", [](ScriptedPeer& p) { p.greeting = "554 5.3.2 not now\r\n"; });
    auto good = w.listen("192.0.2.22");
    w.start();
    w.submit("alice@pigeon.test", {"carol@backup.org"});
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(good->messages->size() == 1u);
    BOOST_TEST(w.spool->size() == 0u);
}

BOOST_AUTO_TEST_CASE(implicit_mx_uses_the_domains_own_address) {
    World w;
    w.runtime.listeners["192.0.2.30:25"] = [] { return std::make_unique<ScriptedPeer>(); };
    w.start();
    w.submit("alice@pigeon.test", {"dave@implicit.org"});
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(w.engine->stats().delivered == 1u);
    BOOST_TEST(w.spool->size() == 0u);
}

BOOST_AUTO_TEST_CASE(a_4xx_defers_with_backoff_and_a_later_attempt_succeeds) {
    World w;
    bool greylist = true;
    w.runtime.listeners["192.0.2.10:25"] = [&greylist] {
        auto p = std::make_unique<ScriptedPeer>();
        if (greylist) p->rules = {{"RCPT", "451 4.7.1 greylisted, try later\r\n"}};
        return p;
    };
    w.start();
    const std::string id = w.submit("alice@pigeon.test", {"bob@example.org"});
    w.run_for(10);
    BOOST_TEST_INFO(w.all_log());
    BOOST_REQUIRE_EQUAL(w.spool->size(), 1u);
    auto rec = w.spool->show(id);
    BOOST_REQUIRE(rec.ok());
    const auto& st = rec->entry.status[0];
    BOOST_TEST((st.state == queue::RecipientState::pending));
    BOOST_TEST(st.attempts == 1u);
    BOOST_TEST(st.diagnostic.find("451 4.7.1 greylisted") != std::string::npos);
    const std::int64_t wait = st.next_attempt_unix - w.clock.now_unix_seconds();
    BOOST_TEST(wait >= 270);  // 300 s +-10%
    BOOST_TEST(wait <= 330);
    BOOST_TEST(w.engine->stats().deferred == 1u);

    greylist = false;
    w.run_for(200);  // not yet due: nothing happens
    BOOST_TEST(w.runtime.connects == 1u);
    w.run_for(200);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(w.runtime.connects == 2u);
    BOOST_TEST(w.spool->size() == 0u);
    BOOST_TEST(w.engine->stats().delivered == 1u);
}

BOOST_AUTO_TEST_CASE(a_5xx_fails_the_recipient_and_queues_a_dsn_to_the_sender) {
    World w;
    w.listen("192.0.2.10", [](ScriptedPeer& p) {
        p.rules = {{"RCPT TO:<nobody@", "550 5.1.1 no such user\r\n"}};
    });
    w.start();
    const std::string id =
        w.submit("alice@pigeon.test", {"nobody@example.org", "bob@example.org"});
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(w.engine->stats().delivered == 1u);
    BOOST_TEST(w.engine->stats().failed == 1u);
    BOOST_REQUIRE_EQUAL(w.queued.size(), 1u);
    // The original is gone; the DSN waits for local delivery (alice is local).
    const auto list = w.spool->list();
    BOOST_TEST(find(list, id) == nullptr);
    const auto* dsn = find(list, w.queued[0]);
    BOOST_REQUIRE(dsn != nullptr);
    BOOST_TEST(dsn->sender.is_null());
    BOOST_REQUIRE_EQUAL(dsn->recipients.size(), 1u);
    BOOST_TEST(dsn->recipients[0].path.to_string() == "<alice@pigeon.test>");
    const std::string text = w.only_dsn();
    BOOST_TEST(text.find("report-type=delivery-status") != std::string::npos);
    BOOST_TEST(text.find("Final-Recipient: rfc822; nobody@example.org") != std::string::npos);
    BOOST_TEST(text.find("550 5.1.1 no such user") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_bounce_is_never_bounced) {
    World w;
    w.listen("192.0.2.10", [](ScriptedPeer& p) { p.rules = {{"RCPT", "550 5.1.1 no\r\n"}}; });
    w.start();
    w.submit("", {"bob@example.org"});
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(w.engine->stats().failed == 1u);
    BOOST_TEST(w.queued.empty());
    BOOST_TEST(w.spool->size() == 0u);
}

BOOST_AUTO_TEST_CASE(null_mx_fails_at_once_with_556) {
    World w;
    w.start();
    w.submit("alice@pigeon.test", {"x@nullmx.org"});
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(w.runtime.connects == 0u);
    BOOST_TEST(w.engine->stats().failed == 1u);
    BOOST_TEST(w.only_dsn().find("5.1.10") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_internationalized_domain_is_looked_up_by_its_a_labels) {
    World w;
    auto peer = w.listen("192.0.2.10");
    w.start();
    // The MX record exists only under the A-label (DNS holds no U-labels, RFC 5890).
    w.submit("alice@pigeon.test", {"bob@b\xC3\xBC" "cher.example"});
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_REQUIRE_EQUAL(peer->messages->size(), 1u);
    BOOST_TEST(w.engine->stats().delivered == 1u);
    // The envelope keeps the address as written (RFC 6531): SMTPUTF8 carries it.
    const auto& c = *peer->commands;
    BOOST_TEST((std::find(c.begin(), c.end(), "RCPT TO:<bob@b\xC3\xBC" "cher.example>") != c.end()));
}

BOOST_AUTO_TEST_CASE(a_domain_that_is_not_valid_idna_fails_without_a_lookup) {
    World w;
    w.start();
    w.submit("alice@pigeon.test", {"x@\xE2\x98\x83.example"});  // U+2603 is DISALLOWED
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(w.runtime.connects == 0u);
    BOOST_TEST(w.engine->stats().failed == 1u);
    const std::string dsn = w.only_dsn();
    BOOST_TEST(dsn.find("5.1.3") != std::string::npos);
    BOOST_TEST(w.spool->size() == 1u);  // only the DSN
}

BOOST_AUTO_TEST_CASE(retries_end_after_give_up_time_with_a_dsn) {
    World w;
    w.options.retry.first_retry_seconds = 60;
    w.options.retry.max_retry_interval_seconds = 600;
    w.options.retry.give_up_after_seconds = 3600;
    w.options.retry.delay_warning_after_seconds = 0;
    w.listen("192.0.2.10", [](ScriptedPeer& p) { p.rules = {{"MAIL", "421 4.3.2 busy\r\n"}}; });
    w.start();
    const std::string id = w.submit("alice@pigeon.test", {"bob@example.org"});
    w.run_for(2 * 3600);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(w.runtime.connects >= 5u);   // 60, 120, 240, 480, 600... within the hour
    BOOST_TEST(w.runtime.connects <= 12u);
    BOOST_TEST(find(w.spool->list(), id) == nullptr);
    BOOST_TEST(w.only_dsn().find("Action: failed") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_delay_notice_is_sent_once) {
    World w;
    w.options.retry.first_retry_seconds = 60;
    w.options.retry.max_retry_interval_seconds = 300;
    w.options.retry.delay_warning_after_seconds = 600;
    w.listen("192.0.2.10", [](ScriptedPeer& p) { p.rules = {{"RCPT", "450 4.2.1 mailbox busy\r\n"}}; });
    w.start();
    w.submit("alice@pigeon.test", {"bob@example.org"});
    w.run_for(3600);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(w.only_dsn().find("Action: delayed") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(one_connection_carries_several_messages_to_one_destination) {
    World w;
    w.options.max_per_destination = 1;
    auto peer = w.listen("192.0.2.10");
    w.start();
    w.submit("alice@pigeon.test", {"bob@example.org"});
    w.submit("alice@pigeon.test", {"carl@example.org"});
    w.submit("alice@pigeon.test", {"dora@example.org"});
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(peer->messages->size() == 3u);
    BOOST_TEST(w.runtime.connects == 1u);
    BOOST_TEST(w.spool->size() == 0u);
}

BOOST_AUTO_TEST_CASE(no_reply_to_the_end_of_data_is_retried_and_counted) {
    World w;
    w.options.retry.first_retry_seconds = 60;
    bool drop = true;
    std::shared_ptr<std::vector<std::string>> got = std::make_shared<std::vector<std::string>>();
    w.runtime.listeners["192.0.2.10:25"] = [&drop, got] {
        auto p = std::make_unique<ScriptedPeer>();
        p->messages = got;
        if (drop) p->end_of_data = "";  // the peer took the message and died
        return p;
    };
    w.start();
    w.submit("alice@pigeon.test", {"bob@example.org"});
    w.run_for(10);
    drop = false;
    w.run_for(600);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(w.engine->stats().maybe_duplicates == 1u);
    BOOST_TEST(got->size() == 2u);  // the one duplicate the rule allows
    BOOST_TEST(w.spool->size() == 0u);
}

BOOST_AUTO_TEST_CASE(a_real_pigeon_peer_over_starttls) {
    World w;
    PeerCertificate cert("mx.example.org");
    auto queued = w.listen_pigeon("192.0.2.10", "mx.example.org", cert.context);
    const auto trace = w.record_trace();
    w.start();
    w.submit("alice@pigeon.test", {"bob@example.org"}, "Subject: tls\r\n\r\nover TLS\r\n");
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_REQUIRE_EQUAL(queued->size(), 1u);
    BOOST_TEST((*queued)[0].envelope.tls);
    BOOST_TEST((*queued)[0].message.to_string().find("over TLS") != std::string::npos);
    bool saw_starttls = false;
    for (const auto& l : *trace) saw_starttls = saw_starttls || l.find("STARTTLS") != std::string::npos;
    BOOST_TEST(saw_starttls);
    BOOST_TEST(w.spool->size() == 0u);
}

BOOST_AUTO_TEST_CASE(stop_leaves_unfinished_recipients_pending_for_the_next_start) {
    World w;
    w.runtime.black_holes = {"192.0.2.10:25"};
    w.options.connect_timeout = std::chrono::seconds(30);
    w.start();
    const std::string id = w.submit("alice@pigeon.test", {"bob@example.org"});
    w.run_for(5);  // connecting
    bool stopped = false;
    w.engine->stop([&] { stopped = true; });
    w.run_for(60);
    BOOST_TEST(stopped);
    auto rec = w.spool->show(id);
    BOOST_REQUIRE(rec.ok());
    BOOST_TEST((rec->entry.status[0].state == queue::RecipientState::pending));

    // A new engine (a restart) on a recovered spool delivers it.
    w.engine.reset();
    w.runtime.black_holes.clear();
    auto peer = w.listen("192.0.2.10");
    w.spool = std::make_unique<queue::Spool>(w.storage, w.clock, w.random);
    BOOST_REQUIRE(w.spool->recover().ok());
    w.start();
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(peer->messages->size() == 1u);
    BOOST_TEST(w.spool->size() == 0u);
}

BOOST_AUTO_TEST_CASE(routes_and_relayhost_bypass_mx) {
    World w;
    w.options.routes["example.org"] = delivery::NextHop{"192.0.2.99", 2600, smtp::ClientTls::none, {}, nullptr};
    w.runtime.listeners["192.0.2.99:2600"] = [] { return std::make_unique<ScriptedPeer>(); };
    w.options.relayhost = delivery::NextHop{"192.0.2.98", 587, smtp::ClientTls::none, {}, nullptr};
    auto relay_msgs = std::make_shared<std::vector<std::string>>();
    w.runtime.listeners["192.0.2.98:587"] = [relay_msgs] {
        auto p = std::make_unique<ScriptedPeer>();
        p->messages = relay_msgs;
        return p;
    };
    w.start();
    w.submit("alice@pigeon.test", {"bob@example.org", "x@elsewhere.net", "y@other.net"});
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(w.engine->stats().delivered == 3u);
    BOOST_TEST(relay_msgs->size() == 1u);  // both relayhost recipients in one transaction
    BOOST_TEST(w.runtime.connects == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// A DNSSEC-secure domain whose MX publishes TLSA 3 1 1 for `cert`'s key.
std::string dane_zone(const std::string& tlsa_hex) {
    return std::string(zone_text) +
           "secure.org.          MX 10 mx.secure.org.\n"
           "mx.secure.org.       A  192.0.2.40\n"
           "_25._tcp.mx.secure.org. TLSA 3 1 1 " + tlsa_hex + "\n"
           "; pigeon: secure secure.org.\n";
}


}  // namespace

BOOST_AUTO_TEST_SUITE(outbound_dane)

BOOST_AUTO_TEST_CASE(a_matching_tlsa_record_delivers_over_authenticated_tls) {
    PeerCertificate peer("mx.secure.org");
    World w(dane_zone(peer.spki_sha256_hex));
    auto queued = w.listen_pigeon("192.0.2.40", "mx.secure.org", peer.context);
    w.start();
    w.submit("alice@pigeon.test", {"bob@secure.org"});
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_REQUIRE_EQUAL(queued->size(), 1u);
    BOOST_TEST((*queued)[0].envelope.tls);
    BOOST_TEST(w.all_log().find("DANE") != std::string::npos);
    BOOST_TEST(w.spool->size() == 0u);
}

BOOST_AUTO_TEST_CASE(a_mismatching_certificate_defers_and_nothing_is_sent_in_clear) {
    PeerCertificate peer("mx.secure.org");
    PeerCertificate other("mx.secure.org");  // the TLSA record names another key
    World w(dane_zone(other.spki_sha256_hex));
    auto queued = w.listen_pigeon("192.0.2.40", "mx.secure.org", peer.context);
    const auto trace = w.record_trace();
    w.start();
    const std::string id = w.submit("alice@pigeon.test", {"bob@secure.org"});
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(queued->empty());
    auto rec = w.spool->show(id);
    BOOST_REQUIRE(rec.ok());
    BOOST_TEST((rec->entry.status[0].state == queue::RecipientState::pending));
    BOOST_TEST(rec->entry.status[0].attempts == 1u);
    for (const auto& l : *trace) {
        BOOST_TEST_CONTEXT(l) { BOOST_TEST(l.find("MAIL FROM") == std::string::npos); }
    }
}

BOOST_AUTO_TEST_CASE(starttls_stripped_by_an_attacker_defers_under_dane) {
    PeerCertificate peer("mx.secure.org");
    World w(dane_zone(peer.spki_sha256_hex));
    // The "attacker" answers EHLO without STARTTLS.
    auto proto = w.listen("192.0.2.40");
    w.start();
    const std::string id = w.submit("alice@pigeon.test", {"bob@secure.org"});
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(proto->messages->empty());
    for (const auto& c : *proto->commands) {
        BOOST_TEST_CONTEXT(c) {
            BOOST_TEST(!c.starts_with("MAIL"));
            BOOST_TEST(!c.starts_with("RCPT"));
        }
    }
    auto rec = w.spool->show(id);
    BOOST_REQUIRE(rec.ok());
    BOOST_TEST((rec->entry.status[0].state == queue::RecipientState::pending));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(outbound_verify)

namespace {

// A relayhost relay.example:25 with tls = "verify", trusting the CAs in `trusted` (PEM).
delivery::NextHop verified_relay(const std::filesystem::path& trusted) {
    auto store = tls::load_trust_store(trusted.string());
    BOOST_REQUIRE_MESSAGE(store.ok(), (store.ok() ? std::string() : store.error().message));
    delivery::NextHop hop{"relay.example", 25, smtp::ClientTls::required, {}, nullptr};
    hop.credentials = smtp::ClientCredentials{"alice@pigeon.test", "secret-Pw-1"};
    hop.trust = store.value();
    return hop;
}

// PeerCertificate's certificates are valid from the real now for a year; the virtual clock
// starts at t0 (before that): move it into their validity.
void into_certificate_validity(World& w) {
    w.runtime.now_ms = (static_cast<std::int64_t>(std::time(nullptr)) + 3600 - t0) * 1000;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_certificate_that_validates_delivers) {
    PeerCertificate peer("relay.example");
    World w;
    auto queued = w.listen_pigeon("192.0.2.60", "relay.example", peer.context);
    w.options.relayhost = verified_relay(peer.dir.path() / "cert.pem");
    w.options.relayhost->credentials.reset();  // the inbound test peer offers no AUTH
    into_certificate_validity(w);
    w.start();
    w.submit("alice@pigeon.test", {"bob@elsewhere.net"});
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_REQUIRE_EQUAL(queued->size(), 1u);
    BOOST_TEST((*queued)[0].envelope.tls);
    BOOST_TEST(w.all_log().find("certificate verified") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_untrusted_or_misnamed_certificate_defers_before_auth) {
    for (const std::string presented_name : {"relay.example", "other.example"}) {
        BOOST_TEST_CONTEXT(presented_name) {
            PeerCertificate peer(presented_name);
            PeerCertificate trusted("relay.example");  // relay.example: but another key
            World w;
            auto queued = w.listen_pigeon("192.0.2.60", "relay.example", peer.context);
            // An untrusted key, or a trusted certificate that names another host.
            w.options.relayhost = verified_relay(
                (presented_name == "relay.example" ? trusted.dir : peer.dir).path() / "cert.pem");
            const auto trace = w.record_trace();
            into_certificate_validity(w);
            w.start();
            const std::string id = w.submit("alice@pigeon.test", {"bob@elsewhere.net"});
            w.run_for(60);
            BOOST_TEST_INFO(w.all_log());
            BOOST_TEST(queued->empty());
            auto rec = w.spool->show(id);
            BOOST_REQUIRE(rec.ok());
            BOOST_TEST((rec->entry.status[0].state == queue::RecipientState::pending));
            const std::string why = presented_name == "relay.example" ? "not trusted" : "does not name";
            BOOST_TEST(w.all_log().find("certificate rejected: certificate " + why) != std::string::npos);
            for (const auto& l : *trace) {
                BOOST_TEST_CONTEXT(l) {
                    BOOST_TEST(l.find("AUTH") == std::string::npos);
                    BOOST_TEST(l.find("MAIL FROM") == std::string::npos);
                }
            }
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

// RFC 5321 4.5.3.2: each reply the peer owes has its own deadline; octets that do not
// complete a reply never extend it (issue 13, the trickling MX).
namespace {

// A scripted peer that sends every reply late: byte by byte, `per_byte` apart, or whole
// after `per_reply`. Replies keep their order; the bytes go through Peer::push.
class SlowPeer final : public pigeon::test::Peer {
public:
    SlowPeer(MemoryRuntime& runtime, ScriptedPeer script, std::int64_t per_byte_ms, std::int64_t per_reply_ms)
        : runtime_(runtime), script_(std::move(script)), per_byte_ms_(per_byte_ms), per_reply_ms_(per_reply_ms) {}

    std::string start() override { return later(script_.start()); }
    std::string received(std::string_view bytes, bool& close) override {
        std::string reply = script_.received(bytes, close);
        return close ? reply : later(std::move(reply));
    }

private:
    std::string later(std::string reply) {
        if (reply.empty()) return {};
        next_ms_ = std::max(next_ms_, runtime_.now_ms);
        if (per_byte_ms_ == 0) {
            next_ms_ += per_reply_ms_;
            send_at(next_ms_, std::move(reply));
            return {};
        }
        for (char c : reply) {
            next_ms_ += per_byte_ms_;
            send_at(next_ms_, std::string(1, c));
        }
        return {};
    }
    void send_at(std::int64_t at_ms, std::string bytes) {
        runtime_.after(std::chrono::milliseconds(at_ms - runtime_.now_ms),
                       [push = push, bytes = std::move(bytes)] { push(bytes); });
    }

    MemoryRuntime& runtime_;
    ScriptedPeer script_;
    std::int64_t per_byte_ms_, per_reply_ms_;
    std::int64_t next_ms_ = 0;
};

std::shared_ptr<ScriptedPeer> listen_slow(World& w, const std::string& address, std::int64_t per_byte_ms,
                                          std::int64_t per_reply_ms) {
    auto proto = std::make_shared<ScriptedPeer>();
    w.runtime.listeners[address + ":25"] = [&w, proto, per_byte_ms, per_reply_ms] {
        return std::make_unique<SlowPeer>(w.runtime, *proto, per_byte_ms, per_reply_ms);
    };
    return proto;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(outbound_deadlines)

// The greeting (21 octets) trickles at one octet a second: without per-reply deadlines every
// octet re-armed the 5 s timer and the message went out after 21 s.
BOOST_AUTO_TEST_CASE(a_trickled_greeting_times_out_and_defers) {
    World w;
    auto peer = listen_slow(w, "192.0.2.10", 1000, 0);
    w.options.command_timeout = std::chrono::seconds(5);
    w.start();
    const std::string id = w.submit("alice@pigeon.test", {"bob@example.org"});
    w.run_for(8);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(w.engine->active_connections() == 0u);  // the slot is free again
    BOOST_TEST(peer->messages->empty());
    BOOST_TEST(w.engine->stats().deferred == 1u);
    auto entry = w.spool->entry(id);
    BOOST_REQUIRE(entry.ok());
    BOOST_TEST(entry->status[0].attempts == 1u);  // an attempt, like any failed connection
    BOOST_TEST(entry->status[0].diagnostic.find("Timeout waiting for the greeting reply") != std::string::npos,
               entry->status[0].diagnostic);
    BOOST_TEST(w.all_log().find("timed out waiting for greeting") != std::string::npos);
}

// Same for a reply in the middle: the 250 to EHLO (about 100 octets) trickles a byte every
// 2 s, each inside the 5 s timeout; the connection is given up 5 s after the EHLO (sent at
// once: the greeting comes without delay).
BOOST_AUTO_TEST_CASE(a_trickled_ehlo_reply_times_out_at_its_own_deadline) {
    World w;
    auto peer = w.listen("192.0.2.10");
    w.runtime.listeners["192.0.2.10:25"] = [&w, peer] {
        // The greeting at once, then everything else two seconds per octet.
        struct EhloTrickle final : pigeon::test::Peer {
            SlowPeer slow;
            ScriptedPeer fast;
            EhloTrickle(MemoryRuntime& rt, const ScriptedPeer& p) : slow(rt, p, 2000, 0), fast(p) {}
            std::string start() override {
                slow.push = push;
                return fast.start();
            }
            std::string received(std::string_view b, bool& close) override { return slow.received(b, close); }
        };
        return std::make_unique<EhloTrickle>(w.runtime, *peer);
    };
    w.options.command_timeout = std::chrono::seconds(5);
    w.start();
    w.submit("alice@pigeon.test", {"bob@example.org"});
    w.run_for(4);
    BOOST_TEST(w.engine->active_connections() == 1u);  // still within the EHLO's 5 s
    w.run_for(4);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(w.engine->active_connections() == 0u);
    BOOST_TEST(w.all_log().find("timed out waiting for EHLO") != std::string::npos);
    BOOST_TEST(peer->messages->empty());
    BOOST_TEST(w.engine->stats().deferred == 1u);
}

// Slow but complete replies are fine: each comes 4 s after the previous, inside the 5 s
// each has, so the whole transaction (about 30 s) delivers.
BOOST_AUTO_TEST_CASE(slow_complete_replies_each_get_their_own_deadline) {
    World w;
    auto peer = listen_slow(w, "192.0.2.10", 0, 4000);
    w.options.command_timeout = std::chrono::seconds(5);
    w.options.data_timeout = std::chrono::seconds(5);
    w.start();
    w.submit("alice@pigeon.test", {"bob@example.org"});
    w.run_for(120);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(peer->messages->size() == 1u);
    BOOST_TEST(w.engine->stats().delivered == 1u);
    BOOST_TEST(w.spool->size() == 0u);
}

// A trickling MX holding the only connection slot delays other mail by one timeout, not
// forever: after it is given up, mail for another domain goes out.
BOOST_AUTO_TEST_CASE(a_trickling_mx_frees_its_slot_for_other_mail) {
    World w;
    listen_slow(w, "192.0.2.10", 1000, 0);  // example.org: trickles
    auto good = w.listen("192.0.2.30");     // implicit.org: answers at once
    w.options.command_timeout = std::chrono::seconds(5);
    w.options.max_connections = 1;
    w.start();
    w.submit("alice@pigeon.test", {"bob@example.org"});
    w.submit("alice@pigeon.test", {"carol@implicit.org"});
    w.run_for(10);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(good->messages->size() == 1u);
    BOOST_TEST(w.engine->stats().delivered == 1u);
    BOOST_TEST(w.engine->stats().deferred == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(outbound_hold)

// `pigeon queue hold`: the engine leaves a held message alone, even when it is flushed, and
// delivers it once released and notified (what serve does on a release request).
BOOST_AUTO_TEST_CASE(a_held_message_is_not_taken_until_released) {
    World w;
    auto peer = w.listen("192.0.2.10");
    queue::Submission s;
    s.envelope = pigeon::test::make_envelope("alice@pigeon.test", {"bob@example.org"});
    s.message = std::make_shared<const std::string>("Subject: held\r\n\r\nx\r\n");
    const auto id = w.spool->commit(std::move(s));
    BOOST_REQUIRE(id.ok());
    BOOST_REQUIRE(w.spool->hold(*id, true).ok());
    w.start();  // the recovery scan sees it
    w.engine->notify(*id);
    w.engine->flush();
    w.run_for(600);
    BOOST_TEST(peer->messages->empty());
    BOOST_TEST(w.runtime.connects == 0u);
    BOOST_TEST(w.spool->entry(*id)->status[0].attempts == 0u);

    BOOST_REQUIRE(w.spool->hold(*id, false).ok());
    w.engine->notify(*id);
    w.run_for(60);
    BOOST_TEST_INFO(w.all_log());
    BOOST_TEST(peer->messages->size() == 1u);
    BOOST_TEST(w.spool->size() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
