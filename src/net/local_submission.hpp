// pigeon/net/local_submission.hpp: the Unix stream socket `pigeon sendmail` hands mail to
// (docs/security.md, "Local submission"). The server authenticates the caller by the kernel's
// SO_PEERCRED, never by anything the caller sends; what the caller may do is decided by the
// handler (app/local_submit.cpp), which runs the submission checks on it.
//
// Contract:
//   - LocalSubmissionServer binds `path`, replacing a stale socket file left by a crash (never
//     another kind of file), creating its directory 0755 when missing, and makes it 0666: any
//     local user may connect. It serves on its own thread until stop() (or destruction), which
//     closes the socket, removes the file and waits for the answers in flight.
//   - One request per connection (the format below), every part bounded: each head line at most
//     max_head_line_octets, at most max_recipients RCPT lines, the message at most
//     max_message_octets (SIZE is checked before any octet of it is read), the whole request
//     and its answer within `timeout`, at most max_clients connections at once (more get 421
//     and are closed). Input after the message is an error. Bad input gets a 5xx answer.
//   - The answer is one SMTP reply line: "250 2.0.0 Ok: queued as ID" or "4xx/5xx x.y.z text",
//     CRLF; then the server closes. 250 is sent only after the handler's answer, i.e. after
//     the message is durably in the spool.
//   - `submit` is called once per well-formed request, from the server's thread; it calls its
//     `done` exactly once, from any thread.
// Request (each head line ends in LF):
//   "PIGEON-SENDMAIL 1"  the version
//   "FROM <addr>"        optional (sendmail -f): the envelope sender; absent: the caller's own
//   "NAME text"          optional (sendmail -F): the display name of a From: the server adds
//   "RCPT <addr>"        one or more, in order
//   "SIZE n"             last: then exactly n octets of message, lines ending in CRLF
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/reply.hpp"
#include "core/result.hpp"

namespace pigeon::net {

inline constexpr std::string_view local_request_version = "PIGEON-SENDMAIL 1";
inline constexpr std::size_t max_head_line_octets = 1000;

struct LocalRequest {
    std::optional<std::string> from;  // between the angle brackets
    std::string name;
    std::vector<std::string> recipients;  // between the angle brackets
    std::uint64_t size = 0;
    friend bool operator==(const LocalRequest&, const LocalRequest&) = default;
};

// The head of a request, for the client (app/sendmail_cmd.cpp).
std::string format_local_request_head(const LocalRequest& request);

// Reads a request head line by line; the error is the 5xx reply to send.
class LocalRequestParser {
public:
    LocalRequestParser(std::uint64_t max_message_octets, std::uint32_t max_recipients)
        : max_message_octets_(max_message_octets), max_recipients_(max_recipients) {}
    // One line without its LF. True once the SIZE line (the last) was read.
    core::Result<bool, core::Reply> line(std::string_view text);
    const LocalRequest& request() const { return request_; }

private:
    std::uint64_t max_message_octets_;
    std::uint32_t max_recipients_;
    bool versioned_ = false;
    LocalRequest request_;
};

enum class LocalSocketCode : std::uint8_t { cannot_listen };

struct LocalSubmission {
    std::uint32_t uid = 0;  // SO_PEERCRED
    std::int32_t pid = 0;
    LocalRequest request;
    std::string message;
};

class LocalSubmissionServer {
public:
    struct Options {
        std::string path;
        std::uint64_t max_message_octets = 0;
        std::uint32_t max_recipients = 0;
        std::size_t max_clients = 32;
        std::chrono::seconds timeout{600};
        std::function<void(LocalSubmission, std::function<void(core::Reply)> done)> submit;
        std::function<void(std::string_view)> log;  // problems; may be empty
    };
    // Fails (the reason) when the socket cannot be made.
    static core::Result<std::unique_ptr<LocalSubmissionServer>, core::Error<LocalSocketCode>> start(Options options);
    ~LocalSubmissionServer();
    LocalSubmissionServer(const LocalSubmissionServer&) = delete;
    LocalSubmissionServer& operator=(const LocalSubmissionServer&) = delete;
    void stop();

    struct Impl;

private:
    explicit LocalSubmissionServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace pigeon::net
