// pigeon/app/sendmail.cpp: the sendmail(1) command line and message handling (app/sendmail.hpp).
#include "app/sendmail.hpp"

#include <algorithm>

#include "core/ascii.hpp"
#include "core/header.hpp"

namespace pigeon::app {
namespace {

using Args = SendmailArgs;

constexpr std::string_view ignored_flags = "vnmUG";            // no value
constexpr std::string_view ignored_with_value = "BNRVLhXO";   // a value, attached or next
constexpr std::string_view honoured_with_value = "frFC";

core::ParseError usage(std::string text) { return core::ParseError{"pigeon sendmail: " + std::move(text)}; }

void set_value(Args& a, char option, std::string value) {
    switch (option) {
        case 'f':
        case 'r': a.sender = std::move(value); break;
        case 'F': a.full_name = std::move(value); break;
        case 'C': a.config_path = std::move(value); break;
        default: break;  // ignored_with_value
    }
}

// -bX: the mode.
std::optional<core::ParseError> set_mode(Args& a, std::string_view mode) {
    if (mode == "m") a.mode = Args::Mode::deliver;
    else if (mode == "p") a.mode = Args::Mode::list_queue;
    else if (mode == "i") a.mode = Args::Mode::rebuild_aliases;
    else if (mode == "d") return usage("-bd: the daemon is `pigeon serve`");
    else if (mode == "s") return usage("-bs (SMTP on standard input) is not supported: use the submission port");
    else return usage("-b" + std::string(mode) + " is not supported");
    return std::nullopt;
}

// -oX: only -oi means anything here (a dot line is data); -oem, -odi, -oQ... are ignored.
void set_o_option(Args& a, std::string_view rest) {
    if (rest == "i") a.dot_is_data = true;
}

}  // namespace

core::Result<SendmailArgs> parse_sendmail_args(const std::vector<std::string>& args) {
    Args a;
    std::size_t i = 0;
    for (; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--") {
            ++i;
            break;
        }
        if (arg.size() < 2 || arg[0] != '-') break;
        if (arg[1] == 'o') {
            if (arg.size() == 2) return usage("-o needs an option letter (-oi, -oem, ...)");
            set_o_option(a, std::string_view(arg).substr(2));
            continue;
        }
        if (arg[1] == 'b') {
            if (auto e = set_mode(a, std::string_view(arg).substr(2))) return *e;
            continue;
        }
        for (std::size_t k = 1; k < arg.size(); ++k) {
            const char c = arg[k];
            if (c == 't') a.recipients_from_header = true;
            else if (c == 'i') a.dot_is_data = true;
            else if (ignored_flags.find(c) != std::string_view::npos) continue;
            else if (honoured_with_value.find(c) != std::string_view::npos ||
                     ignored_with_value.find(c) != std::string_view::npos) {
                std::string value = arg.substr(k + 1);
                if (value.empty()) {
                    if (i + 1 >= args.size()) return usage(std::string("-") + c + " needs a value");
                    value = args[++i];
                }
                set_value(a, c, std::move(value));
                break;
            } else {
                return usage(std::string("unknown option -") + c);
            }
        }
    }
    for (; i < args.size(); ++i) a.recipients.push_back(args[i]);
    return a;
}

std::string read_message(std::string_view input, bool dot_is_data) {
    std::string out;
    out.reserve(input.size() + input.size() / 32);
    bool first = true;
    while (!input.empty()) {
        const std::size_t lf = input.find('\n');
        std::string_view line = input.substr(0, lf);
        input = lf == std::string_view::npos ? std::string_view() : input.substr(lf + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!dot_is_data && line == ".") break;
        // Not a header field ("name:" with a printable name): the message is all body.
        if (first && !line.empty()) {
            const std::size_t colon = line.find(':');
            const bool field = colon != std::string_view::npos && colon > 0 &&
                               std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon),
                                           [](char ch) { return ch > 32 && ch < 127; });
            if (!field) out += "\r\n";
        }
        first = false;
        out.append(line).append("\r\n");
    }
    return out;
}

std::vector<std::string> header_recipients(std::string_view message) {
    std::vector<std::string> out;
    auto header = core::parse_header(message);
    if (!header.ok()) return out;
    for (const core::HeaderField& f : header.value()) {
        if (!core::field_is(f, "To") && !core::field_is(f, "Cc") && !core::field_is(f, "Bcc")) continue;
        for (std::string& a : core::addresses_in(core::unfold(f.value))) {
            const bool seen = std::any_of(out.begin(), out.end(), [&](const std::string& b) {
                return core::ascii_lower(a) == core::ascii_lower(b);
            });
            if (!seen) out.push_back(std::move(a));
        }
    }
    return out;
}

std::string without_bcc(std::string_view message) {
    std::string out;
    out.reserve(message.size());
    bool in_header = true, dropping = false;
    while (!message.empty()) {
        const std::size_t lf = message.find('\n');
        const std::string_view line = message.substr(0, lf == std::string_view::npos ? message.size() : lf + 1);
        message.remove_prefix(line.size());
        if (in_header) {
            if (line == "\r\n" || line == "\n") {
                in_header = false;
            } else if (line.front() == ' ' || line.front() == '\t') {
                if (dropping) continue;  // a continuation of the Bcc: field
            } else {
                dropping = core::ascii_lower(line.substr(0, 4)) == "bcc:";
                if (dropping) continue;
            }
        }
        out.append(line);
    }
    return out;
}

std::string_view program_name(std::string_view argv0) {
    const std::size_t slash = argv0.rfind('/');
    return slash == std::string_view::npos ? argv0 : argv0.substr(slash + 1);
}

}  // namespace pigeon::app
