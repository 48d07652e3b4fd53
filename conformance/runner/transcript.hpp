// pigeon/conformance/transcript.hpp: conformance transcripts, their parser and their player.
//
// Contract: a transcript (conformance/transcripts/*.txt, format in spec/README.md) is a
// header of "# key: value" lines and a body of client sends (C:, C!), server expectations
// (S:, S~, S*) and events (TLS, TIMEOUT, EOF, CLOSED, NOSERVER). parse_transcript() never
// throws: bad input is a ParseError naming the line.
//
// play() runs a transcript against a Transport and stops at the first mismatch. The
// transport is the only thing that knows what the server is: MemoryTransport drives a
// sans-I/O smtp::Session in process and answers its asynchronous requests from the
// transcript's `users:` and `policy:` headers; TcpTransport (conformance/tcp/) plays the
// same files against the real binary over a socket.
#pragma once
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "smtp/server/session.hpp"

namespace pigeon::conformance {

struct Step {
    enum class Kind {
        send,          // C: / C! lines, already joined into the bytes of one put()
        expect_exact,  // S: line
        expect_regex,  // S~ regex (ECMAScript, must match the whole line)
        expect_skip,   // S* code: "code-" lines up to and including the final "code " line
        tls,           // TLS: the last action was BeginTls; answer TlsReady
        timeout,       // TIMEOUT: deliver the Timeout event
        eof,           // EOF: the client closes its side
        closed,        // CLOSED: the server has closed the session
        noserver,      // NOSERVER: no unread server line remains
    };
    Kind kind = Kind::send;
    std::string text;  // bytes to send, expected line, regex, or the S* reply code
    int line = 0;      // 1-based line in the transcript file (first line of a send group)
};

// The answers the in-memory player gives to the session's asynchronous requests.
struct Policy {
    std::vector<std::string> reject_senders;             // reject-sender=<addr>
    std::vector<std::string> reject_recipients;          // reject-recipient=<addr>
    std::vector<std::string> reject_message_containing;  // reject-message-containing=TEXT
    bool enqueue_fails = false;                          // enqueue-fails
    bool tempfail_auth = false;                          // tempfail-auth
    // enqueue-requires=TEXT: the message handed to Enqueue must contain TEXT (e.g. our
    // Received: field, RFC 5321 4.4), else the player answers EnqueueFailed.
    std::vector<std::string> enqueue_requires;
};

struct Transcript {
    std::string name;  // file stem, e.g. "101-mail-null-path"
    std::string title;
    std::vector<std::string> covers;  // requirement ids (spec/requirements/*.toml)
    smtp::SessionConfig config;       // role and header overrides; clock and trace unset
    std::map<std::string, std::string> users;  // authcid -> password
    Policy policy;
    std::vector<Step> steps;
    // `# tcp: skip REASON`: the transcript cannot be played over TCP against the binary
    // (pigeon-conformance --tcp reports it as skipped with REASON). Empty: no such header.
    std::string tcp_skip;
};

// The default hostname of a transcript's server (overridable with `# config: hostname=`).
inline constexpr std::string_view default_hostname = "mx.test.example";

core::Result<Transcript> parse_transcript(std::string_view text, std::string name);
core::Result<Transcript> load_transcript(const std::filesystem::path& file);

// Expands the C escapes of a `C!` line (\r \n \t \\ \xHH).
core::Result<std::string> unescape(std::string_view text);
// The inverse, for messages: shows CR, LF, tabs and non-printable octets as escapes.
std::string escape(std::string_view bytes);

// What the player needs from "a server". Every operation returns an empty string on
// success or a description of why it could not be carried out.
class Transport {
public:
    virtual ~Transport() = default;
    virtual std::string send(std::string_view bytes) = 0;
    virtual std::string start_tls() = 0;  // STARTTLS was answered 220: start the handshake
    virtual std::string timeout() = 0;    // make the server's idle timer fire now
    virtual std::string eof() = 0;        // close the client's sending side
    // The next complete server line without its CRLF, or nullopt when the server has sent
    // nothing more (in memory: nothing buffered; over a socket: nothing within a deadline).
    virtual std::optional<std::string> receive_line() = 0;
    // Like receive_line(), for a point where the transcript expects silence (NOSERVER, the
    // end): a socket waits only a short grace period instead of the full deadline.
    virtual std::optional<std::string> poll_line() { return receive_line(); }
    virtual bool closed() = 0;  // the server has closed the connection
    // Server bytes received after the last CRLF (a reply line cut short).
    virtual std::string unterminated() const { return {}; }
};

// Plays a transcript against an in-process smtp::Session (core::FixedClock).
class MemoryTransport final : public Transport {
public:
    // `trace` (optional) receives the session's own trace lines (state changes).
    MemoryTransport(const Transcript& transcript,
                    std::function<void(std::string_view)> trace = {});

    // Deliver each put() one octet at a time: the session must be split-invariant.
    void set_bytewise(bool on) { bytewise_ = on; }

    std::string send(std::string_view bytes) override;
    std::string start_tls() override;
    std::string timeout() override;
    std::string eof() override;
    std::optional<std::string> receive_line() override;
    bool closed() override { return closed_; }
    std::string unterminated() const override { return output_; }

    // Bytes the server sent that do not (yet) end in CRLF.
    const std::string& partial_output() const { return output_; }

private:
    enum class Last { none, send, start_tls, other };
    void run(std::vector<smtp::Action> actions);
    smtp::Event answer(const smtp::Action& action);

    const Transcript& transcript_;
    core::FixedClock clock_;
    std::unique_ptr<smtp::Session> session_;
    std::string output_;              // server bytes not yet split into lines
    std::deque<std::string> lines_;   // complete server lines, unread
    std::string error_;               // a protocol error seen while running actions
    Last last_ = Last::none;
    bool closed_ = false;
    bool bytewise_ = false;
    int next_queue_id_ = 1;
};

struct Failure {
    int line = 0;           // transcript line of the failing step (0: end of transcript)
    std::string message;    // what went wrong
    std::string expected;   // the expected server line, when the step was an expectation
    std::string actual;     // the line the server sent instead, or "(nothing)"
};

struct PlayResult {
    std::optional<Failure> failure;  // empty when the transcript passed
    std::vector<std::string> dialogue;  // "C: ..." / "S: ..." / "-- event" as played
    bool passed() const { return !failure.has_value(); }
};

PlayResult play(const Transcript& transcript, Transport& transport);

}  // namespace pigeon::conformance
