// pigeon/smtp/client/session.hpp: the sans-I/O SMTP client session, used by the outbound delivery
// engine (RFC 5321 3, 4.1, 4.2, 4.5.3.2; STARTTLS RFC 3207; AUTH RFC 4954; PIPELINING
// RFC 2920; SIZE RFC 1870; 8BITMIME RFC 6152; SMTPUTF8 RFC 6531; enhanced codes RFC 3463).
//
// Contract: a ClientSession never does I/O, never reads a clock or a random source, never
// blocks and never throws. The driver connects, then feeds it the peer's bytes and events and
// carries out the actions it returns, in order:
//
//   start()        -> nothing yet: the session waits for the 220 greeting
//   put(bytes)     -> actions (plaintext from the peer; after ClientStartTls, the decrypted stream)
//   put_eof()      -> actions (the peer closed: whatever is unfinished fails, see below)
//   on(event)      -> actions
//
// Actions: ClientSend (write these bytes), ClientStartTls (run the TLS client handshake, then
// answer ClientTlsReady or ClientTlsFailed), ClientDone (one per Deliver, in the order the
// Delivers were given), ClientIdle (greeted and nothing to do: give a Deliver or Quit),
// ClientClose (close the transport; nothing follows).
//
// Guarantees the tests check (tests/smtp/client_test.cpp, client_property_test.cpp, and
// fuzz/client_session.cpp):
//   - exactly one ClientDone per Deliver, including a Deliver given after the session closed
//     (answered at once: every recipient transient, connection_level);
//   - one RecipientResult per recipient, in the order of ClientMessage::recipients;
//   - a recipient is `delivered` only if its RCPT got 2xx and the final reply after "." 2xx;
//   - no message octet is sent before a 354; under ClientTls::required nothing but EHLO,
//     STARTTLS and QUIT is ever sent in clear; credentials are never sent without TLS;
//   - every sent line ends in CRLF; command lines are at most 512 octets (RFC 5321 4.5.3.1.4;
//     an AUTH line may be longer only with long credentials, RFC 4954 4);
//   - input is bounded: replies are read by core::ReplyParser (512-octet lines, 100 lines).
//
// The order of things is an explicit Boost.MSM machine (outbound_machine.cpp), checked
// against spec/machines/outbound.tsv by tests/smtp/machine_table_test.cpp. docs/client.md
// explains the states and how results are classified.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/address.hpp"
#include "core/reply.hpp"
#include "smtp/command.hpp"  // smtp::Quit, the QUIT command, is also the client's Quit event

namespace pigeon::smtp {

// AUTH PLAIN with an initial response (RFC 4954 4, RFC 4616); LOGIN if only that is offered.
struct ClientCredentials {
    std::string username, password;
};

enum class ClientTls {
    none,           // never STARTTLS
    opportunistic,  // STARTTLS when offered, clear otherwise; refused or failed: transient failure
    required,       // no STARTTLS / refused / failed: transient failure; nothing sent in clear
};

struct ClientConfig {
    std::string hostname = "localhost";  // our EHLO/HELO name
    ClientTls tls = ClientTls::opportunistic;
    bool tls_active = false;             // the transport is already TLS (implicit TLS, port 465)
    std::optional<ClientCredentials> credentials;  // AUTH after TLS; never sent without TLS
    // LMTP (RFC 2033) instead of SMTP: LHLO instead of EHLO (no HELO fallback: a refused
    // LHLO fails the connection), and after the final "." one reply per accepted RCPT, in
    // the order of the RCPTs (RFC 2033 4.2), each deciding its own recipient.
    bool lmtp = false;
    // "C: ...", "S: ...", "state: A -> B" (AUTH secrets masked); optional.
    std::function<void(std::string_view)> trace;
};

struct ClientMessage {
    core::Path reverse_path;
    std::vector<core::Path> recipients;          // all for this destination
    std::shared_ptr<const std::string> message;  // CRLF line ends, NOT dot-stuffed
    bool smtputf8 = false;                       // needs SMTPUTF8 (RFC 6531)
};

enum class Outcome { delivered, transient, permanent };

struct RecipientResult {
    core::Path recipient;
    Outcome outcome = Outcome::transient;
    core::Reply reply;       // the peer's reply that decided it, or one we made
    bool from_peer = false;  // reply came from the peer (false: synthesized locally)
    // Where it was decided: "connect", "greeting", "EHLO", "HELO", "STARTTLS", "TLS" (the
    // handshake failed or timed out), "AUTH", "RSET", "MAIL", "RCPT", "DATA", "end of data".
    std::string stage;
};

struct TransactionResult {
    std::vector<RecipientResult> recipients;  // same order as ClientMessage::recipients
    // The failure was about this host/connection, not these recipients (greeting, EHLO,
    // STARTTLS/TLS, AUTH, lost connection, timeout, malformed or unexpected reply): the engine
    // may try the next MX host. In LMTP mode recipients answered after the "." before the
    // failure keep their own outcome (delivered included).
    bool connection_level = false;
    // Connection lost or timed out after the final "." before its reply: the peer may have
    // the message (RFC 1047).
    bool maybe_delivered = false;
};

// ---- actions (session -> driver) ----
struct ClientSend { std::string bytes; };
struct ClientStartTls {};  // run the TLS client handshake; answer ClientTlsReady or ClientTlsFailed
struct ClientDone { TransactionResult result; };  // exactly one per Deliver, in order
struct ClientIdle {};      // greeted, nothing pending: give another Deliver, or Quit
struct ClientClose {};     // close the transport now
using ClientAction = std::variant<ClientSend, ClientStartTls, ClientDone, ClientIdle, ClientClose>;

// ---- events (driver -> session) ----
struct ClientTlsReady {};
struct ClientTlsFailed { std::string reason; };
struct ClientTimeout {};   // the current wait exceeded its RFC 5321 4.5.3.2 timeout
struct Deliver { ClientMessage message; };  // any time; held until greeted and idle
// Quit (no more messages: QUIT, then ClientClose) is smtp::Quit from command.hpp.
using ClientEvent = std::variant<ClientTlsReady, ClientTlsFailed, ClientTimeout, Deliver, Quit>;

class ClientSession {
public:
    virtual ~ClientSession() = default;
    virtual std::vector<ClientAction> start() = 0;
    virtual std::vector<ClientAction> put(std::string_view bytes) = 0;
    virtual std::vector<ClientAction> put_eof() = 0;
    virtual std::vector<ClientAction> on(const ClientEvent& event) = 0;
    virtual bool closed() const = 0;
    virtual std::string_view state() const = 0;  // machine state, e.g. "AwaitRcpt"
    // What the peer's last EHLO advertised ("PIPELINING", "STARTTLS", ...), case-insensitive.
    virtual bool peer_offers(std::string_view keyword) const = 0;
    // The wait the driver should time (RFC 5321 4.5.3.2): "greeting", "EHLO", "HELO",
    // "STARTTLS", "TLS handshake", "AUTH", "RSET", "MAIL", "RCPT", "DATA", "end of data",
    // "QUIT"; "" when the session waits for the driver, not the peer (idle, closed).
    virtual std::string_view waiting_for() const = 0;
    // Complete replies taken from the peer so far. The driver restarts its timer when this
    // or waiting_for() changes, or when it sends: octets that do not complete a reply never
    // extend a deadline (a peer trickling a byte at a time must still time out).
    virtual std::uint64_t replies_received() const = 0;
};

std::unique_ptr<ClientSession> make_client_session(ClientConfig config);

}  // namespace pigeon::smtp
