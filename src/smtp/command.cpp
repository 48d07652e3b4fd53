// pigeon/smtp/command.cpp: the strict command-line parser and its inverse formatter.
//
// The parser reads left to right and reports the first problem it meets, after the framing
// checks (length, CR/LF) that apply to the line as a whole. Every reply text is the one in
// docs/protocol.md.
#include "smtp/command.hpp"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <type_traits>

#include "core/ascii.hpp"
#include "core/limits.hpp"
#include "smtp/server/replies.hpp"

namespace pigeon::smtp {
namespace {

using core::iequals;
using core::istarts_with;
using core::Reply;

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
bool is_alpha(unsigned char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

std::string to_upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = upper(c);
    return out;
}

bool has_non_ascii(std::string_view s) {
    for (unsigned char c : s) {
        if (c >= 0x80) return true;
    }
    return false;
}

Reply syntax(std::string usage) { return replies::syntax.reply({usage}); }
Reply unrecognized() { return replies::unrecognized.reply(); }

// String = Atom / Quoted-string (RFC 5321 4.1.2), the argument of VRFY, EXPN, HELP, NOOP.
bool is_atext(unsigned char c) {
    if (is_alpha(c) || is_digit(c)) return true;
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
        case '-': case '/': case '=': case '?': case '^': case '_': case '`': case '{':
        case '|': case '}': case '~':
            return true;
        default:
            return false;
    }
}

bool is_smtp_string(std::string_view s) {
    if (s.empty()) return false;
    if (s.front() != '"') {
        for (unsigned char c : s) {
            if (!is_atext(c)) return false;
        }
        return true;
    }
    // Quoted-string: qtextSMTP = %d32-33 / %d35-91 / %d93-126, quoted-pairSMTP = "\" %d32-126.
    for (std::size_t i = 1; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '"') return i + 1 == s.size();
        if (c == '\\') {
            if (i + 1 >= s.size()) return false;
            const auto q = static_cast<unsigned char>(s[++i]);
            if (q < 32 || q > 126) return false;
        } else if (c < 32 || c > 126) {
            return false;
        }
    }
    return false;  // no closing quote
}

// sasl-mech = 1*20mech-char, mech-char = UPPER-ALPHA / DIGIT / HYPH / UNDERSCORE (RFC 4422
// 3.1); lower case is accepted and folded, as verbs are.
bool is_sasl_mech(std::string_view s) {
    if (s.empty() || s.size() > 20) return false;
    for (unsigned char c : s) {
        if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_') return false;
    }
    return true;
}

// initial-response = base64 / "=" (RFC 4954 4). Here only its shape is judged: one token of
// visible ASCII. Whether it is valid base64 is the SASL layer's question, because RFC 4954 4
// gives a response that cannot be decoded its own reply (501 5.5.2), not a syntax error.
bool is_initial_response(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (c < 33 || c > 126) return false;
    return true;
}

// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
bool is_esmtp_keyword(std::string_view s) {
    if (s.empty() || !(is_alpha(s[0]) || is_digit(s[0]))) return false;
    for (unsigned char c : s) {
        if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
    }
    return true;
}

// esmtp-value = 1*(%d33-60 / %d62-126), plus UTF8-non-ascii (RFC 6531 3.3). Only the shape is
// judged here; each known parameter checks its own value, unknown ones get 555 anyway.
bool is_esmtp_value(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s) {
        if (c < 33 || c == '=' || c == 127) return false;
    }
    return true;
}

// xtext = *( xchar / hexchar ), xchar = %d33-42 / %d44-60 / %d62-126, hexchar = "+" 2HEXUPPER
// (RFC 3461 4). The AUTH= value of RFC 4954 5 is xtext.
bool is_xtext(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '+') {
            if (s.size() - i < 3) return false;
            for (std::size_t k = 1; k <= 2; ++k) {
                const auto h = static_cast<unsigned char>(s[i + k]);
                if (!is_digit(h) && !(h >= 'A' && h <= 'F')) return false;
            }
            i += 2;
        } else if (c < 33 || c > 126 || c == '=') {
            return false;
        }
    }
    return true;
}

// 1*20DIGIT that fits in 64 bits.
std::optional<std::uint64_t> parse_size(std::string_view s) {
    if (s.empty() || s.size() > 20) return std::nullopt;
    std::uint64_t n = 0;
    constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    for (unsigned char c : s) {
        if (!is_digit(c)) return std::nullopt;
        const std::uint64_t d = c - '0';
        if (n > (max - d) / 10) return std::nullopt;
        n = n * 10 + d;
    }
    return n;
}

// The length of the Path / "<>" at the start of s: up to the first ">" that is neither inside
// a quoted local part nor inside an address literal (a general literal's dcontent may hold
// ">" and '"'). 0 when there is none; the path parsers judge everything else.
std::size_t path_length(std::string_view s) {
    enum class In { plain, quoted, literal } in = In::plain;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        switch (in) {
            case In::quoted:
                if (c == '\\') ++i;
                else if (c == '"') in = In::plain;
                break;
            case In::literal:
                if (c == ']') in = In::plain;
                break;
            case In::plain:
                if (c == '"') in = In::quoted;
                else if (c == '[') in = In::literal;
                else if (c == '>') return i + 1;
                break;
        }
    }
    return 0;
}

// Parses "<keyword>[=value] ..." after MAIL FROM:<path>. Stops at the first problem.
std::optional<Reply> parse_mail_params(std::string_view text, MailParams& out) {
    bool seen_size = false, seen_body = false;
    for (;;) {
        const std::size_t sp = text.find(' ');
        const std::string_view param = text.substr(0, sp);
        const std::size_t eq = param.find('=');
        const std::string_view keyword = param.substr(0, eq);
        const bool has_value = eq != std::string_view::npos;
        const std::string_view value = has_value ? param.substr(eq + 1) : std::string_view{};
        if (!is_esmtp_keyword(keyword) || (has_value && !is_esmtp_value(value))) {
            return syntax("MAIL FROM:<address> [SP parameter[=value]]...");
        }
        const std::string name = to_upper(keyword);
        auto twice = [&] { return syntax("parameter " + name + " given more than once"); };
        if (name == "SIZE") {
            if (seen_size) return twice();
            seen_size = true;
            out.size = parse_size(value);
            if (!out.size) return syntax("SIZE=<number of octets>");
        } else if (name == "BODY") {
            if (seen_body) return twice();
            seen_body = true;
            if (iequals(value, "7BIT")) {
                out.body = core::BodyType::seven_bit;
            } else if (iequals(value, "8BITMIME")) {
                out.body = core::BodyType::eight_bit_mime;
            } else {
                return syntax("BODY=7BIT or BODY=8BITMIME");
            }
        } else if (name == "SMTPUTF8") {
            if (out.smtputf8) return twice();
            if (has_value) return syntax("SMTPUTF8 takes no value");
            out.smtputf8 = true;
        } else if (name == "AUTH") {
            if (out.auth) return twice();
            if (!has_value || !is_xtext(value)) return syntax("AUTH=<xtext mailbox or <>>");
            out.auth = std::string(value);
        } else {
            return replies::unsupported_parameter.reply({name});
        }
        if (sp == std::string_view::npos) return std::nullopt;
        text.remove_prefix(sp + 1);
    }
}

// RCPT knows no parameters: well-formed ones are unsupported (555), others bad syntax (501).
Reply rcpt_param_error(std::string_view text) {
    // Report the first keyword: that is the one the client needs to drop.
    const std::string first = to_upper(text.substr(0, std::min(text.find(' '), text.find('='))));
    for (;;) {
        const std::size_t sp = text.find(' ');
        const std::string_view param = text.substr(0, sp);
        const std::size_t eq = param.find('=');
        const std::string_view keyword = param.substr(0, eq);
        if (!is_esmtp_keyword(keyword) ||
            (eq != std::string_view::npos && !is_esmtp_value(param.substr(eq + 1)))) {
            return syntax("RCPT TO:<address>");
        }
        if (sp == std::string_view::npos) break;
        text.remove_prefix(sp + 1);
    }
    return replies::unsupported_parameter.reply({first});
}

constexpr const char* mail_no_space = "MAIL FROM:<address> (no space after the colon, RFC 5321 4.1.2)";
constexpr const char* rcpt_no_space = "RCPT TO:<address> (no space after the colon, RFC 5321 4.1.2)";

ParsedCommand parse_mail(std::string_view arg) {
    if (!istarts_with(arg, "FROM:")) return syntax("MAIL FROM:<address>");
    arg.remove_prefix(5);
    if (!arg.empty() && arg.front() == ' ') return syntax(mail_no_space);
    const Reply bad_address = replies::bad_sender_syntax.reply();
    const std::size_t len = path_length(arg);
    if (len == 0) return bad_address;
    const std::string_view path_text = arg.substr(0, len);
    // Parse UTF-8 paths as such first, so the reply can say what is missing (553 vs 501).
    auto path = core::parse_reverse_path(path_text, core::AddressSyntax{true});
    if (!path) return bad_address;

    Mail mail{std::move(path).value(), {}};
    std::string_view rest = arg.substr(len);
    if (!rest.empty()) {
        if (rest.front() != ' ') return syntax("MAIL FROM:<address> [SP parameter[=value]]...");
        if (auto err = parse_mail_params(rest.substr(1), mail.params)) return *err;
    }
    if (has_non_ascii(path_text) && !mail.params.smtputf8) {
        return replies::needs_smtputf8.reply();
    }
    return Command{std::move(mail)};
}

ParsedCommand parse_rcpt(std::string_view arg, CommandSyntax cs) {
    if (!istarts_with(arg, "TO:")) return syntax("RCPT TO:<address>");
    arg.remove_prefix(3);
    if (!arg.empty() && arg.front() == ' ') return syntax(rcpt_no_space);
    const Reply bad_address = replies::bad_recipient_syntax.reply();
    const std::size_t len = path_length(arg);
    if (len == 0) return bad_address;
    const std::string_view path_text = arg.substr(0, len);
    auto path = core::parse_forward_path(path_text, core::AddressSyntax{true});
    if (!path) return bad_address;

    std::string_view rest = arg.substr(len);
    if (!rest.empty()) {
        if (rest.front() != ' ') return syntax("RCPT TO:<address>");
        return rcpt_param_error(rest.substr(1));
    }
    if (has_non_ascii(path_text) && !cs.utf8_recipients) {
        return replies::needs_smtputf8.reply();
    }
    return Command{Rcpt{std::move(path).value()}};
}

ParsedCommand parse_auth(std::string_view arg, bool has_arg) {
    const auto usage = [] { return syntax("AUTH mechanism [initial-response]"); };
    if (!has_arg) return usage();
    const std::size_t sp = arg.find(' ');
    const std::string_view mech = arg.substr(0, sp);
    if (!is_sasl_mech(mech)) return usage();
    Auth auth{to_upper(mech), std::nullopt};
    if (sp != std::string_view::npos) {
        const std::string_view ir = arg.substr(sp + 1);
        if (!is_initial_response(ir)) return usage();
        auth.initial_response = std::string(ir);
    }
    return Command{std::move(auth)};
}

}  // namespace

ParsedCommand parse_command(std::string_view line, CommandSyntax cs) {
    const std::size_t sp = line.find(' ');
    const std::string_view verb = line.substr(0, sp);
    const bool has_arg = sp != std::string_view::npos;
    const std::string_view arg = has_arg ? line.substr(sp + 1) : std::string_view{};

    // RFC 4954 4 lets AUTH lines run past the 512-octet command line limit.
    const std::size_t with_crlf = line.size() + 2;
    if (iequals(verb, "AUTH")) {
        if (with_crlf > core::auth_line_max_octets) {
            return replies::auth_line_too_long.reply();
        }
    } else if (with_crlf > core::command_line_max_octets) {
        return replies::line_too_long.reply();
    }
    if (line.find_first_of("\r\n") != std::string_view::npos) {
        return replies::bare_line_ending_in_command.reply();
    }

    // Verbs without an argument: anything after them, even one space, is a syntax error.
    const auto bare = [&](const char* name, Command c) -> ParsedCommand {
        if (has_arg) return syntax(name);
        return c;
    };
    // Verbs with a String argument, optional or required.
    const auto string_arg = [&](const char* usage, bool required, auto make) -> ParsedCommand {
        if (!has_arg) {
            if (required) return syntax(usage);
            return Command{make(std::string{})};
        }
        if (!is_smtp_string(arg)) return syntax(usage);
        return Command{make(std::string(arg))};
    };
    const auto domain_arg = [&](const char* usage, bool literal, auto make) -> ParsedCommand {
        if (!has_arg) return syntax(usage);
        auto d = core::Domain::parse(arg, core::DomainSyntax{literal, false});
        if (!d) return syntax(usage);
        return Command{make(std::move(d).value())};
    };

    if (verb.size() == 4) {
        const std::string v = to_upper(verb);
        if (v == "HELO") return domain_arg("HELO domain", false, [](core::Domain d) { return Helo{std::move(d)}; });
        if (v == "EHLO") {
            return domain_arg("EHLO domain-or-address-literal", true,
                              [](core::Domain d) { return Ehlo{std::move(d)}; });
        }
        if (v == "MAIL") return has_arg ? parse_mail(arg) : ParsedCommand{syntax("MAIL FROM:<address>")};
        if (v == "RCPT") return has_arg ? parse_rcpt(arg, cs) : ParsedCommand{syntax("RCPT TO:<address>")};
        if (v == "DATA") return bare("DATA", Data{});
        if (v == "RSET") return bare("RSET", Rset{});
        if (v == "QUIT") return bare("QUIT", Quit{});
        if (v == "NOOP") return string_arg("NOOP [string]", false, [](std::string s) { return Noop{std::move(s)}; });
        if (v == "HELP") return string_arg("HELP [string]", false, [](std::string s) { return Help{std::move(s)}; });
        if (v == "VRFY") return string_arg("VRFY string", true, [](std::string s) { return Vrfy{std::move(s)}; });
        if (v == "EXPN") return string_arg("EXPN string", true, [](std::string s) { return Expn{std::move(s)}; });
        if (v == "AUTH") return parse_auth(arg, has_arg);
    } else if (iequals(verb, "STARTTLS")) {
        return bare("STARTTLS", StartTls{});
    }
    return unrecognized();
}

bool operator==(const Helo& a, const Helo& b) { return a.domain == b.domain; }
bool operator==(const Ehlo& a, const Ehlo& b) { return a.domain == b.domain; }
bool operator==(const Mail& a, const Mail& b) {
    return a.reverse_path == b.reverse_path && a.params == b.params;
}
bool operator==(const Rcpt& a, const Rcpt& b) { return a.forward_path == b.forward_path; }

std::string format_command(const Command& command) {
    return std::visit(
        [](const auto& c) -> std::string {
            using T = std::decay_t<decltype(c)>;
            std::string out = T::name;
            if constexpr (std::is_same_v<T, Helo> || std::is_same_v<T, Ehlo>) {
                out += ' ' + c.domain.text();
            } else if constexpr (std::is_same_v<T, Mail>) {
                out += " FROM:" + c.reverse_path.to_string();
                if (c.params.size) out += " SIZE=" + std::to_string(*c.params.size);
                if (c.params.body == core::BodyType::seven_bit) out += " BODY=7BIT";
                if (c.params.body == core::BodyType::eight_bit_mime) out += " BODY=8BITMIME";
                if (c.params.smtputf8) out += " SMTPUTF8";
                if (c.params.auth) out += " AUTH=" + *c.params.auth;
            } else if constexpr (std::is_same_v<T, Rcpt>) {
                out += " TO:" + c.forward_path.to_string();
            } else if constexpr (std::is_same_v<T, Noop> || std::is_same_v<T, Help>) {
                if (!c.text.empty()) out += ' ' + c.text;
            } else if constexpr (std::is_same_v<T, Vrfy> || std::is_same_v<T, Expn>) {
                out += ' ' + c.text;
            } else if constexpr (std::is_same_v<T, Auth>) {
                out += ' ' + c.mechanism;
                if (c.initial_response) out += ' ' + *c.initial_response;
            }
            return out;
        },
        command);
}

const char* command_name(const Command& command) {
    return std::visit([](const auto& c) { return std::decay_t<decltype(c)>::name; }, command);
}

}  // namespace pigeon::smtp
