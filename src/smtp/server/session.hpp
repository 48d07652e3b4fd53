// pigeon/smtp/server/session.hpp: the sans-I/O SMTP server session (submission and inbound roles).
//
// Contract: a Session never does I/O, never reads a clock or a random source and never
// blocks. The driver (the Asio connection loop in src/net, the simulator in sim/, a test)
// feeds it bytes and events and carries out the actions it returns, in order:
//
//   start()      -> the 220 greeting
//   put(bytes)   -> actions; bytes are buffered, commands processed strictly in order
//                   (PIPELINING, RFC 2920), replies batched into as few Send actions as can be
//   put_eof()    -> actions (the peer will send nothing more: what it already sent is still
//                   answered, then the session closes)
//   on(event)    -> actions; each asynchronous action below is answered by exactly one event
//
// Asynchronous requests (one outstanding at a time; input is held until it is answered):
//   BeginTls       -> TlsReady           the driver wraps the transport in TLS
//   Authenticate   -> AuthResult         the driver checks the credentials
//   CheckSender    -> Verdict            MAIL FROM policy (SPF, sender ownership, ...)
//   CheckRecipient -> Verdict            RCPT TO policy (local recipient, anti-relay, ...)
//   CheckMessage   -> Verdict            end of DATA, before the final reply (DKIM, DMARC)
//   Enqueue        -> Enqueued | EnqueueFailed   the 250 is sent only after Enqueued
// Timeout and Shutdown may arrive at any time: 421 and Close.
//
// Each role is an explicit Boost.MSM machine in its own translation unit
// (inbound_machine.cpp, submission_machine.cpp); its transition table is checked against
// spec/machines/<role>.tsv by tests/smtp/machine_table_test.cpp.
#pragma once
#include <any>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/clock.hpp"
#include "core/envelope.hpp"
#include "core/message_ref.hpp"
#include "core/reply.hpp"

namespace pigeon::smtp {

enum class Role { submission, inbound };
const char* role_name(Role role);

// Server-wide message memory that all sessions draw on, injected by the driver (the server
// shares one among its connections; thread-safe there). Null in SessionConfig: unlimited (the
// simulator, the conformance runner). The session asks it, never measures anything itself:
//   - message_memory_fits(n): n more octets fit in the budget of messages being received and
//     checked, summed over all sessions. DATA asks it for the size the client declared with
//     SIZE= (RFC 1870), or for one octet, and gets 452 4.3.1 before any byte is sent if not;
//     a declared size is then reserved at once, so clients that declare are served first come
//     first served instead of all growing into the budget together.
//   - reserve_message_memory(n) / release_message_memory(n): a session takes octets as its
//     message grows and gives them all back when the message is queued, refused or dropped. A
//     refused reservation makes the rest of the message be discarded, and its end gets
//     452 4.3.1 (RFC 3463 X.3.1).
// (The spool's free disk is the policy's question at MAIL: app/services.hpp.)
class ResourceGate {
public:
    virtual ~ResourceGate() = default;
    virtual bool message_memory_fits(std::size_t octets) const = 0;
    virtual bool reserve_message_memory(std::size_t octets) = 0;
    virtual void release_message_memory(std::size_t octets) = 0;
};

// Where a message being received goes once it outgrows memory, injected by the driver (the
// server: an unnamed file beside the spool, net/spill.hpp). Null in SessionConfig: messages
// stay in memory (the simulator, the conformance runner). Once a message's stored octets
// reach SessionConfig::spill_threshold_octets the session opens a File, writes what it holds
// and from then on everything as it arrives (in writes of at least spill_chunk_octets), so the
// memory a message takes stays near the threshold whatever its size:
//   - open(): a new, empty file; null when none can be made (the message then ends as
//     insufficient storage: 452 4.3.1 after its end);
//   - File::write(octets): appends; false when it cannot (disk full): the same 452;
//   - File::finish(): every octet written, as one message for the checks and the spool (a
//     mapped file); null on failure (the same 452). A File dropped unfinished leaves nothing.
// Called on the session's thread only.
class MessageSpill {
public:
    class File {
    public:
        virtual ~File() = default;
        virtual bool write(std::string_view octets) = 0;
        virtual core::MessageRef finish() = 0;
    };
    virtual ~MessageSpill() = default;
    virtual std::unique_ptr<File> open() = 0;
};

inline constexpr std::size_t spill_chunk_octets = 64 * 1024;

struct SessionConfig {
    Role role = Role::inbound;
    std::string hostname = "localhost";          // our name in the greeting, EHLO and Received:
    std::uint64_t max_message_octets = 25 * 1024 * 1024;  // advertised as SIZE (RFC 1870)
    std::size_t max_recipients = 100;            // per transaction, >= 100 (RFC 5321 4.5.3.1.8)
    bool tls_available = false;                  // a certificate is loaded: offer STARTTLS
    bool tls_active = false;                     // implicit TLS (port 465): TLS from the start
    bool auth_without_tls = false;               // submission: allow AUTH in clear (tests only)
    // After this many error replies (4xx/5xx to commands, rejected recipients included) the
    // session answers 421 4.7.0 and closes: dictionary and garbage floods end early. 0 = no limit.
    std::size_t max_errors = 20;
    const core::Clock* clock = nullptr;          // required: dates the Received: header
    ResourceGate* resources = nullptr;           // optional: outlives the session
    MessageSpill* spill = nullptr;               // optional: outlives the session
    std::uint64_t spill_threshold_octets = 1024 * 1024;  // with a spill: kept in memory up to this
    // Optional observer of every line sent and received and every state change
    // ("C: ...", "S: ...", "state: A -> B"): transcripts and logs.
    std::function<void(std::string_view)> trace;
};

struct PeerInfo {
    std::string address = "127.0.0.1";  // client IP address, as text
};

// ---- actions (session -> driver) ----
struct Send { std::string bytes; };
struct BeginTls {};  // start the TLS handshake (the answer to STARTTLS was sent)
struct Authenticate {
    std::string mechanism;  // "PLAIN" or "LOGIN"
    std::string authzid;    // requested authorization identity (PLAIN), may be empty
    std::string authcid;    // the user name
    std::string password;
    bool secured = false;   // the session is under TLS (Dovecot's `secured`)
};
struct CheckSender { core::Envelope envelope; };                       // reverse_path set
struct CheckRecipient { core::Envelope envelope; core::Path recipient; };
// The message as received (no prefix: message.contiguous() is all of it).
struct CheckMessage { core::Envelope envelope; core::MessageRef message; };
struct Enqueue {
    core::Envelope envelope;
    // What to store: our Received: and the verdict's fields as its prefix, then the message
    // as received (or with the verdict's replacement). message.to_string() is all of it.
    core::MessageRef message;
    std::string folder;                          // the verdict's folder hint ("Junk"), may be empty
};
struct Close {};
using Action = std::variant<Send, BeginTls, Authenticate, CheckSender, CheckRecipient,
                            CheckMessage, Enqueue, Close>;

// ---- events (driver -> session) ----
struct TlsReady { static constexpr const char* name = "TlsReady"; };
struct AuthResult {
    static constexpr const char* name = "AuthResult";
    enum class Outcome { ok, bad_credentials, temporary_failure };
    Outcome outcome = Outcome::ok;
    std::string identity;  // the authenticated user when ok
};
struct Verdict {
    static constexpr const char* name = "Verdict";
    bool accept = true;
    std::optional<core::Reply> reply;  // replaces the default reply (required when rejecting)
    // Header fields to add below our Received: (CheckSender: e.g. Received-SPF:, also carried
    // in Envelope::trace_fields to the later checks; CheckMessage: e.g. Date:, Message-ID:).
    std::string prepend;
    std::string folder;                // CheckMessage: delivery folder hint ("Junk"), may be empty
    // CheckSender: what the policy found at MAIL for its own later steps (the policy layer
    // stores its typed SPF outcome here); the session carries it untouched in
    // Envelope::sender_facts to CheckMessage. Empty: keep what the envelope has.
    std::any sender_facts;
    // CheckMessage: store the message with its first `replaced_octets` octets replaced by
    // this (e.g. its header section with forged Authentication-Results fields renamed,
    // RFC 8601 5), the rest as received. nullopt: the message as received.
    std::optional<std::string> replacement;
    // A refusal with this reply (the policy layer's one way to say no).
    static Verdict refusal(int code, const char* enhanced, std::string text) {
        Verdict v;
        v.accept = false;
        v.reply = core::Reply(code, enhanced, std::move(text));
        return v;
    }
    std::uint64_t replaced_octets = 0;
};
struct Enqueued { static constexpr const char* name = "Enqueued"; std::string queue_id; };
struct EnqueueFailed { static constexpr const char* name = "EnqueueFailed"; std::string reason; };
struct Timeout { static constexpr const char* name = "Timeout"; };
// The server is stopping: 421 4.3.2 and Close (RFC 5321 3.8). The driver sends it to sessions
// that are between transactions, and to the rest when its grace period ends.
struct Shutdown { static constexpr const char* name = "Shutdown"; };
using Event =
    std::variant<TlsReady, AuthResult, Verdict, Enqueued, EnqueueFailed, Timeout, Shutdown>;

class Session {
public:
    virtual ~Session() = default;
    virtual std::vector<Action> start() = 0;
    virtual std::vector<Action> put(std::string_view bytes) = 0;
    virtual std::vector<Action> put_eof() = 0;
    virtual std::vector<Action> on(const Event& event) = 0;
    virtual bool closed() const = 0;
    virtual std::string_view state() const = 0;  // current machine state, e.g. "Greeted"
    // No transaction is in progress and nothing is awaited: a Shutdown now loses nothing.
    virtual bool idle() const = 0;
};

std::unique_ptr<Session> make_session(SessionConfig config, PeerInfo peer);

}  // namespace pigeon::smtp
