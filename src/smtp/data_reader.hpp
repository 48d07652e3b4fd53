// pigeon/smtp/data_reader.hpp: the DATA phase reader (RFC 5321 4.1.1.4, 4.5.2, 2.3.8).
//
// Contract: an incremental reader, in the style of Boost.Beast's parsers. put(bytes) returns
// how many octets it consumed; it stops right after the end-of-data mark so the caller keeps
// the rest (pipelined commands). Any split of the input gives the same result.
//   - Data ends only at <CRLF>.<CRLF> (the first CRLF may be the one ending the DATA command,
//     so a "." line at the very start ends it too). A line "." preceded by a bare LF or a bare
//     CR is NOT an end: no smuggling variant (<LF>.<LF>, <LF>.<CRLF>, <CR>.<CR>, <CRLF>.<LF>,
//     ...) can split a message.
//   - Dot-unstuffing: a line starting with "." has that "." removed (4.5.2).
//   - A bare CR or bare LF anywhere marks the message as rejected (Status::bare_line_ending);
//     Pigeon rejects, it does not normalise (docs/architecture.md says why).
//   - The message (unstuffed, CRLF line ends, without the final ".") is limited to
//     max_message_octets; past it the reader keeps consuming to the end mark but stores
//     nothing more (Status::too_large -> 552 5.3.4).
//   - A text line over 1000 octets incl. CRLF (4.5.3.1.6) marks Status::line_too_long.
//   - The driver may refuse to hold more of it (refuse_storage(): the server's message memory
//     is used up); the reader then stores nothing more, frees what it held and keeps reading
//     to the end mark (Status::insufficient_storage -> 452 4.3.1, RFC 3463 X.3.1).
// Precedence when several apply: bare_line_ending, too_large, line_too_long,
// insufficient_storage (the permanent verdicts first).
// Once the message is marked bad it is discarded (message() becomes empty) and nothing more is
// stored; message_octets() still counts every unstuffed octet up to the end mark.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "core/limits.hpp"
#include "core/reply.hpp"

namespace pigeon::smtp {

class DataReader {
public:
    enum class Status { ok, bare_line_ending, too_large, line_too_long, insufficient_storage };

    explicit DataReader(std::uint64_t max_message_octets) : max_message_octets_(max_message_octets) {}

    std::size_t put(std::string_view bytes);
    bool done() const noexcept { return done_; }
    Status status() const noexcept;
    // The unstuffed message; meaningful when done() and status() == ok.
    const std::string& message() const noexcept { return message_; }
    std::string take_message() { return std::move(message_); }
    // Hands over the octets stored so far and keeps reading (the caller writes them on, e.g.
    // to a spill file): message() then holds only what arrives after. Counting, the limits and
    // the status are unaffected.
    std::string take_stored() { return std::exchange(message_, std::string()); }
    std::uint64_t message_octets() const noexcept { return octets_; }  // counted even when not stored
    std::size_t stored_octets() const noexcept { return message_.size(); }  // held in memory now
    void refuse_storage();  // store nothing more; the message ends as insufficient_storage

    // The reply to send for a non-ok status (554 5.6.0, 552 5.3.4, 554 5.6.0 line too long,
    // 452 4.3.1).
    static core::Reply reply_for(Status status);

private:
    enum class State { line_start, dot, dot_cr, mid, cr };
    void append(char c);
    void end_line_ok();

    std::uint64_t max_message_octets_;
    State state_ = State::line_start;
    bool done_ = false;
    bool bare_ = false;
    bool too_large_ = false;
    bool long_line_ = false;
    bool storage_refused_ = false;
    std::size_t line_octets_ = 0;  // wire octets of the current line so far
    std::uint64_t octets_ = 0;
    std::string message_;
};

// Dot-stuffing for the sending side (RFC 5321 4.5.2): returns the wire form of `message`
// (which must use CRLF line ends), including the final "<CRLF>.<CRLF>" (a CRLF is added
// first if the message does not end with one). A "." after a bare LF is stuffed too, so a
// message that breaks the precondition still cannot put <LF>.<CRLF> or <LF>.<LF> on the wire
// for a lax receiver to take as the end (SMTP smuggling).
std::string dot_stuff(std::string_view message);

}  // namespace pigeon::smtp
