#include "policy/dovecot_auth.hpp"

#include <algorithm>

#include "core/base64.hpp"

namespace pigeon::policy::dovecot {
namespace {

constexpr char escape_char = '\001';

std::vector<std::string_view> split_tabs(std::string_view line) {
    std::vector<std::string_view> fields;
    while (true) {
        auto tab = line.find('\t');
        fields.push_back(line.substr(0, tab));
        if (tab == std::string_view::npos) return fields;
        line.remove_prefix(tab + 1);
    }
}

// What an error message may quote of the peer's bytes: printable ASCII, at most 64 octets.
std::string quoted(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    if (text.size() > 64) out += "...";
    return out;
}

bool usable_user(std::string_view user) {
    if (user.empty() || user.size() > max_user_octets) return false;
    return std::none_of(user.begin(), user.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f;
    });
}

std::optional<unsigned> parse_small(std::string_view text) {
    if (text.empty() || text.size() > 4) return std::nullopt;
    unsigned v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    return v;
}

}  // namespace

std::string tab_escape(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        switch (c) {
            case '\0': out += escape_char; out += '0'; break;
            case escape_char: out += escape_char; out += '1'; break;
            case '\t': out += escape_char; out += 't'; break;
            case '\r': out += escape_char; out += 'r'; break;
            case '\n': out += escape_char; out += 'n'; break;
            default: out += c;
        }
    }
    return out;
}

std::string tab_unescape(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) {
        if (value[i] != escape_char || i + 1 == value.size()) {
            out += value[i];  // a lone \001 at the end stands for itself
            continue;
        }
        switch (const char c = value[++i]) {
            case '0': out += '\0'; break;
            case '1': out += escape_char; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case 'n': out += '\n'; break;
            default: out += c;  // "anything else writes the character itself"
        }
    }
    return out;
}

std::string client_handshake(std::uint32_t pid) {
    return "VERSION\t1\t2\nCPID\t" + std::to_string(pid) + "\n";
}

std::string auth_request(const AuthRequest& r) {
    std::string message;  // RFC 4616: authzid NUL authcid NUL passwd, authzid empty
    message += '\0';
    message += r.authcid;
    message += '\0';
    message += r.password;
    std::string line = "AUTH\t" + std::to_string(r.id) + "\tPLAIN\tservice=smtp";
    if (r.secured) line += "\tsecured";
    // nologin: Pigeon is no login process that hands the user to a mail process.
    line += "\tnologin";
    if (!r.local_ip.empty()) line += "\tlip=" + tab_escape(r.local_ip);
    if (!r.remote_ip.empty()) line += "\trip=" + tab_escape(r.remote_ip);
    line += "\tresp=" + core::base64_encode(message);  // base64 has no byte that needs escaping
    line += '\n';
    return line;
}

bool Handshake::offers(std::string_view mechanism) const {
    return std::find(mechanisms.begin(), mechanisms.end(), mechanism) != mechanisms.end();
}

std::optional<std::uint32_t> parse_id(std::string_view text) {
    if (text.empty() || text.size() > 10 || text.front() == '0') return std::nullopt;
    std::uint64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (v > 0xffffffffull) return std::nullopt;
    return static_cast<std::uint32_t>(v);
}

Decoder::Result Decoder::fail(std::string why) {
    state_ = State::failed;
    error_ = std::move(why);
    partial_.clear();
    Result r;
    r.status = Status::error;
    r.error = error_;
    return r;
}

Decoder::Result Decoder::put(std::string_view bytes) {
    if (state_ == State::failed) {
        Result r;
        r.status = Status::error;
        r.error = error_;
        return r;
    }
    const auto lf = bytes.find('\n');
    if (lf == std::string_view::npos) {
        if (partial_.size() + bytes.size() > max_line_octets)
            return fail("a line from the auth server is longer than " + std::to_string(max_line_octets) + " octets");
        partial_.append(bytes);
        Result r;
        r.used = bytes.size();
        return r;
    }
    if (partial_.size() + lf > max_line_octets)
        return fail("a line from the auth server is longer than " + std::to_string(max_line_octets) + " octets");
    std::string whole = std::move(partial_);
    partial_.clear();
    whole.append(bytes.substr(0, lf));
    Result r = line(whole);
    if (r.status != Status::error) r.used = lf + 1;
    return r;
}

Decoder::Result Decoder::line(std::string_view text) {
    auto fields = split_tabs(text);
    const std::string_view command = fields.front();
    fields.erase(fields.begin());
    if (state_ == State::version) {
        if (command != "VERSION") return fail("the auth server did not start with VERSION: " + quoted(text));
        if (fields.size() < 2) return fail("VERSION without major and minor: " + quoted(text));
        auto major = parse_small(fields[0]);
        auto minor = parse_small(fields[1]);
        if (!major || !minor) return fail("VERSION is not numeric: " + quoted(text));
        if (*major != 1) return fail("the auth server speaks protocol version " + std::to_string(*major) + ", not 1");
        handshake_.major = *major;
        handshake_.minor = *minor;
        state_ = State::handshake;
        return {};
    }
    if (state_ == State::handshake) return handshake_line(command, fields);
    return answer_line(command, fields);
}

Decoder::Result Decoder::handshake_line(std::string_view command, const std::vector<std::string_view>& fields) {
    if (command == "MECH") {
        if (fields.empty() || fields[0].empty()) return fail("MECH without a name");
        if (handshake_.mechanisms.size() < max_mechanisms) handshake_.mechanisms.emplace_back(fields[0]);
        return {};
    }
    if (command == "SPID" || command == "CUID" || command == "COOKIE") {
        if (fields.empty() || fields[0].empty()) return fail(std::string(command) + " without a value");
        return {};
    }
    if (command == "DONE") {
        state_ = State::ready;
        Result r;
        r.status = Status::handshake_done;
        return r;
    }
    if (command == "OK" || command == "FAIL" || command == "CONT")
        return fail("an answer before the handshake's DONE: " + quoted(command));
    return fail("unknown command in the handshake: " + quoted(command));
}

Decoder::Result Decoder::answer_line(std::string_view command, const std::vector<std::string_view>& fields) {
    Answer a;
    if (command == "OK") a.kind = Answer::Kind::ok;
    else if (command == "FAIL") a.kind = Answer::Kind::fail;
    else if (command == "CONT") a.kind = Answer::Kind::cont;
    else return fail("unknown command from the auth server: " + quoted(command));
    if (fields.empty()) return fail(std::string(command) + " without an id");
    auto id = parse_id(fields[0]);
    if (!id) return fail(std::string(command) + " with a bad id: " + quoted(fields[0]));
    a.id = *id;
    if (a.kind == Answer::Kind::cont) {
        a.data = fields.size() > 1 ? std::string(fields[1]) : std::string();
    } else {
        for (std::size_t i = 1; i < fields.size(); ++i) {
            const std::string_view f = fields[i];
            const auto eq = f.find('=');
            const std::string_view name = f.substr(0, eq);
            const std::string value = eq == std::string_view::npos ? std::string() : tab_unescape(f.substr(eq + 1));
            if (name == "user") a.user = value;
            else if (name == "reason") a.reason = value;
            else if (name == "temp") a.temporary = true;
            else if (name == "code" && value == "temp_fail") a.temporary = true;
            // anything else: an optional parameter this client does not use
        }
        if (a.kind == Answer::Kind::ok && !usable_user(a.user))
            return fail("OK without a usable user= (1.." + std::to_string(max_user_octets) +
                        " octets, no space or control character)");
        if (a.kind == Answer::Kind::fail && !usable_user(a.user)) a.user.clear();
    }
    Result r;
    r.status = Status::answer;
    r.answer = std::move(a);
    return r;
}

}  // namespace pigeon::policy::dovecot
