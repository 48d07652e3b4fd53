// pigeon/smtp/command.hpp: SMTP commands (RFC 5321 4.1.1, with RFC 1870 SIZE, RFC 6152 BODY,
// RFC 6531 SMTPUTF8, RFC 4954 AUTH, RFC 3207 STARTTLS) and their strict parser and formatter.
//
// Contract: parse_command() takes one command line WITHOUT its CRLF and returns either a
// Command or the Reply to send. It accepts exactly the RFC 5321 4.1 ABNF: verbs are
// case-insensitive; exactly one SP between verb and argument; no space around the colon of
// MAIL FROM:/RCPT TO:; no trailing space. Errors:
//   unknown verb                        -> 500 5.5.2
//   line longer than 512 octets incl. CRLF (RFC 5321 4.5.3.1.4) -> 500 5.5.2;
//   an AUTH line may be 12288 (RFC 4954 4), longer -> 500 5.5.6
//   a CR or LF inside the line (bare CR/LF is never a line end, RFC 5321 2.3.8) -> 500 5.5.2
//   bad syntax of a known verb          -> 501 5.5.4
//   bad address                         -> 501 5.1.7 (MAIL) / 501 5.1.3 (RCPT)
//   non-ASCII address without SMTPUTF8  -> 553 5.6.7 (RFC 6531 3.6.2)
//   unknown MAIL/RCPT parameter         -> 555 5.5.4 (RFC 5321 4.1.1.11)
// It never throws. format_command() writes the line (without CRLF) that parses back to an
// equal Command: parse_command(format_command(c)) == c.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/address.hpp"
#include "core/domain.hpp"
#include "core/envelope.hpp"
#include "core/reply.hpp"

namespace pigeon::smtp {

struct MailParams {
    std::optional<std::uint64_t> size;                     // SIZE=n (RFC 1870)
    core::BodyType body = core::BodyType::unspecified;     // BODY=7BIT|8BITMIME (RFC 6152)
    bool smtputf8 = false;                                 // SMTPUTF8 (RFC 6531)
    std::optional<std::string> auth;                       // AUTH=<xtext> (RFC 4954 5), as sent
    friend bool operator==(const MailParams&, const MailParams&) = default;
};

// Each command is also the Boost.MSM event of the same name; `name` is how the state tables
// in spec/machines/ call it.
struct Helo     { static constexpr const char* name = "HELO";     core::Domain domain; };
struct Ehlo     { static constexpr const char* name = "EHLO";     core::Domain domain; };
struct Mail     { static constexpr const char* name = "MAIL";     core::Path reverse_path; MailParams params; };
struct Rcpt     { static constexpr const char* name = "RCPT";     core::Path forward_path; };
struct Data     { static constexpr const char* name = "DATA"; };
struct Rset     { static constexpr const char* name = "RSET"; };
struct Noop     { static constexpr const char* name = "NOOP";     std::string text; };
struct Quit     { static constexpr const char* name = "QUIT"; };
struct Vrfy     { static constexpr const char* name = "VRFY";     std::string text; };
struct Expn     { static constexpr const char* name = "EXPN";     std::string text; };
struct Help     { static constexpr const char* name = "HELP";     std::string text; };
struct StartTls { static constexpr const char* name = "STARTTLS"; };
struct Auth {
    static constexpr const char* name = "AUTH";
    std::string mechanism;                        // upper-cased
    std::optional<std::string> initial_response;  // base64 text or "=" (empty), as sent
};

bool operator==(const Helo&, const Helo&);
bool operator==(const Ehlo&, const Ehlo&);
bool operator==(const Mail&, const Mail&);
bool operator==(const Rcpt&, const Rcpt&);
inline bool operator==(const Data&, const Data&) { return true; }
inline bool operator==(const Rset&, const Rset&) { return true; }
inline bool operator==(const Noop& a, const Noop& b) { return a.text == b.text; }
inline bool operator==(const Quit&, const Quit&) { return true; }
inline bool operator==(const Vrfy& a, const Vrfy& b) { return a.text == b.text; }
inline bool operator==(const Expn& a, const Expn& b) { return a.text == b.text; }
inline bool operator==(const Help& a, const Help& b) { return a.text == b.text; }
inline bool operator==(const StartTls&, const StartTls&) { return true; }
inline bool operator==(const Auth& a, const Auth& b) {
    return a.mechanism == b.mechanism && a.initial_response == b.initial_response;
}

using Command = std::variant<Helo, Ehlo, Mail, Rcpt, Data, Rset, Noop, Quit, Vrfy, Expn, Help,
                             StartTls, Auth>;

struct CommandSyntax {
    // RCPT inside a transaction whose MAIL carried SMTPUTF8 may use UTF-8 addresses.
    bool utf8_recipients = false;
};

// Either the command, or the error reply to send for this line.
using ParsedCommand = std::variant<Command, core::Reply>;
ParsedCommand parse_command(std::string_view line, CommandSyntax syntax = {});

std::string format_command(const Command& command);  // without CRLF
const char* command_name(const Command& command);

}  // namespace pigeon::smtp
