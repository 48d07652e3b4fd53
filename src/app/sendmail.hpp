// pigeon/app/sendmail.hpp: `pigeon sendmail`, the sendmail(1) interface local programs (cron,
// PHP's mail(), s-nail, mutt, git send-email) hand mail to. Also run as `sendmail` and
// `mailq` (= sendmail -bp), the names the package links to the binary (docs/operations.md).
//
// Contract (the pure parts, tested in tests/app/sendmail_test.cpp):
//   parse_sendmail_args   the arguments after the program name, as Postfix's sendmail(1) takes
//                         them (flags may be clustered: "-ti"; an option's value may be attached
//                         "-fme@x" or the next argument "-f me@x"; "--" ends the options).
//                         Honoured: -t, -i and -oi, -f and -r (sender), -F (full name), -C (our
//                         configuration file), -bm (the default), -bp (list the queue), -bi
//                         (no alias database to rebuild: does nothing). Accepted and ignored: -v,
//                         -n, -m, -U, -G, -odX, -oeX, -oQX, -o7, -o8, -om and any other -oX,
//                         -B, -N, -R, -V, -L, -h, -X, -O with their values. Anything else, and -bs,
//                         -bd, -bv, -q, is an error naming the option (exit 64).
//   read_message          the input as a message: CRLF or LF line ends become CRLF; unless
//                         dot_is_data (-i), a line of a single "." ends it; the last line gets
//                         its CRLF; input whose first line is not a header field is taken as a
//                         body (an empty header line is put in front).
//   header_recipients     -t: the addr-specs of every To:, Cc: and Bcc: field (groups, comments
//                         and display names skipped; folded fields unfolded), in order, each once.
//   without_bcc           the message without its Bcc: fields (continuation lines included):
//                         Bcc: recipients are never shown to the others.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/cli.hpp"
#include "core/result.hpp"

namespace pigeon::app {

inline constexpr int exit_nouser = 67;    // EX_NOUSER
inline constexpr int exit_tempfail = 75;  // EX_TEMPFAIL: nothing was accepted; try again
inline constexpr int exit_noperm = 77;    // EX_NOPERM
inline constexpr int exit_dataerr = 65;   // EX_DATAERR

struct SendmailArgs {
    enum class Mode { deliver, list_queue, rebuild_aliases } mode = Mode::deliver;
    bool recipients_from_header = false;  // -t
    bool dot_is_data = false;             // -i, -oi
    std::optional<std::string> sender;    // -f, -r
    std::string full_name;                // -F
    std::string config_path;              // -C
    std::vector<std::string> recipients;
    friend bool operator==(const SendmailArgs&, const SendmailArgs&) = default;
};

core::Result<SendmailArgs> parse_sendmail_args(const std::vector<std::string>& args);

std::string read_message(std::string_view input, bool dot_is_data);
std::vector<std::string> header_recipients(std::string_view message);
std::string without_bcc(std::string_view message);

// The program name's last path component ("/usr/sbin/sendmail" -> "sendmail").
std::string_view program_name(std::string_view argv0);

// The whole command: `args` are the arguments after the program name (after "sendmail" for
// `pigeon sendmail`); mailq: invoked as `mailq`. Reads the message from io.in.
int run_sendmail(const std::vector<std::string>& args, bool mailq, Io& io);

}  // namespace pigeon::app
