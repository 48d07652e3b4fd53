// The transcript parser, the in-memory transport and the player (see transcript.hpp).
#include "transcript.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <regex>
#include <sstream>
#include <type_traits>

#include "core/limits.hpp"

namespace pigeon::conformance {
namespace {

// The player's refusal: a policy verdict with the reply the transcript expects.
smtp::Verdict reject(core::Reply reply) {
    smtp::Verdict v;
    v.accept = false;
    v.reply = std::move(reply);
    return v;
}

constexpr std::size_t core_reply_line_max = core::reply_line_max_octets;
constexpr std::int64_t transcript_clock = 1'700'000'000;  // 2023-11-14T22:13:20Z, fixed

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    while (true) {
        const auto pos = s.find(sep);
        const auto piece = trim(s.substr(0, pos));
        if (!piece.empty()) out.emplace_back(piece);
        if (pos == std::string_view::npos) break;
        s.remove_prefix(pos + 1);
    }
    return out;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

core::ParseError error_at(const std::string& name, int line, const std::string& what) {
    return core::ParseError{name + ":" + std::to_string(line) + ": " + what};
}

std::optional<bool> parse_bool(std::string_view v) {
    if (v == "true") return true;
    if (v == "false") return false;
    return std::nullopt;
}

std::optional<std::uint64_t> parse_number(std::string_view v) {
    if (v.empty() || v.size() > 19) return std::nullopt;
    std::uint64_t n = 0;
    for (char c : v) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
}

// One `# config:` key=value; empty string on success, else the complaint.
std::string apply_config(smtp::SessionConfig& config, std::string_view key, std::string_view value) {
    if (key == "hostname") {
        if (value.empty()) return "empty hostname";
        config.hostname = std::string(value);
        return {};
    }
    if (key == "max_message_octets" || key == "max_recipients" || key == "max_errors") {
        const auto n = parse_number(value);
        if (!n) return "not a number: " + std::string(value);
        if (key == "max_message_octets") config.max_message_octets = *n;
        else if (key == "max_recipients") config.max_recipients = static_cast<std::size_t>(*n);
        else config.max_errors = static_cast<std::size_t>(*n);
        return {};
    }
    bool* flag = key == "tls_available"      ? &config.tls_available
                 : key == "tls_active"       ? &config.tls_active
                 : key == "auth_without_tls" ? &config.auth_without_tls
                                             : nullptr;
    if (!flag) return "unknown config key: " + std::string(key);
    const auto b = parse_bool(value);
    if (!b) return "expected true or false: " + std::string(value);
    *flag = *b;
    return {};
}

// Rules are space-separated, so a value holding a space writes it as \x20 (C escapes).
std::string apply_policy(Policy& policy, std::string_view rule) {
    const auto eq = rule.find('=');
    const auto key = rule.substr(0, eq);
    auto unescaped = unescape(eq == std::string_view::npos ? std::string_view{} : rule.substr(eq + 1));
    if (!unescaped) return unescaped.error().message + " in policy rule: " + std::string(rule);
    const std::string value = *unescaped;
    if (key == "enqueue-fails" && eq == std::string_view::npos) policy.enqueue_fails = true;
    else if (key == "tempfail-auth" && eq == std::string_view::npos) policy.tempfail_auth = true;
    else if (key == "reject-sender") policy.reject_senders.emplace_back(value);
    else if (key == "reject-recipient") policy.reject_recipients.emplace_back(value);
    else if (key == "reject-message-containing" && !value.empty())
        policy.reject_message_containing.emplace_back(value);
    else if (key == "enqueue-requires" && !value.empty())
        policy.enqueue_requires.emplace_back(value);
    else return "unknown policy rule: " + std::string(rule);
    return {};
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

// "C: x" and "C:" (an empty line) both work; the text after "C: " is kept verbatim,
// trailing spaces included (they can matter, e.g. "334 ").
std::optional<std::string_view> after_tag(std::string_view line, std::string_view tag) {
    if (line == tag) return std::string_view{};
    if (starts_with(line, tag) && line.size() > tag.size() && line[tag.size()] == ' ')
        return line.substr(tag.size() + 1);
    return std::nullopt;
}

// Addresses in policies are written with or without angle brackets; compare the bare
// mailbox, case-insensitively (good enough for a test double).
std::string policy_key(std::string_view address) {
    address = trim(address);
    if (address.size() >= 2 && address.front() == '<' && address.back() == '>')
        address = address.substr(1, address.size() - 2);
    return lower(address);
}

bool listed(const std::vector<std::string>& list, const core::Path& path) {
    const auto key = policy_key(path.to_string());
    return std::any_of(list.begin(), list.end(),
                       [&](const std::string& a) { return policy_key(a) == key; });
}

// How a sent chunk looks in a dialogue: "C: line" for plain CRLF-terminated lines,
// "C! escaped" for everything else.
void show_sent(std::vector<std::string>& dialogue, std::string_view bytes) {
    while (!bytes.empty()) {
        const auto crlf = bytes.find("\r\n");
        if (crlf != std::string_view::npos) {
            const auto text = bytes.substr(0, crlf);
            if (text.find_first_of("\r\n") == std::string_view::npos &&
                escape(text) == text) {
                dialogue.push_back("C: " + std::string(text));
                bytes.remove_prefix(crlf + 2);
                continue;
            }
        }
        dialogue.push_back("C! " + escape(bytes));
        return;
    }
}

}  // namespace

core::Result<std::string> unescape(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\') {
            out += text[i];
            continue;
        }
        if (++i == text.size()) return core::ParseError{"dangling backslash"};
        switch (text[i]) {
            case 'r': out += '\r'; break;
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case '\\': out += '\\'; break;
            case 'x': {
                const auto hex = std::string(text.substr(i + 1, 2));
                if (hex.size() != 2 || !std::isxdigit(static_cast<unsigned char>(hex[0])) ||
                    !std::isxdigit(static_cast<unsigned char>(hex[1])))
                    return core::ParseError{"\\x needs two hex digits"};
                out += static_cast<char>(std::stoi(hex, nullptr, 16));
                i += 2;
                break;
            }
            default:
                return core::ParseError{std::string("unknown escape \\") + text[i]};
        }
    }
    return out;
}

std::string escape(std::string_view bytes) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '\r') out += "\\r";
        else if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\\') out += "\\\\";
        else if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += digits[c >> 4];
            out += digits[c & 0xf];
        } else out += ch;  // printable ASCII, and UTF-8 as is
    }
    return out;
}

core::Result<Transcript> parse_transcript(std::string_view text, std::string name) {
    Transcript t;
    t.name = std::move(name);
    t.config.hostname = std::string(default_hostname);
    bool have_role = false;

    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        auto line = text.substr(0, nl);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.push_back(line);
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }

    // Header: the leading "# key: value" lines.
    static const std::regex header_re(R"(# ([a-z]+):(.*))");
    std::size_t i = 0;
    for (; i < lines.size(); ++i) {
        const std::string line(lines[i]);
        std::smatch m;
        if (!std::regex_match(line, m, header_re)) break;
        const int n = static_cast<int>(i + 1);
        const auto key = m[1].str();
        const auto value = std::string(trim(m[2].str()));
        if (key == "title") {
            t.title = value;
        } else if (key == "covers") {
            for (auto& id : split(value, ',')) t.covers.push_back(id);
        } else if (key == "role") {
            if (value == "inbound") t.config.role = smtp::Role::inbound;
            else if (value == "submission") t.config.role = smtp::Role::submission;
            else return error_at(t.name, n, "role must be inbound or submission");
            have_role = true;
        } else if (key == "config") {
            for (auto& kv : split(value, ' ')) {
                const auto eq = kv.find('=');
                if (eq == std::string::npos) return error_at(t.name, n, "config needs key=value: " + kv);
                const auto why = apply_config(t.config, std::string_view(kv).substr(0, eq),
                                              std::string_view(kv).substr(eq + 1));
                if (!why.empty()) return error_at(t.name, n, why);
            }
        } else if (key == "users") {
            for (auto& up : split(value, ' ')) {
                const auto colon = up.find(':');
                if (colon == std::string::npos || colon == 0)
                    return error_at(t.name, n, "users needs user:password: " + up);
                t.users[up.substr(0, colon)] = up.substr(colon + 1);
            }
        } else if (key == "tcp") {
            // Only "skip REASON" so far; anything else is a typo worth failing on.
            const std::string_view v = value;
            if (!starts_with(v, "skip ") || trim(v.substr(5)).empty())
                return error_at(t.name, n, "tcp needs: skip REASON");
            t.tcp_skip = std::string(trim(v.substr(5)));
        } else if (key == "policy") {
            for (auto& rule : split(value, ' ')) {
                const auto why = apply_policy(t.policy, rule);
                if (!why.empty()) return error_at(t.name, n, why);
            }
        } else {
            return error_at(t.name, n, "unknown header key: " + key);
        }
    }
    if (t.title.empty()) return error_at(t.name, 1, "missing # title:");
    if (!have_role) return error_at(t.name, 1, "missing # role:");
    if (t.covers.empty()) return error_at(t.name, 1, "missing # covers:");

    // Body.
    bool in_send = false;  // the last step is a send group still open to more C lines
    for (; i < lines.size(); ++i) {
        const auto line = lines[i];
        const int n = static_cast<int>(i + 1);
        if (trim(line).empty() || line.front() == '#') continue;  // comments keep a group open

        auto add_send = [&](std::string bytes) {
            if (in_send) {
                t.steps.back().text += bytes;
            } else {
                t.steps.push_back(Step{Step::Kind::send, std::move(bytes), n});
                in_send = true;
            }
        };
        if (auto rest = after_tag(line, "C:")) {
            add_send(std::string(*rest) + "\r\n");
            continue;
        }
        if (auto rest = after_tag(line, "C!")) {
            auto bytes = unescape(*rest);
            if (!bytes) return error_at(t.name, n, bytes.error().message);
            if (bytes->empty()) return error_at(t.name, n, "C! sends nothing");
            add_send(*bytes);
            continue;
        }
        in_send = false;
        if (auto rest = after_tag(line, "S:")) {
            t.steps.push_back(Step{Step::Kind::expect_exact, std::string(*rest), n});
        } else if (auto rest = after_tag(line, "S~")) {
            try {
                std::regex check{std::string(*rest), std::regex::ECMAScript};
            } catch (const std::regex_error& e) {
                return error_at(t.name, n, std::string("bad regex: ") + e.what());
            }
            t.steps.push_back(Step{Step::Kind::expect_regex, std::string(*rest), n});
        } else if (auto rest = after_tag(line, "S*")) {
            const auto code = trim(*rest);
            if (code.size() != 3 || !std::all_of(code.begin(), code.end(), ::isdigit))
                return error_at(t.name, n, "S* needs a three-digit reply code");
            t.steps.push_back(Step{Step::Kind::expect_skip, std::string(code), n});
        } else {
            static const std::map<std::string_view, Step::Kind> keywords{
                {"TLS", Step::Kind::tls},       {"TIMEOUT", Step::Kind::timeout},
                {"EOF", Step::Kind::eof},       {"CLOSED", Step::Kind::closed},
                {"NOSERVER", Step::Kind::noserver}};
            const auto k = keywords.find(trim(line));
            if (k == keywords.end())
                return error_at(t.name, n, "unrecognised line: " + std::string(line));
            t.steps.push_back(Step{k->second, {}, n});
        }
    }
    if (t.steps.empty()) return error_at(t.name, static_cast<int>(lines.size()), "no steps");
    return t;
}

core::Result<Transcript> load_transcript(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return core::ParseError{file.string() + ": cannot open"};
    std::ostringstream text;
    text << in.rdbuf();
    return parse_transcript(text.str(), file.stem().string());
}

// ---- MemoryTransport ----

MemoryTransport::MemoryTransport(const Transcript& transcript,
                                 std::function<void(std::string_view)> trace)
    : transcript_(transcript), clock_(transcript_clock) {
    auto config = transcript.config;
    config.clock = &clock_;
    config.trace = std::move(trace);
    session_ = smtp::make_session(std::move(config), smtp::PeerInfo{});
    run(session_->start());
}

smtp::Event MemoryTransport::answer(const smtp::Action& action) {
    const auto& policy = transcript_.policy;
    if (const auto* a = std::get_if<smtp::Authenticate>(&action)) {
        smtp::AuthResult r;
        const auto user = transcript_.users.find(a->authcid);
        if (policy.tempfail_auth) {
            r.outcome = smtp::AuthResult::Outcome::temporary_failure;
        } else if (user != transcript_.users.end() && user->second == a->password &&
                   (a->authzid.empty() || a->authzid == a->authcid)) {
            r.outcome = smtp::AuthResult::Outcome::ok;
            r.identity = a->authcid;
        } else {
            r.outcome = smtp::AuthResult::Outcome::bad_credentials;
        }
        return r;
    }
    if (const auto* c = std::get_if<smtp::CheckSender>(&action)) {
        if (listed(policy.reject_senders, c->envelope.reverse_path))
            return reject(core::Reply(550, "5.7.1", "Sender rejected"));
        return smtp::Verdict{};
    }
    if (const auto* c = std::get_if<smtp::CheckRecipient>(&action)) {
        if (listed(policy.reject_recipients, c->recipient))
            return reject(core::Reply(550, "5.1.1", "Recipient rejected"));
        return smtp::Verdict{};
    }
    if (const auto* c = std::get_if<smtp::CheckMessage>(&action)) {
        const std::string& message = c->message ? c->message.to_string() : std::string();
        for (const auto& text : policy.reject_message_containing)
            if (message.find(text) != std::string::npos)
                return reject(core::Reply(550, "5.7.1", "Message rejected"));
        return smtp::Verdict{};
    }
    if (const auto* e = std::get_if<smtp::Enqueue>(&action)) {
        if (policy.enqueue_fails) return smtp::EnqueueFailed{"policy: enqueue-fails"};
        const std::string& message = e->message ? e->message.to_string() : std::string();
        for (const auto& text : policy.enqueue_requires)
            if (message.find(text) == std::string::npos)
                return smtp::EnqueueFailed{"policy: enqueue-requires " + text};
        return smtp::Enqueued{"Q" + std::to_string(next_queue_id_++)};
    }
    return smtp::Timeout{};  // unreachable: only asynchronous requests are answered
}

void MemoryTransport::run(std::vector<smtp::Action> actions) {
    std::deque<smtp::Action> queue(std::make_move_iterator(actions.begin()),
                                   std::make_move_iterator(actions.end()));
    while (!queue.empty()) {
        auto action = std::move(queue.front());
        queue.pop_front();
        if (closed_ && error_.empty()) error_ = "the session returned an action after Close";
        if (auto* send = std::get_if<smtp::Send>(&action)) {
            last_ = Last::send;
            output_ += send->bytes;
            std::size_t crlf;
            while ((crlf = output_.find("\r\n")) != std::string::npos) {
                lines_.push_back(output_.substr(0, crlf));
                output_.erase(0, crlf + 2);
            }
        } else if (std::holds_alternative<smtp::BeginTls>(action)) {
            last_ = Last::start_tls;  // answered by the transcript's TLS step
        } else if (std::holds_alternative<smtp::Close>(action)) {
            last_ = Last::other;
            closed_ = true;
        } else {
            last_ = Last::other;
            // A real driver carries out the rest of this batch before the answer arrives.
            for (auto& next : session_->on(answer(action))) queue.push_back(std::move(next));
        }
    }
}

std::string MemoryTransport::send(std::string_view bytes) {
    if (closed_) return "the client sent data after the session closed";
    if (bytewise_) {
        for (char c : bytes) {
            if (closed_) break;  // a real connection drops what follows the close
            run(session_->put(std::string_view(&c, 1)));
        }
    } else {
        run(session_->put(bytes));
    }
    return std::exchange(error_, {});
}

std::string MemoryTransport::start_tls() {
    if (last_ != Last::start_tls) return "TLS: the session's last action was not BeginTls";
    last_ = Last::other;
    run(session_->on(smtp::TlsReady{}));
    return std::exchange(error_, {});
}

std::string MemoryTransport::timeout() {
    if (closed_) return "TIMEOUT after the session closed";
    run(session_->on(smtp::Timeout{}));
    return std::exchange(error_, {});
}

std::string MemoryTransport::eof() {
    if (closed_) return "EOF after the session closed";
    run(session_->put_eof());
    return std::exchange(error_, {});
}

std::optional<std::string> MemoryTransport::receive_line() {
    if (lines_.empty()) return std::nullopt;
    auto line = std::move(lines_.front());
    lines_.pop_front();
    return line;
}

// ---- the player ----

PlayResult play(const Transcript& transcript, Transport& transport) {
    PlayResult result;
    auto fail = [&](int line, std::string message, std::string expected = {},
                    std::string actual = {}) {
        result.failure = Failure{line, std::move(message), std::move(expected), std::move(actual)};
        return result;
    };
    // Every server line must be a well-formed reply line (RFC 5321 4.2: three digits, then
    // SP or "-", then text) of at most 512 octets with its CRLF (4.5.3.1.5).
    static const std::regex reply_line(R"([2-5][0-9][0-9]([ -].*)?)");
    std::string malformed;
    // `quiet`: the transcript expects no line here, so a socket need not wait long for one.
    auto receive = [&](bool quiet = false) {
        auto got = quiet ? transport.poll_line() : transport.receive_line();
        if (got) {
            result.dialogue.push_back("S: " + escape(*got));
            if (got->size() + 2 > core_reply_line_max)
                malformed = "server line longer than 512 octets (RFC 5321 4.5.3.1.5)";
            else if (!std::regex_match(*got, reply_line))
                malformed = "not an SMTP reply line (RFC 5321 4.2)";
        }
        return got;
    };
    auto event = [&](const Step& step, const char* label, std::string error) {
        result.dialogue.push_back(std::string("-- ") + label);
        if (!error.empty()) result.failure = Failure{step.line, std::move(error), {}, {}};
    };

    for (const auto& step : transcript.steps) {
        switch (step.kind) {
            case Step::Kind::send: {
                show_sent(result.dialogue, step.text);
                auto error = transport.send(step.text);
                if (!error.empty()) return fail(step.line, error);
                break;
            }
            case Step::Kind::expect_exact: {
                const auto got = receive();
                if (!got) return fail(step.line, "the server sent nothing more", step.text, "(nothing)");
                if (*got != step.text) return fail(step.line, "server line differs", step.text, *got);
                break;
            }
            case Step::Kind::expect_regex: {
                const auto got = receive();
                const auto shown = "~ " + step.text;
                if (!got) return fail(step.line, "the server sent nothing more", shown, "(nothing)");
                if (!std::regex_match(*got, std::regex(step.text, std::regex::ECMAScript)))
                    return fail(step.line, "server line does not match the regex", shown, *got);
                break;
            }
            case Step::Kind::expect_skip: {
                const auto& code = step.text;
                const auto shown = code + "-... up to " + code + " ...";
                while (true) {
                    const auto got = receive();
                    if (!got) return fail(step.line, "the server sent nothing more", shown, "(nothing)");
                    if (starts_with(*got, code + "-")) continue;
                    if (*got == code || starts_with(*got, code + " ")) break;
                    return fail(step.line, "not a line of a " + code + " reply", shown, *got);
                }
                break;
            }
            case Step::Kind::tls:
                event(step, "TLS", transport.start_tls());
                break;
            case Step::Kind::timeout:
                event(step, "TIMEOUT", transport.timeout());
                break;
            case Step::Kind::eof:
                event(step, "EOF", transport.eof());
                break;
            case Step::Kind::closed:
                result.dialogue.push_back("-- CLOSED");
                if (!transport.closed())
                    return fail(step.line, "the session has not closed", "(closed)", "(open)");
                break;
            case Step::Kind::noserver:
                result.dialogue.push_back("-- NOSERVER");
                if (const auto got = receive(true))
                    return fail(step.line, "the server sent a line the transcript does not expect",
                                "(nothing)", *got);
                break;
        }
        if (result.failure) return result;
        if (!malformed.empty()) {
            const auto& last = result.dialogue.back();
            return fail(step.line, malformed, "(a reply line)", last.substr(3));
        }
    }
    if (const auto got = receive(true))
        return fail(0, "unread server output at the end of the transcript", "(nothing)", *got);
    if (const auto rest = transport.unterminated(); !rest.empty())
        return fail(0, "the server's output ends without CRLF", "(nothing)", escape(rest));
    return result;
}

}  // namespace pigeon::conformance
