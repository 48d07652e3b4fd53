// pigeon/tls/tls_channel.hpp: sans-I/O TLS 1.2 channels (server and client) over Botan 2.
//
// Contract: a channel never does I/O and never throws from received/send/close/start. The
// driver (the Asio connection loop, a test) feeds it what it read from the socket and writes
// out what each call returns, in this order:
//   1. write TlsOutput::to_peer to the socket (ciphertext: handshake, records, alerts);
//   2. if established_now, the handshake just finished: tell the session (TlsReady);
//   3. hand TlsOutput::plaintext to the session (application data from the peer). Plaintext
//      only ever comes from records after the handshake, so in a call that also reports
//      established_now it follows the handshake (a client's first command can ride with its
//      Finished, on resumption): the session must hear TlsReady first, or it takes the
//      command for cleartext injected before TLS and discards it (CVE-2011-0411);
//   4. if closed, the TLS connection is over (error says why when it ended badly; empty
//      after an orderly close_notify): flush to_peer, then close the transport.
// Every call returns only what happened during that call; nothing is held back.
//
// send() before the handshake completes is buffered and sent when it does (so a client may
// write its first command right after start()). After closed, every call returns closed with
// nothing to do. Protocol errors (garbage, bad MAC, wrong version, no shared cipher) come back
// as error + closed, with the fatal alert Botan generated in to_peer.
//
// A channel keeps its TlsContext alive; it is movable (the Botan state lives behind a pointer,
// because Botan holds references to its callbacks object; a moved-from channel may only be
// destroyed or assigned to) but not copyable or thread-safe.
#pragma once
#include <botan/x509cert.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pigeon::tls {

class TlsContext;

struct TlsOutput {
    std::string to_peer;           // ciphertext to write to the socket
    std::string plaintext;         // application data received from the peer
    bool established_now = false;  // the handshake completed during this call
    bool closed = false;           // the TLS connection is finished (see error)
    std::string error;             // why it ended, when it ended badly; empty otherwise
};

class TlsChannel {
public:
    TlsChannel(TlsChannel&&) noexcept;
    TlsChannel& operator=(TlsChannel&&) noexcept;
    virtual ~TlsChannel();

    TlsOutput received(std::string_view ciphertext);  // bytes read from the socket
    TlsOutput send(std::string_view plaintext);       // application data to protect
    TlsOutput close();                                // send close_notify; closed afterwards

    bool established() const;  // the handshake is done and data flows
    bool closed() const;

    // Once established: "TLS v1.2" and Botan's suite name, e.g.
    // "ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" (for Received: headers and logs); empty
    // before.
    const std::string& version() const;
    const std::string& cipher_suite() const;
    // The peer's certificate chain, leaf first (the server's, seen from a client; empty from a
    // server, which does not ask clients for certificates).
    const std::vector<Botan::X509_Certificate>& peer_certificates() const;

protected:
    struct Impl;
    explicit TlsChannel(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The server role: STARTTLS after its 220, or implicit TLS from the first byte (port 465).
class TlsServerChannel final : public TlsChannel {
public:
    // The context must hold a certificate (TlsContext::from_pem_files); without one every
    // handshake fails with a clean error.
    explicit TlsServerChannel(std::shared_ptr<TlsContext> context);
};

// Decides about the server's certificate chain (leaf first) for server_name: return an empty
// string to accept it, or the reason to refuse it (the handshake then fails with that error).
using CertificateVerifier = std::function<std::string(
    const std::vector<Botan::X509_Certificate>& chain, const std::string& server_name)>;

// The client role (outbound delivery, tests). The ClientHello goes out from start().
class TlsClientChannel final : public TlsChannel {
public:
    // server_name is sent as SNI when it is a host name (not for an empty name or an IP
    // literal). Without a verifier every certificate is accepted: opportunistic TLS
    // (RFC 7435), the only sane default for SMTP between MXs; the chain stays available in
    // peer_certificates() for logging, DANE or MTA-STS checks.
    TlsClientChannel(std::shared_ptr<TlsContext> context, std::string server_name,
                     CertificateVerifier verifier = {});
    TlsOutput start();  // the ClientHello; received() and send() start implicitly if needed
};

}  // namespace pigeon::tls
