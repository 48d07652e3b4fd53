// pigeon/smtp/server/replies.hpp: every reply the SMTP server sends, named once.
//
// The session (session_base.cpp), the command parser (command.cpp) and the DATA reader
// (data_reader.cpp) send these and only these; docs/protocol.md's reply table is rendered from
// catalogue() (tests/smtp/replies_test.cpp fails when the two differ, and rewrites the doc
// when PIGEON_REGENERATE_DOCS=1 is set); and the same test checks that every server line of
// every conformance transcript (conformance/transcripts/) is one of them.
//
// Contract:
//   - A Spec is a code, an enhanced status ("" for none: the greeting, HELO/EHLO and 3xx
//     replies, RFC 2034 3) and a text in which "{word}" marks a value the sender fills in,
//     plus the situation and the RFC sections, for the docs.
//   - reply() / reply({values...}) fill the marks in order, left to right; a Spec is used with
//     exactly as many values as it has marks (a programming error otherwise, asserted).
//   - Policies (src/policy) answer with their own texts, which replace the session's defaults
//     (rejected_sender, rejected_recipient, rejected_message); those are listed in
//     docs/protocol.md's second table.
#pragma once
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "core/reply.hpp"

namespace pigeon::smtp::replies {

struct Spec {
    std::string_view name;       // an identifier, as in this file
    int code = 0;
    std::string_view enhanced;   // "" for none
    std::string_view text;       // "{hostname} closing connection"
    std::string_view situation;  // when it is sent, for docs/protocol.md
    std::string_view rfc;        // "5321 4.1.1.10"

    std::string text_with(std::initializer_list<std::string_view> values = {}) const;
    core::Reply reply(std::initializer_list<std::string_view> values = {}) const;
};

// ---- connection ----
inline constexpr Spec greeting{"greeting", 220, "", "{hostname} ESMTP Pigeon", "greeting",
                               "5321 4.2, 4.3.1"};
inline constexpr Spec helo{"helo", 250, "", "{hostname}", "HELO", "5321 4.1.1.1"};
inline constexpr Spec ehlo{"ehlo", 250, "", "{hostname} greets {client}",
                           "EHLO: its first line, sent as `250-` with one more line per extension (see below)", "5321 4.1.1.1"};
inline constexpr Spec quit{"quit", 221, "2.0.0", "{hostname} closing connection", "QUIT",
                           "5321 4.1.1.10"};
inline constexpr Spec timeout{"timeout", 421, "4.4.2", "{hostname} Error: timeout exceeded",
                              "idle timeout (then close)", "5321 4.5.3.2"};
inline constexpr Spec too_many_errors{
    "too_many_errors", 421, "4.7.0", "{hostname} Error: too many errors",
    "too many error replies in one session (`limits.max_errors_per_session`): after the error "
    "reply, then close",
    "5321 4.2.2"};
inline constexpr Spec too_much_input{
    "too_much_input", 421, "4.7.0", "{hostname} Error: too much pipelined input",
    "more than 1 MiB of unprocessed input handed to the session (pipelined behind a check), then "
    "close. The TCP server does not get there: it stops reading while the session waits or while "
    "more than 32 KiB of replies are unread, and TCP flow control holds the client",
    "2920"};
inline constexpr Spec shutting_down{
    "shutting_down", 421, "4.3.2", "{hostname} Service shutting down",
    "the server is stopping (SIGTERM/SIGINT), then close (at once when idle, after the "
    "transaction otherwise)",
    "5321 3.8"};

inline constexpr Spec too_many_connections{
    "too_many_connections", 421, "4.7.0", "{hostname} Error: {why}, try again later",
    "over `limits.max_connections` (why: `too many connections`) or `max_connections_per_ip` "
    "(`too many connections from <ip or IPv6 network>`, IPv6 clients counted per "
    "`limits.ipv6_prefix_bits` network), before any greeting, then close (net/server.cpp)",
    "5321 3.8"};

// ---- commands in general ----
inline constexpr Spec ok{"ok", 250, "2.0.0", "OK", "RSET, NOOP", "5321 4.1.1.5, 4.1.1.9"};
inline constexpr Spec bad_sequence{
    "bad_sequence", 503, "5.5.1", "Bad sequence of commands",
    "MAIL/RCPT/AUTH/STARTTLS out of order (no transition in the machine)", "5321 4.3.2"};
inline constexpr Spec unrecognized{"unrecognized", 500, "5.5.2", "Command not recognized",
                                   "unknown command", "5321 4.2.4"};
inline constexpr Spec line_too_long{"line_too_long", 500, "5.5.2", "Line too long",
                                    "command line over 512 octets", "5321 4.5.3.1.4"};
inline constexpr Spec bare_line_ending_in_command{
    "bare_line_ending_in_command", 500, "5.5.2", "Bare CR or LF in command line",
    "CR or LF inside a command line", "5321 2.3.8"};
inline constexpr Spec syntax{"syntax", 501, "5.5.4", "Syntax: {usage}",
                             "bad arguments to a known command", "5321 4.2.4"};
inline constexpr Spec vrfy{"vrfy", 252, "2.0.0",
                           "Cannot VRFY user, but will accept message and attempt delivery", "VRFY",
                           "5321 3.5.3"};
inline constexpr Spec expn{"expn", 502, "5.5.1", "EXPN not implemented", "EXPN", "5321 4.2.4"};
inline constexpr Spec help{"help", 214, "2.0.0", "{commands}",
                           "HELP: `Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP` "
                           "(+ STARTTLS, AUTH where offered)",
                           "5321 4.1.1.8"};

// ---- MAIL, RCPT ----
inline constexpr Spec sender_ok{"sender_ok", 250, "2.1.0", "Sender OK", "MAIL accepted",
                                "5321 4.1.1.2"};
inline constexpr Spec size_over_limit{"size_over_limit", 552, "5.3.4",
                                      "Message size exceeds fixed maximum message size",
                                      "MAIL with SIZE= over the limit", "1870 6"};
inline constexpr Spec bad_sender_syntax{"bad_sender_syntax", 501, "5.1.7",
                                        "Bad sender address syntax", "bad mailbox in MAIL",
                                        "3463"};
inline constexpr Spec bad_recipient_syntax{"bad_recipient_syntax", 501, "5.1.3",
                                           "Bad recipient address syntax", "bad mailbox in RCPT",
                                           "3463"};
inline constexpr Spec needs_smtputf8{"needs_smtputf8", 553, "5.6.7",
                                     "Non-ASCII address requires SMTPUTF8",
                                     "UTF-8 address without SMTPUTF8", "6531 3.6.2"};
inline constexpr Spec unsupported_parameter{"unsupported_parameter", 555, "5.5.4",
                                            "Unsupported parameter {NAME}",
                                            "unknown MAIL/RCPT parameter", "5321 4.1.1.11"};
inline constexpr Spec rejected_sender{"rejected_sender", 550, "5.7.1", "Sender rejected",
                                      "policy rejects the sender (default text)", "5321 4.2.2"};
inline constexpr Spec recipient_ok{"recipient_ok", 250, "2.1.5", "Recipient OK", "RCPT accepted",
                                   "5321 4.1.1.3"};
inline constexpr Spec rejected_recipient{"rejected_recipient", 550, "5.1.1", "Recipient rejected",
                                         "policy rejects the recipient (default text)",
                                         "5321 4.2.2"};
inline constexpr Spec too_many_recipients{"too_many_recipients", 452, "4.5.3",
                                          "Too many recipients", "RCPT over max_recipients",
                                          "5321 4.5.3.1.10"};

// ---- DATA ----
inline constexpr Spec no_valid_recipients{"no_valid_recipients", 554, "5.5.1",
                                          "No valid recipients",
                                          "DATA with MAIL but no accepted RCPT", "5321 3.3"};
inline constexpr Spec start_data{"start_data", 354, "", "End data with <CR><LF>.<CR><LF>",
                                 "DATA accepted", "5321 4.1.1.4"};
inline constexpr Spec no_memory_for_message{
    "no_memory_for_message", 452, "4.3.1",
    "Insufficient system resources for a message now; try again later",
    "DATA while the server's message memory (`limits.message_memory_octets`) is taken",
    "5321 4.2.3; 3463"};
inline constexpr Spec no_memory_left_in_message{
    "no_memory_left_in_message", 452, "4.3.1",
    "Insufficient system resources for this message now; try again later",
    "end of data, the message memory ran out (or its spill file failed) while it arrived",
    "5321 4.2.3; 3463"};
inline constexpr Spec bare_line_ending_in_data{
    "bare_line_ending_in_data", 554, "5.6.0",
    "Message rejected: bare CR or LF in message (RFC 5321 2.3.8)", "bare CR or LF in DATA",
    "5321 2.3.8, 4.1.1.4"};
inline constexpr Spec message_too_large{"message_too_large", 552, "5.3.4",
                                        "Message size exceeds fixed maximum message size",
                                        "message over the size limit", "5321 4.5.3.1.7, 1870"};
inline constexpr Spec data_line_too_long{"data_line_too_long", 554, "5.6.0",
                                         "Message rejected: text line longer than 1000 octets",
                                         "text line over 1000 octets in DATA", "5321 4.5.3.1.6"};
inline constexpr Spec rejected_message{"rejected_message", 550, "5.7.1", "Message rejected",
                                       "policy rejects the message (default text)", "5321 4.2.2"};
inline constexpr Spec queued{"queued", 250, "2.0.0", "OK: queued as {id}", "end of data, queued",
                             "5321 4.1.1.4, 6.1"};
inline constexpr Spec spool_failed{"spool_failed", 452, "4.3.1",
                                   "Insufficient system storage; try again later",
                                   "end of data, spool failed (disk full, write error)",
                                   "5321 4.2.3, 6.1; 3463"};

// ---- STARTTLS ----
inline constexpr Spec tls_ready{"tls_ready", 220, "2.0.0", "Ready to start TLS",
                                "STARTTLS accepted", "3207 4"};
inline constexpr Spec tls_not_available{"tls_not_available", 454, "4.7.0", "TLS not available",
                                        "STARTTLS without a certificate", "3207 4"};
inline constexpr Spec tls_already_active{"tls_already_active", 503, "5.5.1", "TLS already active",
                                         "STARTTLS when TLS is already active", "3207 4.2"};

// ---- AUTH ----
inline constexpr Spec must_starttls_first{"must_starttls_first", 530, "5.7.0",
                                          "Must issue a STARTTLS command first",
                                          "AUTH before TLS on submission", "3207 4, 4954 4"};
inline constexpr Spec auth_not_available{"auth_not_available", 502, "5.5.1",
                                         "AUTH not available on this service",
                                         "AUTH on the inbound role", "4954"};
inline constexpr Spec unknown_mechanism{"unknown_mechanism", 504, "5.5.4",
                                        "Unrecognized authentication type",
                                        "AUTH with an unknown mechanism", "4954 4"};
inline constexpr Spec auth_challenge{
    "auth_challenge", 334, "", "{challenge}",
    "AUTH challenge, base64 (PLAIN: empty; LOGIN: `VXNlcm5hbWU6`, `UGFzc3dvcmQ6`)",
    "4954 4, 4616"};
inline constexpr Spec auth_cancelled{"auth_cancelled", 501, "5.0.0", "Authentication cancelled",
                                     "AUTH cancelled by `*`", "4954 4"};
inline constexpr Spec cannot_decode{"cannot_decode", 501, "5.5.2", "Cannot decode response",
                                    "AUTH response not base64 / malformed", "4954 4"};
inline constexpr Spec auth_line_too_long{"auth_line_too_long", 500, "5.5.6",
                                         "Authentication exchange line is too long",
                                         "AUTH line over 12288 octets", "4954 4"};
inline constexpr Spec auth_succeeded{"auth_succeeded", 235, "2.7.0", "Authentication successful",
                                     "AUTH succeeded", "4954 6"};
inline constexpr Spec auth_failed{"auth_failed", 535, "5.7.8",
                                  "Authentication credentials invalid", "AUTH failed", "4954 6"};
inline constexpr Spec auth_temporary_failure{"auth_temporary_failure", 454, "4.7.0",
                                             "Temporary authentication failure",
                                             "AUTH temporary failure", "4954 6"};
inline constexpr Spec already_authenticated{"already_authenticated", 503, "5.5.1",
                                            "Already authenticated", "AUTH after success",
                                            "4954 4"};
inline constexpr Spec auth_required{"auth_required", 530, "5.7.0", "Authentication required",
                                    "MAIL on submission before AUTH", "4954 6"};

// Every Spec above, in this file's order (which is docs/protocol.md's).
std::span<const Spec* const> catalogue();

// docs/protocol.md's reply table, as Markdown (header row included, one row per Spec).
std::string markdown_table();

}  // namespace pigeon::smtp::replies
