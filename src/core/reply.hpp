// pigeon/core/reply.hpp: SMTP replies (RFC 5321 4.2) with enhanced status codes (RFC 3463,
// RFC 2034), their formatter and their parser.
//
// Contract: format_reply() writes "ddd-text" lines and a final "ddd text" line, each ending
// in CRLF; when the reply has an enhanced status it starts the text of every line
// (RFC 2034 section 4). parse_reply() / ReplyParser accept what the formatter writes and any
// well-formed RFC 5321 reply; bad input is a ParseError, never an exception.
// Law: parse_reply(format_reply(r)) == r for every well-formed r (see tests/core): code
// 200..599, enhanced status (if any) of the code's class, at least one line, no line text
// containing CR or LF, and, when there is no enhanced status, not every line starting with
// the same one of the code's class (the parser would take it as the reply's). A reply with no lines formats
// as one empty line (the wire cannot say "no text"), so it parses back with one empty line.
// Line text may hold any octet but CR and LF (RFC 6531 servers send UTF-8).
// The parser strips an enhanced status into `enhanced` only when every line's text starts with
// the same one, of the code's class, followed by SP or the end of the text.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace pigeon::core {

// RFC 3463: class "." subject "." detail; class is 2, 4 or 5, subject and detail 0..999.
// parse() rejects leading zeros ("2.01.0") so that parse and to_string are inverses.
struct EnhancedStatus {
    int cls = 2;
    int subject = 0;
    int detail = 0;

    std::string to_string() const;                              // "2.1.5"
    static std::optional<EnhancedStatus> parse(std::string_view text);  // exactly the code
    friend bool operator==(const EnhancedStatus&, const EnhancedStatus&) = default;
};

struct Reply {
    int code = 250;                          // 200..599 (RFC 5321 4.2: 2xx..5xx)
    std::optional<EnhancedStatus> enhanced;  // same class as code's first digit
    std::vector<std::string> lines;          // text of each line, without code or CRLF

    Reply() = default;
    Reply(int c, std::optional<EnhancedStatus> e, std::vector<std::string> l)
        : code(c), enhanced(e), lines(std::move(l)) {}
    // Reply(250, "2.1.0", "Sender OK"): the common one-line reply with an enhanced code.
    // "" means no enhanced code; a code that does not parse or whose class differs from c's
    // first digit is a programming error and throws std::invalid_argument.
    Reply(int c, std::string_view enhanced_code, std::string text);

    bool positive() const noexcept { return code >= 200 && code < 400; }
    bool transient() const noexcept { return code >= 400 && code < 500; }
    bool permanent() const noexcept { return code >= 500; }
    friend bool operator==(const Reply&, const Reply&) = default;
};

std::string format_reply(const Reply& reply);

// Parses one complete reply (all of its lines, each with CRLF).
Result<Reply> parse_reply(std::string_view text);

// Incremental reply reader for the client side: feed bytes as they arrive.
// put() consumes at most up to the end of one complete reply and returns how many octets it
// used; then done() (or failed()) is true and reply() holds it. reset() starts the next one.
class ReplyParser {
public:
    std::size_t put(std::string_view bytes);
    bool done() const noexcept { return state_ == State::done; }
    bool failed() const noexcept { return state_ == State::failed; }
    const Reply& reply() const { return reply_; }
    const std::string& error() const { return error_; }
    void reset();

    static constexpr std::size_t max_lines = 100;  // a reply longer than this is an error

private:
    enum class State { reading, done, failed };
    State state_ = State::reading;
    std::string line_;
    std::vector<std::string> raw_lines_;
    Reply reply_;
    std::string error_;
};

}  // namespace pigeon::core
