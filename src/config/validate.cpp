// pigeon/config/validate.cpp: host names, near-miss key suggestions, password hash shapes,
// address uniqueness, and the credential warnings.
#include "config/validate.hpp"

#include <algorithm>
#include <regex>

#include "core/ascii.hpp"

namespace pigeon::config {

bool valid_hostname(std::string_view name) { return core::Domain::parse(name, host_syntax).ok(); }

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

// PHC strings as Botan writes them: "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"
// (unpadded base64), and bcrypt's "$2b$12$" + 22 salt + 31 hash characters.
const std::regex& argon2id_shape() {
    static const std::regex re(
        R"(^\$argon2id\$(v=[0-9]+\$)?m=([0-9]{1,10}),t=([0-9]{1,10}),p=([0-9]{1,10}))"
        R"(\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$)");
    return re;
}
const std::regex& bcrypt_shape() {
    static const std::regex re(R"(^\$2[ab]\$([0-9]{2})\$[./A-Za-z0-9]{53}$)");
    return re;
}

}  // namespace

std::string_view closest_name(std::string_view name, std::initializer_list<std::string_view> allowed) {
    std::string_view best;
    std::size_t best_d = 3;  // suggest only close matches
    for (std::string_view a : allowed) {
        const std::size_t d = edit_distance(name, a);
        if (d < best_d) best_d = d, best = a;
    }
    return best;
}

std::optional<std::string> password_hash_problem(const std::string& hash) {
    std::smatch m;
    if (hash.starts_with("$argon2id$")) {
        if (!std::regex_match(hash, m, argon2id_shape()))
            return "malformed Argon2id hash (expected $argon2id$v=19$m=...,t=...,p=...$salt$hash)";
        const long long memory = std::stoll(m[2].str()), passes = std::stoll(m[3].str()),
                        lanes = std::stoll(m[4].str());
        if (memory < 8 || memory > 1024 * 1024 || passes < 1 || passes > 64 || lanes < 1 ||
            lanes > 16)
            return "Argon2id parameters out of range (m 8..1048576 KiB, t 1..64, p 1..16)";
        return std::nullopt;
    }
    if (hash.starts_with("$2a$") || hash.starts_with("$2b$")) {
        if (!std::regex_match(hash, m, bcrypt_shape()))
            return "malformed bcrypt hash (expected $2b$NN$ and 53 characters of salt and hash)";
        const int cost = std::stoi(m[1].str());
        if (cost < 4 || cost > 16) return "bcrypt cost must be between 04 and 16";
        return std::nullopt;
    }
    return "must be an Argon2id ($argon2id$...) or bcrypt ($2a$ / $2b$) hash; "
           "make one with `pigeon passwd`";
}

bool in_local_domains(const core::Mailbox& m, const std::vector<std::string>& local_domains) {
    return std::any_of(local_domains.begin(), local_domains.end(), [&](const std::string& d) {
        return core::Domain::parse(d, host_syntax).value() == m.domain();
    });
}

std::optional<AddressClaims::Conflict> AddressClaims::claim(const std::string& key,
                                                            const std::string& text,
                                                            std::size_t line, Kind kind,
                                                            std::size_t user) {
    Claim mine{key, text, line, kind, user};
    auto [it, fresh] = by_address_.try_emplace(core::ascii_lower(text), mine);
    if (fresh) return std::nullopt;
    const Claim& earlier = it->second;
    // An alias that is some user's address is the alias's mistake: report it there.
    const bool blame_earlier = earlier.kind == Kind::alias && kind == Kind::user;
    const Claim& at = blame_earlier ? earlier : mine;
    const Claim& other = blame_earlier ? mine : earlier;
    return Conflict{at.line, at.key,
                    "\"" + at.text + "\" is the same address as " + other.key + " \"" + other.text +
                        "\" (line " + std::to_string(other.line) +
                        "; addresses match ignoring case): " + why(at, other)};
}

std::string AddressClaims::why(const Claim& a, const Claim& b) {
    if (a.kind == Kind::discard || b.kind == Kind::discard)
        return a.kind == b.kind ? "listed twice" : "an address is either a mailbox or discarded";
    if (a.kind == Kind::user && b.kind == Kind::user) return "two users would share one mailbox";
    if (a.user == b.user)
        return a.kind == b.kind ? "listed twice" : "an alias is not the user's own address";
    if (a.kind == Kind::alias && b.kind == Kind::alias)
        return "two users may not share an alias (it would receive for one, send as both)";
    return "one user may not receive or send as another";
}

std::vector<std::string> credential_warnings(const Config& config) {
    std::vector<std::string> out;
    const auto check = [&](const NextHopSettings& h, const std::string& key) {
        if (h.password_file.empty() || h.tls == OutboundTls::verify) return;
        out.push_back(key + ".tls = \"" + outbound_tls_name(h.tls) + "\": the password for " + h.username +
                      " goes to " + h.host + " over TLS whose certificate is not checked; anyone on the path "
                      "can take it (tls = \"verify\" checks it)");
    };
    for (const NextHopSettings& h : config.outbound.relayhost) check(h, "outbound.relayhost");
    for (std::size_t i = 0; i < config.outbound.routes.size(); ++i)
        check(config.outbound.routes[i].to, "outbound.routes[" + std::to_string(i) + "]");
    return out;
}

}  // namespace pigeon::config
