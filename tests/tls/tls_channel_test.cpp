// Tests for tls/tls_channel.hpp: a server and a client channel wired together in memory.
#include "tls/tls_channel.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>

#include "tls/credentials.hpp"
#include "tls/tls_test_support.hpp"

using namespace pigeon::tls;
using pigeon::tls::testing::TempDir;

namespace {

constexpr const char* kHost = "mail.example.test";

// What one side has seen so far, accumulated over every call's TlsOutput.
struct Side {
    std::string plaintext;
    int established = 0;  // how many calls reported established_now
    bool closed = false;
    std::string error;

    // Absorb one output and return the ciphertext it wants carried to the other side.
    std::string absorb(TlsOutput out) {
        plaintext += out.plaintext;
        if (out.established_now) ++established;
        if (out.closed) closed = true;
        if (!out.error.empty() && error.empty()) error = out.error;
        return std::move(out.to_peer);
    }
};

// Hand `bytes` to `channel`, all at once or one byte per call.
std::string feed(TlsChannel& channel, Side& side, const std::string& bytes, bool bytewise) {
    if (!bytewise) return side.absorb(channel.received(bytes));
    std::string reply;
    for (char c : bytes) reply += side.absorb(channel.received(std::string_view(&c, 1)));
    return reply;
}

struct Wire {
    std::shared_ptr<TlsContext> server_context;
    std::shared_ptr<TlsContext> client_context = TlsContext::client_only();
    TlsServerChannel server;
    TlsClientChannel client;
    Side s, c;

    Wire(std::shared_ptr<TlsContext> server_ctx, std::string server_name = kHost,
         CertificateVerifier verifier = {})
        : server_context(server_ctx),
          server(server_ctx),
          client(client_context, std::move(server_name), std::move(verifier)) {}

    // Carry bytes both ways until neither side has anything more to say.
    void pump(std::string to_server, std::string to_client = {}, bool bytewise = false) {
        for (int rounds = 0; !to_server.empty() || !to_client.empty(); ++rounds) {
            BOOST_REQUIRE(rounds < 50);
            if (!to_server.empty()) {
                to_client += feed(server, s, std::exchange(to_server, {}), bytewise);
            }
            if (!to_client.empty()) {
                to_server += feed(client, c, std::exchange(to_client, {}), bytewise);
            }
        }
    }

    void handshake(bool bytewise = false) { pump(c.absorb(client.start()), {}, bytewise); }
};

struct Fixture {
    TempDir dir;
    std::shared_ptr<TlsContext> server_context = testing::make_server_context(dir, kHost);
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(tls_channel, Fixture)

BOOST_AUTO_TEST_CASE(handshake_completes_and_data_flows_both_ways) {
    Wire w(server_context);
    BOOST_TEST(!w.server.established());
    w.handshake();
    BOOST_TEST(w.server.established());
    BOOST_TEST(w.client.established());
    BOOST_TEST(w.s.established == 1);
    BOOST_TEST(w.c.established == 1);
    BOOST_TEST(w.s.error == "");
    BOOST_TEST(w.c.error == "");

    BOOST_TEST(w.server.version() == "TLS v1.2");
    BOOST_TEST(w.client.cipher_suite() == w.server.cipher_suite());
    BOOST_TEST(w.server.cipher_suite().find("ECDHE_ECDSA") != std::string::npos);
    const bool aead = w.server.cipher_suite().find("GCM") != std::string::npos ||
                      w.server.cipher_suite().find("CHACHA20_POLY1305") != std::string::npos;
    BOOST_TEST(aead, w.server.cipher_suite());

    // The client sees the server's certificate; the server asks nothing of the client.
    BOOST_TEST_REQUIRE(w.client.peer_certificates().size() == 1u);
    BOOST_TEST((w.client.peer_certificates()[0] == server_context->certificate_chain()[0]));
    BOOST_TEST(w.client.peer_certificates()[0].matches_dns_name(kHost));
    BOOST_TEST(w.server.peer_certificates().empty());

    w.pump(w.c.absorb(w.client.send("EHLO client.example\r\n")));
    BOOST_TEST(w.s.plaintext == "EHLO client.example\r\n");
    w.pump({}, w.s.absorb(w.server.send("250-mail.example.test\r\n250 SIZE 1000\r\n")));
    BOOST_TEST(w.c.plaintext == "250-mail.example.test\r\n250 SIZE 1000\r\n");
}

BOOST_AUTO_TEST_CASE(handshake_and_data_survive_one_byte_at_a_time) {
    Wire w(server_context);
    w.handshake(/*bytewise=*/true);
    BOOST_TEST(w.server.established());
    BOOST_TEST(w.client.established());
    BOOST_TEST(w.s.established == 1);
    BOOST_TEST(w.c.established == 1);

    w.pump(w.c.absorb(w.client.send("MAIL FROM:<a@example.org>\r\n")), {}, true);
    w.pump({}, w.s.absorb(w.server.send("250 2.1.0 Sender OK\r\n")), true);
    BOOST_TEST(w.s.plaintext == "MAIL FROM:<a@example.org>\r\n");
    BOOST_TEST(w.c.plaintext == "250 2.1.0 Sender OK\r\n");
}

BOOST_AUTO_TEST_CASE(large_messages_span_many_records) {
    Wire w(server_context);
    w.handshake();
    std::string message;
    for (int i = 0; message.size() < 200 * 1024; ++i) message += "line " + std::to_string(i) + "\r\n";
    const std::string ciphertext = w.c.absorb(w.client.send(message));
    BOOST_TEST(ciphertext.size() > message.size());  // framed and authenticated, not lost
    w.pump(ciphertext);
    BOOST_TEST(w.s.plaintext == message);
}

BOOST_AUTO_TEST_CASE(data_sent_before_the_handshake_is_held_until_it_completes) {
    Wire w(server_context);
    const std::string hello = w.c.absorb(w.client.start());
    const TlsOutput early = w.client.send("EHLO early\r\n");
    BOOST_TEST(early.to_peer.empty());
    BOOST_TEST(!early.closed);
    w.pump(hello);
    BOOST_TEST(w.s.plaintext == "EHLO early\r\n");
}

BOOST_AUTO_TEST_CASE(send_and_received_start_the_client_implicitly) {
    Wire w(server_context);
    const std::string hello = w.c.absorb(w.client.send("EHLO x\r\n"));
    BOOST_TEST(!hello.empty());  // the ClientHello
    w.pump(hello);
    BOOST_TEST(w.client.established());
    BOOST_TEST(w.s.plaintext == "EHLO x\r\n");
}

BOOST_AUTO_TEST_CASE(plaintext_smtp_to_the_server_is_a_clean_error) {
    Wire w(server_context);
    TlsOutput out;
    BOOST_CHECK_NO_THROW(out = w.server.received("EHLO client.example\r\n"));
    BOOST_TEST(out.closed);
    BOOST_TEST(!out.error.empty());
    BOOST_TEST_MESSAGE("plaintext to the server: " << out.error);
    BOOST_TEST(out.plaintext.empty());
    BOOST_TEST(w.server.closed());
    BOOST_TEST(!w.server.established());
    // Everything afterwards is a quiet no-op.
    const TlsOutput after = w.server.received("more");
    BOOST_TEST(after.closed);
    BOOST_TEST(after.to_peer.empty());
    BOOST_TEST(after.error.empty());
    BOOST_TEST(w.server.send("x").closed);
    BOOST_TEST(w.server.close().closed);
}

BOOST_AUTO_TEST_CASE(random_garbage_to_the_server_is_a_clean_error) {
    for (unsigned seed = 1; seed <= 20; ++seed) {
        Wire w(server_context);
        std::string garbage;
        unsigned x = seed;
        for (int i = 0; i < 300; ++i) {
            x = x * 1103515245u + 12345u;
            garbage.push_back(static_cast<char>(x >> 16));
        }
        Side side;
        BOOST_CHECK_NO_THROW(feed(w.server, side, garbage, seed % 2 == 0));
        BOOST_TEST(side.closed, "seed " << seed);
        BOOST_TEST(!side.error.empty(), "seed " << seed);
    }
}

BOOST_AUTO_TEST_CASE(a_corrupted_record_after_the_handshake_is_a_clean_error) {
    Wire w(server_context);
    w.handshake();
    std::string record = w.c.absorb(w.client.send("AUTH PLAIN secret\r\n"));
    record[record.size() - 3] ^= 0x01;  // inside the AEAD tag
    const TlsOutput out = w.server.received(record);
    BOOST_TEST(out.closed);
    BOOST_TEST(!out.error.empty());
    BOOST_TEST(out.plaintext.empty());
    BOOST_TEST(!out.to_peer.empty());  // the fatal alert for the client
    BOOST_TEST_MESSAGE("corrupted record: " << out.error);
    // The client learns why.
    const TlsOutput client_side = w.client.received(out.to_peer);
    BOOST_TEST(client_side.closed);
    BOOST_TEST(client_side.error.find("alert") != std::string::npos, client_side.error);
}

BOOST_AUTO_TEST_CASE(close_notify_from_the_client_closes_the_server_cleanly) {
    Wire w(server_context);
    w.handshake();
    const TlsOutput bye = w.client.close();
    BOOST_TEST(bye.closed);
    BOOST_TEST(bye.error.empty());
    BOOST_TEST(!bye.to_peer.empty());
    BOOST_TEST(w.client.closed());

    const TlsOutput out = w.server.received(bye.to_peer);
    BOOST_TEST(out.closed);
    BOOST_TEST(out.error.empty());        // orderly: not an error
    BOOST_TEST(!out.to_peer.empty());     // our close_notify in reply
    BOOST_TEST(w.server.closed());
    BOOST_TEST(!w.server.established());

    // The client, already closed, ignores the reply.
    const TlsOutput late = w.client.received(out.to_peer);
    BOOST_TEST(late.closed);
    BOOST_TEST(late.error.empty());
}

BOOST_AUTO_TEST_CASE(data_before_close_notify_in_one_read_is_delivered) {
    Wire w(server_context);
    w.handshake();
    std::string bytes = w.c.absorb(w.client.send("QUIT\r\n"));
    bytes += w.c.absorb(w.client.close());
    const TlsOutput out = w.server.received(bytes);
    BOOST_TEST(out.plaintext == "QUIT\r\n");
    BOOST_TEST(out.closed);
    BOOST_TEST(out.error.empty());
}

BOOST_AUTO_TEST_CASE(server_close_reaches_the_client) {
    Wire w(server_context);
    w.handshake();
    const TlsOutput bye = w.server.close();
    BOOST_TEST(bye.closed);
    const TlsOutput out = w.client.received(bye.to_peer);
    BOOST_TEST(out.closed);
    BOOST_TEST(out.error.empty());
}

BOOST_AUTO_TEST_CASE(verifier_sees_the_chain_and_can_refuse_it) {
    std::string seen_name;
    std::size_t seen_chain = 0;
    Wire w(server_context, kHost,
           [&](const std::vector<Botan::X509_Certificate>& chain, const std::string& name) {
               seen_name = name;
               seen_chain = chain.size();
               return std::string("not trusted for this test");
           });
    w.handshake();
    BOOST_TEST(seen_name == kHost);
    BOOST_TEST(seen_chain == 1u);
    BOOST_TEST(!w.client.established());
    BOOST_TEST(w.c.closed);
    BOOST_TEST(w.c.error.find("not trusted for this test") != std::string::npos, w.c.error);
    BOOST_TEST(w.s.closed);
    BOOST_TEST(w.s.error.find("alert") != std::string::npos, w.s.error);
}

BOOST_AUTO_TEST_CASE(verifier_that_accepts_lets_the_handshake_finish) {
    Wire w(server_context, kHost,
           [](const std::vector<Botan::X509_Certificate>& chain, const std::string& name) {
               return chain.at(0).matches_dns_name(name) ? std::string() : "name mismatch";
           });
    w.handshake();
    BOOST_TEST(w.client.established());
}

BOOST_AUTO_TEST_CASE(an_ip_literal_server_name_is_not_sent_as_sni) {
    Wire w(server_context, "192.0.2.25");
    w.handshake();
    BOOST_TEST(w.client.established());
    BOOST_TEST(w.c.error == "");
}

BOOST_AUTO_TEST_CASE(a_server_without_a_certificate_fails_the_handshake_cleanly) {
    Wire w(TlsContext::client_only());
    w.handshake();
    BOOST_TEST(!w.server.established());
    BOOST_TEST(w.s.closed);
    BOOST_TEST(!w.s.error.empty());
    BOOST_TEST_MESSAGE("no certificate: server: " << w.s.error << "; client: " << w.c.error);
    BOOST_TEST(w.c.closed);
    BOOST_TEST(!w.c.error.empty());
}

BOOST_AUTO_TEST_CASE(a_second_connection_resumes_through_the_session_caches) {
    // The server's first flight: a full handshake carries the certificate, a resumed one
    // (same client context, same server context, so both caches are warm) does not.
    auto server_first_flight = [&](const std::shared_ptr<TlsContext>& client_context,
                                   std::size_t& flight) {
        TlsServerChannel server(server_context);
        TlsClientChannel client(client_context, kHost);
        Side s, c;
        std::string to_server = c.absorb(client.start()), to_client;
        to_client = feed(server, s, std::exchange(to_server, {}), false);
        flight = to_client.size();
        for (int i = 0; i < 10 && (!to_server.empty() || !to_client.empty()); ++i) {
            to_server += feed(client, c, std::exchange(to_client, {}), false);
            to_client += feed(server, s, std::exchange(to_server, {}), false);
        }
        BOOST_TEST(server.established());
        BOOST_TEST(client.established());
        BOOST_TEST(s.established == 1);
        BOOST_TEST(c.established == 1);
        BOOST_TEST(client.peer_certificates().size() == 1u);  // known from the session too
    };
    const auto client_context = TlsContext::client_only();
    std::size_t full = 0, resumed = 0;
    server_first_flight(client_context, full);
    server_first_flight(client_context, resumed);
    BOOST_TEST(resumed * 2 < full, "full " << full << " resumed " << resumed);
}

BOOST_AUTO_TEST_CASE(channels_move_mid_handshake) {
    TlsServerChannel server(server_context);
    TlsClientChannel client(TlsContext::client_only(), kHost);
    Side s, c;
    std::string to_server = c.absorb(client.start());
    std::string to_client = feed(server, s, to_server, false);

    TlsServerChannel moved_server = std::move(server);
    TlsClientChannel moved_client = std::move(client);
    to_server = feed(moved_client, c, to_client, false);
    to_client = feed(moved_server, s, to_server, false);
    feed(moved_client, c, to_client, false);
    BOOST_TEST(moved_server.established());
    BOOST_TEST(moved_client.established());
}

BOOST_AUTO_TEST_SUITE_END()
