// pigeon/app/config.cpp: defaults, the TOML reader with line-accurate errors, and to_toml.
#include "app/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <optional>
#include <regex>
#include <sstream>
#include <unordered_map>
#include <toml++/toml.h>

#include "core/address.hpp"
#include "core/ascii.hpp"
#include "core/domain.hpp"

namespace pigeon::app {

const char* spf_temperror_name(SpfTempErrorAction action) {
    return action == SpfTempErrorAction::defer ? "defer" : "accept";
}

const char* outbound_tls_name(OutboundTls tls) {
    switch (tls) {
        case OutboundTls::none: return "none";
        case OutboundTls::opportunistic: return "opportunistic";
        case OutboundTls::required: return "required";
        case OutboundTls::verify: return "verify";
    }
    return "?";
}

Limits default_limits() {
    Limits l;
    l.max_connections = defaults::max_connections;
    l.max_connections_per_ip = defaults::max_connections_per_ip;
    l.command_timeout_seconds = defaults::command_timeout_seconds;
    l.data_block_timeout_seconds = defaults::data_block_timeout_seconds;
    l.data_timeout_seconds = defaults::data_timeout_seconds;
    l.max_message_octets = defaults::max_message_octets;
    l.max_recipients = defaults::max_recipients;
    l.max_errors_per_session = defaults::max_errors_per_session;
    l.auth_failures_per_ip_per_minute = defaults::auth_failures_per_ip_per_minute;
    l.shutdown_grace_seconds = defaults::shutdown_grace_seconds;
    l.message_memory_octets = defaults::message_memory_octets;
    l.spool_min_free_octets = defaults::spool_min_free_octets;
    l.message_spill_octets = defaults::message_spill_octets;
    l.verify_threads = defaults::verify_threads;
    l.verify_cpu_seconds = defaults::verify_cpu_seconds;
    l.ipv6_prefix_bits = defaults::ipv6_prefix_bits;
    return l;
}

std::vector<Listener> default_listeners() {
    const std::string addr(defaults::listen_address);
    return {
        Listener{addr, defaults::inbound_port, smtp::Role::inbound, TlsMode::starttls},
        Listener{addr, defaults::submission_port, smtp::Role::submission, TlsMode::starttls},
        Listener{addr, defaults::submissions_port, smtp::Role::submission, TlsMode::implicit},
    };
}

Config default_config(std::string hostname) {
    Config c;
    c.hostname = std::move(hostname);
    c.local_domains = {std::string(defaults::local_domain)};
    c.listeners = default_listeners();
    c.limits = default_limits();
    c.state_dir = std::string(defaults::state_dir);
    c.create_demo_user = true;
    // The embedded default must work on a machine without DNS (docs/configuration.md [spf]).
    c.spf.temperror = SpfTempErrorAction::accept;
    c.dmarc.temperror = SpfTempErrorAction::accept;
    return c;
}

smtp::SessionConfig session_config(const Config& config) {
    smtp::SessionConfig s;
    s.hostname = config.hostname;
    s.max_message_octets = config.limits.max_message_octets;
    s.max_recipients = config.limits.max_recipients;
    s.max_errors = config.limits.max_errors_per_session;
    s.auth_without_tls = false;  // never from a config file: AUTH only over TLS
    return s;
}

smtp::SessionConfig session_config(const Config& config, const Listener& listener) {
    smtp::SessionConfig s = session_config(config);
    s.role = listener.role;
    s.tls_available = listener.tls != TlsMode::none;
    s.tls_active = listener.tls == TlsMode::implicit;
    return s;
}

namespace {

const core::DomainSyntax host_syntax{.allow_address_literal = false, .allow_utf8 = false};

bool valid_hostname(std::string_view name) { return core::Domain::parse(name, host_syntax).ok(); }

}  // namespace

std::string system_hostname() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    std::string name(buf);
    return valid_hostname(name) ? name : "localhost";
}

namespace {

// Thrown inside the reader only; parse_config turns it into a ParseError.
struct ConfigError {
    std::string message;
};

std::string_view type_name(const toml::node& node) {
    switch (node.type()) {
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a float";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
        default: return "nothing";
    }
}

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

std::string join_key(std::string_view prefix, std::string_view name) {
    if (prefix.empty()) return std::string(name);
    return std::string(prefix) + "." + std::string(name);
}

std::string index_key(std::string_view key, std::size_t i) {
    return std::string(key) + "[" + std::to_string(i) + "]";
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

// Why `hash` is not a password hash we can check, or nullopt when it is one. The parameter
// bounds are the ones pigeon::tls::verify_password enforces (src/tls/password.hpp): a hash
// outside them would load here and then refuse every login.
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

class Reader {
public:
    explicit Reader(std::string_view source) : source_(source) {}

    [[noreturn]] void fail(const toml::source_region& where, std::string_view key,
                           std::string_view what) const {
        std::string msg(source_);
        msg += ":" + std::to_string(std::max<toml::source_index>(where.begin.line, 1)) + ": ";
        if (!key.empty()) msg += std::string(key) + ": ";
        msg += what;
        throw ConfigError{std::move(msg)};
    }
    [[noreturn]] void fail(const toml::node& at, std::string_view key, std::string_view what) const {
        fail(at.source(), key, what);
    }

    // Every key of `table` must be in `allowed`; a near miss is suggested.
    void only_keys(const toml::table& table, std::string_view prefix,
                   std::initializer_list<std::string_view> allowed) const {
        for (auto&& [k, v] : table) {
            const std::string_view name = k.str();
            if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
            std::string what = "unknown key";
            std::string_view best;
            std::size_t best_d = 3;  // suggest only close matches
            for (std::string_view a : allowed) {
                const std::size_t d = edit_distance(name, a);
                if (d < best_d) best_d = d, best = a;
            }
            if (!best.empty()) what += " (did you mean '" + std::string(best) + "'?)";
            fail(k.source(), join_key(prefix, name), what);
        }
    }

    const toml::table& table(const toml::node& node, std::string_view key) const {
        if (const auto* t = node.as_table()) return *t;
        fail(node, key, "must be a table, not " + std::string(type_name(node)));
    }
    const toml::array& array(const toml::node& node, std::string_view key) const {
        if (const auto* a = node.as_array()) return *a;
        fail(node, key, "must be an array, not " + std::string(type_name(node)));
    }
    std::string string(const toml::node& node, std::string_view key) const {
        if (const auto* s = node.as_string()) return s->get();
        fail(node, key, "must be a string, not " + std::string(type_name(node)));
    }
    std::string nonempty_string(const toml::node& node, std::string_view key) const {
        std::string s = string(node, key);
        if (s.empty()) fail(node, key, "must not be empty");
        return s;
    }
    std::int64_t integer(const toml::node& node, std::string_view key, std::int64_t lo,
                         std::int64_t hi, std::string_view why_lo = {}) const {
        const auto* i = node.as_integer();
        if (!i) fail(node, key, "must be an integer, not " + std::string(type_name(node)));
        const std::int64_t v = i->get();
        if (v < lo) {
            std::string what = "must be >= " + std::to_string(lo);
            if (!why_lo.empty()) what += " (" + std::string(why_lo) + ")";
            fail(node, key, what);
        }
        if (v > hi) fail(node, key, "must be <= " + std::to_string(hi));
        return v;
    }
    template <class Enum, std::size_t N>
    Enum choice(const toml::node& node, std::string_view key,
                const std::pair<std::string_view, Enum> (&options)[N]) const {
        const std::string s = string(node, key);
        std::string names;
        for (const auto& [name, value] : options) {
            if (s == name) return value;
            names += names.empty() ? "" : ", ";
            names += "\"" + std::string(name) + "\"";
        }
        fail(node, key, "\"" + s + "\" is not one of " + names);
    }

private:
    std::string source_;
};

constexpr std::pair<std::string_view, smtp::Role> role_options[] = {
    {"inbound", smtp::Role::inbound}, {"submission", smtp::Role::submission}};
constexpr std::pair<std::string_view, TlsMode> tls_options[] = {
    {"none", TlsMode::none}, {"starttls", TlsMode::starttls}, {"implicit", TlsMode::implicit}};
constexpr std::pair<std::string_view, SpfTempErrorAction> spf_temperror_options[] = {
    {"defer", SpfTempErrorAction::defer}, {"accept", SpfTempErrorAction::accept}};
constexpr std::pair<std::string_view, LogLevel> log_options[] = {
    {"error", LogLevel::error}, {"warn", LogLevel::warn}, {"info", LogLevel::info},
    {"debug", LogLevel::debug}};

void read_limits(const Reader& r, const toml::table& t, Limits& l) {
    r.only_keys(t, "limits",
                {"max_connections", "max_connections_per_ip", "command_timeout_seconds",
                 "data_block_timeout_seconds", "data_timeout_seconds", "max_message_octets",
                 "max_recipients", "max_errors_per_session", "auth_failures_per_ip_per_minute",
                 "shutdown_grace_seconds", "message_memory_octets", "spool_min_free_octets",
                 "message_spill_octets",
                 "verify_threads", "verify_cpu_seconds", "ipv6_prefix_bits"});
    const auto field = [&](std::string_view name, auto& out, std::int64_t lo, std::int64_t hi,
                           std::string_view why_lo = {}) {
        if (const toml::node* n = t.get(name))
            out = static_cast<std::remove_reference_t<decltype(out)>>(
                r.integer(*n, join_key("limits", name), lo, hi, why_lo));
    };
    field("max_connections", l.max_connections, 1, bounds::max_connections);
    field("max_connections_per_ip", l.max_connections_per_ip, 1, bounds::max_connections);
    field("command_timeout_seconds", l.command_timeout_seconds, 1, bounds::max_timeout_seconds);
    field("data_block_timeout_seconds", l.data_block_timeout_seconds, 1,
          bounds::max_timeout_seconds);
    field("data_timeout_seconds", l.data_timeout_seconds, 1, bounds::max_timeout_seconds);
    field("max_message_octets", l.max_message_octets,
          static_cast<std::int64_t>(bounds::min_message_octets),
          static_cast<std::int64_t>(bounds::max_message_octets),
          "RFC 5321 4.5.3.1.7: at least 64K octets of message content");
    field("max_recipients", l.max_recipients, bounds::min_recipients, bounds::max_recipients,
          "RFC 5321 4.5.3.1.8");
    field("max_errors_per_session", l.max_errors_per_session, 1, bounds::max_errors_per_session);
    field("auth_failures_per_ip_per_minute", l.auth_failures_per_ip_per_minute, 1,
          bounds::max_auth_failures_per_minute);
    field("shutdown_grace_seconds", l.shutdown_grace_seconds, 0,
          bounds::max_shutdown_grace_seconds);
    field("message_memory_octets", l.message_memory_octets,
          static_cast<std::int64_t>(bounds::min_message_octets),
          static_cast<std::int64_t>(bounds::max_memory_octets));
    field("spool_min_free_octets", l.spool_min_free_octets, 0,
          static_cast<std::int64_t>(bounds::max_memory_octets));
    field("message_spill_octets", l.message_spill_octets, 0,
          static_cast<std::int64_t>(bounds::max_memory_octets));
    field("verify_threads", l.verify_threads, 0, bounds::max_threads);
    field("verify_cpu_seconds", l.verify_cpu_seconds, 1, bounds::max_verify_cpu_seconds);
    field("ipv6_prefix_bits", l.ipv6_prefix_bits, bounds::min_ipv6_prefix_bits,
          bounds::max_ipv6_prefix_bits);

    // Relations between limits, reported at the second key of the pair.
    if (l.max_connections_per_ip > l.max_connections) {
        const toml::node* n = t.get("max_connections_per_ip");
        if (!n) n = t.get("max_connections");
        r.fail(*n, "limits.max_connections_per_ip",
               "must be <= limits.max_connections (" + std::to_string(l.max_connections) + ")");
    }
    if (l.message_memory_octets < l.max_message_octets) {
        // The default grows with max_message_octets; a value set on purpose must be enough.
        const toml::node* n = t.get("message_memory_octets");
        if (n == nullptr)
            l.message_memory_octets = l.max_message_octets;
        else
            r.fail(*n, "limits.message_memory_octets",
                   "must be >= limits.max_message_octets (" + std::to_string(l.max_message_octets) +
                       "): else a message of the largest size could never be accepted");
    }
    if (l.data_timeout_seconds < l.data_block_timeout_seconds) {
        const toml::node* n = t.get("data_timeout_seconds");
        if (!n) n = t.get("data_block_timeout_seconds");
        r.fail(*n, "limits.data_timeout_seconds",
               "must be >= limits.data_block_timeout_seconds (" +
                   std::to_string(l.data_block_timeout_seconds) + "): it bounds the whole transfer");
    }
}

bool boolean(const Reader& r, const toml::node& n, std::string_view key) {
    if (const auto* b = n.as_boolean()) return b->get();
    r.fail(n, key, "must be true or false, not " + std::string(type_name(n)));
}

// "192.0.2.53" or "192.0.2.53@5353" (libunbound's forwarder syntax).
std::string forwarder(const Reader& r, const toml::node& n, const std::string& key) {
    const std::string s = r.string(n, key);
    const auto at = s.find('@');
    const std::string ip = s.substr(0, at);
    bool ok = core::is_ipv4_address(ip) || core::is_ipv6_address(ip);
    if (ok && at != std::string::npos) {
        const std::string port = s.substr(at + 1);
        ok = !port.empty() && port.size() <= 5 &&
             std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
             std::stoul(port) >= 1 && std::stoul(port) <= 65535;
    }
    if (!ok) r.fail(n, key, "\"" + s + "\" is not an IP address, optionally with @port");
    return s;
}

std::string domain_name(const Reader& r, const toml::node& n, const std::string& key);
std::string lower_domain_name(const Reader& r, const toml::node& n, const std::string& key);

void read_dns(const Reader& r, const toml::table& t, DnsSettings& d) {
    r.only_keys(t, "dns", {"zone_file", "forwarders", "trust_anchor_file", "timeout_seconds", "stub_zones"});
    using N = const toml::node*;
    if (N n = t.get("zone_file")) d.zone_file = r.string(*n, "dns.zone_file");
    if (N n = t.get("trust_anchor_file"))
        d.trust_anchor_file = r.nonempty_string(*n, "dns.trust_anchor_file");
    if (N n = t.get("timeout_seconds"))
        d.timeout_seconds = static_cast<std::uint32_t>(r.integer(*n, "dns.timeout_seconds", 1, 60));
    if (N n = t.get("forwarders")) {
        d.forwarders.clear();
        const auto& a = r.array(*n, "dns.forwarders");
        for (std::size_t i = 0; i < a.size(); ++i)
            d.forwarders.push_back(forwarder(r, *a.get(i), index_key("dns.forwarders", i)));
    }
    if (N n = t.get("stub_zones")) {
        d.stub_zones.clear();
        const auto& a = r.array(*n, "dns.stub_zones");
        for (std::size_t i = 0; i < a.size(); ++i) {
            const std::string key = index_key("dns.stub_zones", i);
            const toml::table& z = r.table(*a.get(i), key);
            r.only_keys(z, key, {"zone", "addresses"});
            DnsSettings::StubZone stub;
            N zn = z.get("zone");
            N an = z.get("addresses");
            if (!zn) r.fail(z, key + ".zone", "is required");
            if (!an) r.fail(z, key + ".addresses", "is required");
            stub.zone = lower_domain_name(r, *zn, key + ".zone");
            const auto& addrs = r.array(*an, key + ".addresses");
            if (addrs.size() == 0) r.fail(*an, key + ".addresses", "must name at least one server");
            for (std::size_t j = 0; j < addrs.size(); ++j)
                stub.addresses.push_back(forwarder(r, *addrs.get(j), index_key(key + ".addresses", j)));
            d.stub_zones.push_back(std::move(stub));
        }
    }
}

void read_spf(const Reader& r, const toml::table& t, SpfSettings& s) {
    r.only_keys(t, "spf", {"check", "reject_fail", "temperror"});
    using N = const toml::node*;
    if (N n = t.get("check")) s.check = boolean(r, *n, "spf.check");
    if (N n = t.get("reject_fail")) s.reject_fail = boolean(r, *n, "spf.reject_fail");
    if (N n = t.get("temperror")) s.temperror = r.choice(*n, "spf.temperror", spf_temperror_options);
}

void read_dkim(const Reader& r, const toml::table& t, std::vector<DkimKey>& keys) {
    r.only_keys(t, "dkim", {"keys"});
    const toml::node* n = t.get("keys");
    if (!n) return;
    const auto& a = r.array(*n, "dkim.keys");
    keys.clear();
    for (std::size_t i = 0; i < a.size(); ++i) {
        const std::string key = index_key("dkim.keys", i);
        const toml::table& k = r.table(*a.get(i), key);
        r.only_keys(k, key, {"domain", "selector", "key_file"});
        DkimKey d;
        const toml::node* dn = k.get("domain");
        const toml::node* sn = k.get("selector");
        const toml::node* fn = k.get("key_file");
        if (!dn) r.fail(k, key + ".domain", "is required");
        if (!sn) r.fail(k, key + ".selector", "is required");
        if (!fn) r.fail(k, key + ".key_file", "is required");
        d.domain = domain_name(r, *dn, key + ".domain");
        // A selector is one or more DNS labels (RFC 6376 3.1).
        d.selector = domain_name(r, *sn, key + ".selector");
        d.key_file = r.nonempty_string(*fn, key + ".key_file");
        for (const auto& other : keys)
            if (other.domain == d.domain && other.selector == d.selector)
                r.fail(*sn, key + ".selector",
                       "\"" + d.selector + "\" is already configured for " + d.domain);
        keys.push_back(std::move(d));
    }
}

constexpr std::pair<std::string_view, OutboundTls> outbound_tls_options[] = {
    {"none", OutboundTls::none},
    {"opportunistic", OutboundTls::opportunistic},
    {"required", OutboundTls::required},
    {"verify", OutboundTls::verify}};

// A host name or an IP address (relayhost, route targets).
std::string host_or_ip(const Reader& r, const toml::node& n, const std::string& key) {
    const std::string s = r.string(n, key);
    if (core::is_ipv4_address(s) || core::is_ipv6_address(s)) return s;
    const auto d = core::Domain::parse(s, host_syntax);
    if (!d) r.fail(n, key, "\"" + s + "\" is neither a host name nor an IP address");
    return d.value().lowercase();
}

// The keys of a next hop, in `t` (relayhost or a route); `extra` are the table's other keys.
NextHopSettings read_next_hop(const Reader& r, const toml::table& t, const std::string& prefix,
                              std::initializer_list<std::string_view> allowed) {
    r.only_keys(t, prefix, allowed);
    using N = const toml::node*;
    NextHopSettings h;
    N host = t.get("host");
    if (!host) r.fail(t, prefix + ".host", "is required");
    h.host = host_or_ip(r, *host, prefix + ".host");
    if (N n = t.get("port")) h.port = static_cast<std::uint16_t>(r.integer(*n, prefix + ".port", 1, 65535));
    // Credentials imply tls = "verify": sent over TLS whose certificate nobody checked, a
    // password goes to whoever answers on the path (a weaker mode must be asked for by name,
    // and then draws a warning at start, credential_warnings()).
    N tls = t.get("tls");
    if (tls) h.tls = r.choice(*tls, prefix + ".tls", outbound_tls_options);
    else if (t.get("password_file") != nullptr) h.tls = OutboundTls::verify;
    if (N n = t.get("ca_file")) {
        h.ca_file = r.string(*n, prefix + ".ca_file");
        if (h.tls != OutboundTls::verify) r.fail(*n, prefix + ".ca_file", "only goes with tls = \"verify\"");
        if (h.ca_file.empty()) r.fail(*n, prefix + ".ca_file", "must not be empty");
    }
    if (h.tls == OutboundTls::verify && (core::is_ipv4_address(h.host) || core::is_ipv6_address(h.host)))
        r.fail(*host, prefix + ".host",
               tls ? "must be a host name with tls = \"verify\": the certificate names a host"
                   : "must be a host name: with a password_file, tls defaults to \"verify\" and the "
                     "certificate names a host (set tls explicitly to send the password unverified)");
    if (N n = t.get("username")) h.username = r.string(*n, prefix + ".username");
    if (N n = t.get("password_file")) h.password_file = r.string(*n, prefix + ".password_file");
    if (h.username.empty() != h.password_file.empty())
        r.fail(t, prefix + (h.username.empty() ? ".username" : ".password_file"),
               "username and password_file go together");
    if (!h.username.empty() && h.tls == OutboundTls::none)
        r.fail(t, prefix + ".tls", "must not be \"none\" with a username: credentials are only sent over TLS");
    return h;
}

void read_outbound(const Reader& r, const toml::table& t, OutboundSettings& o) {
    r.only_keys(t, "outbound",
                {"enabled", "mx_port", "dane", "relayhost", "routes", "max_connections",
                 "max_per_destination", "connect_timeout_seconds", "command_timeout_seconds",
                 "data_timeout_seconds", "first_retry_seconds", "max_retry_interval_seconds",
                 "give_up_after_seconds", "delay_warning_seconds"});
    using N = const toml::node*;
    if (N n = t.get("enabled")) o.enabled = boolean(r, *n, "outbound.enabled");
    if (N n = t.get("dane")) o.dane = boolean(r, *n, "outbound.dane");
    if (N n = t.get("mx_port"))
        o.mx_port = static_cast<std::uint16_t>(r.integer(*n, "outbound.mx_port", 1, 65535));
    const auto field = [&](std::string_view name, std::uint32_t& out, std::int64_t lo, std::int64_t hi,
                           std::string_view why = {}) {
        if (N n = t.get(name))
            out = static_cast<std::uint32_t>(r.integer(*n, join_key("outbound", name), lo, hi, why));
    };
    field("max_connections", o.max_connections, 1, 100000);
    field("max_per_destination", o.max_per_destination, 1, 1000);
    field("connect_timeout_seconds", o.connect_timeout_seconds, 1, bounds::max_timeout_seconds);
    field("command_timeout_seconds", o.command_timeout_seconds, 1, bounds::max_timeout_seconds);
    field("data_timeout_seconds", o.data_timeout_seconds, 1, bounds::max_timeout_seconds);
    field("first_retry_seconds", o.first_retry_seconds, 1, 7 * 24 * 3600);
    field("max_retry_interval_seconds", o.max_retry_interval_seconds, 1, 7 * 24 * 3600);
    field("give_up_after_seconds", o.give_up_after_seconds, 60, 30 * 24 * 3600);
    field("delay_warning_seconds", o.delay_warning_seconds, 0, 30 * 24 * 3600);
    if (o.max_retry_interval_seconds < o.first_retry_seconds) {
        N n = t.get("max_retry_interval_seconds");
        if (!n) n = t.get("first_retry_seconds");
        r.fail(*n, "outbound.max_retry_interval_seconds",
               "must be >= outbound.first_retry_seconds (" + std::to_string(o.first_retry_seconds) + ")");
    }
    if (N n = t.get("relayhost")) {
        o.relayhost = {read_next_hop(r, r.table(*n, "outbound.relayhost"), "outbound.relayhost",
                                     {"host", "port", "tls", "ca_file", "username", "password_file"})};
    }
    if (N n = t.get("routes")) {
        o.routes.clear();
        const auto& a = r.array(*n, "outbound.routes");
        for (std::size_t i = 0; i < a.size(); ++i) {
            const std::string key = index_key("outbound.routes", i);
            const toml::table& rt = r.table(*a.get(i), key);
            RouteSettings route;
            N d = rt.get("domain");
            if (!d) r.fail(rt, key + ".domain", "is required");
            // Matched against recipient domains, which compare case-insensitively.
            route.domain = lower_domain_name(r, *d, key + ".domain");
            route.to = read_next_hop(r, rt, key, {"domain", "host", "port", "tls", "ca_file", "username", "password_file"});
            for (const auto& other : o.routes)
                if (other.domain == route.domain)
                    r.fail(*d, key + ".domain", "\"" + route.domain + "\" has a route already");
            o.routes.push_back(std::move(route));
        }
    }
}

void read_dmarc(const Reader& r, const toml::table& t, DmarcSettings& d) {
    r.only_keys(t, "dmarc", {"check", "enforce", "temperror", "never_reject"});
    using N = const toml::node*;
    if (N n = t.get("check")) d.check = boolean(r, *n, "dmarc.check");
    if (N n = t.get("enforce")) d.enforce = boolean(r, *n, "dmarc.enforce");
    if (N n = t.get("temperror"))
        d.temperror = r.choice(*n, "dmarc.temperror", spf_temperror_options);
    if (N n = t.get("never_reject")) {
        d.never_reject.clear();
        const auto& a = r.array(*n, "dmarc.never_reject");
        for (std::size_t i = 0; i < a.size(); ++i)
            d.never_reject.push_back(domain_name(r, *a.get(i), index_key("dmarc.never_reject", i)));
    }
}

std::string ip_address(const Reader& r, const toml::node& n, const std::string& key) {
    std::string s = r.string(n, key);
    if (!core::is_ipv4_address(s) && !core::is_ipv6_address(s))
        r.fail(n, key, "\"" + s + "\" is not an IPv4 or IPv6 address (use 0.0.0.0 or :: for all)");
    return s;
}

std::vector<Listener> read_listeners(const Reader& r, const toml::node& node) {
    const toml::array& arr = r.array(node, "listeners");
    if (arr.empty()) r.fail(node, "listeners", "must list at least one listener");
    std::vector<Listener> out;
    for (std::size_t i = 0; i < arr.size(); ++i) {
        const std::string key = index_key("listeners", i);
        const toml::table& t = r.table(arr[i], key);
        r.only_keys(t, key, {"address", "port", "role", "tls"});
        Listener l;
        const toml::node* address = t.get("address");
        const toml::node* port = t.get("port");
        const toml::node* role = t.get("role");
        if (!address) r.fail(t, join_key(key, "address"), "is required");
        if (!port) r.fail(t, join_key(key, "port"), "is required");
        if (!role) r.fail(t, join_key(key, "role"), "is required");
        l.address = ip_address(r, *address, join_key(key, "address"));
        l.port = static_cast<std::uint16_t>(r.integer(*port, join_key(key, "port"), 1, 65535));
        l.role = r.choice(*role, join_key(key, "role"), role_options);
        if (const toml::node* tls = t.get("tls")) {
            l.tls = r.choice(*tls, join_key(key, "tls"), tls_options);
            if (l.role == smtp::Role::submission && l.tls == TlsMode::none)
                r.fail(*tls, join_key(key, "tls"),
                       "a submission listener needs \"starttls\" or \"implicit\": "
                       "AUTH is only offered over TLS");
        }
        // Two listeners on one port conflict even on different addresses once either is
        // the wildcard, so any repeat is rejected.
        for (std::size_t j = 0; j < out.size(); ++j) {
            if (out[j].port == l.port)
                r.fail(*port, join_key(key, "port"),
                       std::to_string(l.port) + " is already used by " + index_key("listeners", j));
        }
        out.push_back(std::move(l));
    }
    return out;
}

// The domain parsed once; domain_name() keeps the text as written, lower_domain_name() gives
// the lower-case form for names matched against recipients (routes, stub zones).
core::Domain parse_domain(const Reader& r, const toml::node& n, const std::string& key) {
    std::string s = r.string(n, key);
    auto d = core::Domain::parse(s, host_syntax);
    if (!d) r.fail(n, key, "\"" + s + "\" is not a domain name: " + d.error().message);
    return std::move(d).value();
}

std::string domain_name(const Reader& r, const toml::node& n, const std::string& key) {
    return parse_domain(r, n, key).text();
}

std::string lower_domain_name(const Reader& r, const toml::node& n, const std::string& key) {
    return parse_domain(r, n, key).lowercase();
}

std::vector<std::string> read_local_domains(const Reader& r, const toml::node& node) {
    const toml::array& arr = r.array(node, "local_domains");
    if (arr.empty()) r.fail(node, "local_domains", "must list at least one domain");
    std::vector<std::string> out;
    std::vector<std::string> lower;
    for (std::size_t i = 0; i < arr.size(); ++i) {
        const std::string key = index_key("local_domains", i);
        std::string d = domain_name(r, arr[i], key);
        std::string l = core::Domain::parse(d, host_syntax).value().lowercase();
        if (std::find(lower.begin(), lower.end(), l) != lower.end())
            r.fail(arr[i], key, "\"" + d + "\" is listed twice");
        lower.push_back(std::move(l));
        out.push_back(std::move(d));
    }
    return out;
}

core::Mailbox mailbox(const Reader& r, const toml::node& n, const std::string& key) {
    const std::string s = r.string(n, key);
    auto m = core::Mailbox::parse(s);
    if (!m) r.fail(n, key, "\"" + s + "\" is not an address (local@domain): " + m.error().message);
    return std::move(m).value();
}

// One uniqueness rule over every address that names a mailbox or a sender: users' addresses,
// their aliases and [delivery] discard addresses are all distinct, compared as the run-time
// Directory matches them (policy/directory.hpp: ASCII case-insensitively over the whole address, local
// part included). With a case-sensitive check an alias "Bob@example.org" of alice would pass
// and then receive bob's mail and let alice send as bob; users "Carol@" and "carol@" would
// share one Maildir (maildir_for lower-cases the path).
class AddressClaims {
public:
    enum class Kind { user, alias, discard };
    static constexpr std::size_t no_user = static_cast<std::size_t>(-1);

    // Records the address `text`, written at `node` as `key`, for `user` (an index into
    // [[users]], or no_user for a discard address); fails naming both entries when an earlier
    // entry holds the same address.
    void claim(const Reader& r, const toml::node& node, const std::string& key,
               const std::string& text, Kind kind, std::size_t user) {
        Claim mine{key, text, &node, kind, user};
        auto [it, fresh] = by_address_.try_emplace(core::ascii_lower(text), mine);
        if (fresh) return;
        const Claim& earlier = it->second;
        // An alias that is some user's address is the alias's mistake, even when the alias
        // comes first in the file: report it there.
        const bool blame_earlier = earlier.kind == Kind::alias && kind == Kind::user;
        const Claim& at = blame_earlier ? earlier : mine;
        const Claim& other = blame_earlier ? mine : earlier;
        r.fail(*at.node, at.key,
               "\"" + at.text + "\" is the same address as " + other.key + " \"" + other.text +
                   "\" (line " + std::to_string(line_of(*other.node)) +
                   "; addresses match ignoring case): " + why(at, other));
    }

private:
    struct Claim {
        std::string key;
        std::string text;
        const toml::node* node;
        Kind kind;
        std::size_t user;
    };

    static toml::source_index line_of(const toml::node& n) {
        return std::max<toml::source_index>(n.source().begin.line, 1);
    }

    static std::string why(const Claim& a, const Claim& b) {
        if (a.kind == Kind::discard || b.kind == Kind::discard)
            return a.kind == b.kind ? "listed twice"
                                    : "an address is either a mailbox or discarded";
        if (a.kind == Kind::user && b.kind == Kind::user)
            return "two users would share one mailbox";
        if (a.user == b.user)
            return a.kind == b.kind ? "listed twice" : "an alias is not the user's own address";
        if (a.kind == Kind::alias && b.kind == Kind::alias)
            return "two users may not share an alias (it would receive for one, send as both)";
        return "one user may not receive or send as another";
    }

    std::unordered_map<std::string, Claim> by_address_;  // key: lower case
};

bool in_local_domains(const core::Mailbox& m, const std::vector<std::string>& local_domains) {
    return std::any_of(local_domains.begin(), local_domains.end(), [&](const std::string& d) {
        return core::Domain::parse(d, host_syntax).value() == m.domain();
    });
}

std::vector<User> read_users(const Reader& r, const toml::node& node,
                             const std::vector<std::string>& local_domains,
                             AddressClaims& claims) {
    const toml::array& arr = r.array(node, "users");
    std::vector<User> out;
    for (std::size_t i = 0; i < arr.size(); ++i) {
        const std::string key = index_key("users", i);
        const toml::table& t = r.table(arr[i], key);
        r.only_keys(t, key, {"address", "password_hash", "aliases"});
        const toml::node* address = t.get("address");
        const toml::node* hash = t.get("password_hash");
        if (!address) r.fail(t, join_key(key, "address"), "is required");
        if (!hash) r.fail(t, join_key(key, "password_hash"), "is required");
        User u;
        const core::Mailbox m = mailbox(r, *address, join_key(key, "address"));
        u.address = r.string(*address, join_key(key, "address"));
        // A user's mailbox must be one we deliver to, or mail to them would be relayed away.
        if (!in_local_domains(m, local_domains))
            r.fail(*address, join_key(key, "address"),
                   "domain \"" + m.domain().text() + "\" is not in local_domains");
        claims.claim(r, *address, join_key(key, "address"), u.address, AddressClaims::Kind::user, i);
        u.password_hash = r.string(*hash, join_key(key, "password_hash"));
        if (auto problem = password_hash_problem(u.password_hash))
            r.fail(*hash, join_key(key, "password_hash"), *problem);
        if (const toml::node* aliases = t.get("aliases")) {
            const std::string akey = join_key(key, "aliases");
            const toml::array& a = r.array(*aliases, akey);
            for (std::size_t j = 0; j < a.size(); ++j) {
                const std::string ikey = index_key(akey, j);
                (void)mailbox(r, a[j], ikey);
                u.aliases.push_back(r.string(a[j], ikey));
                claims.claim(r, a[j], ikey, u.aliases.back(), AddressClaims::Kind::alias, i);
            }
        }
        out.push_back(std::move(u));
    }
    return out;
}

// [delivery]: read after [[users]], whose addresses and aliases a discard address may not be.
void read_delivery(const Reader& r, const toml::table& t,
                   const std::vector<std::string>& local_domains, AddressClaims& claims,
                   DeliverySettings& d) {
    r.only_keys(t, "delivery", {"discard"});
    const toml::node* n = t.get("discard");
    if (!n) return;
    const toml::array& arr = r.array(*n, "delivery.discard");
    d.discard.clear();
    for (std::size_t i = 0; i < arr.size(); ++i) {
        const std::string key = index_key("delivery.discard", i);
        const core::Mailbox m = mailbox(r, arr[i], key);
        const std::string text = r.string(arr[i], key);
        if (!in_local_domains(m, local_domains))
            r.fail(arr[i], key, "domain \"" + m.domain().text() + "\" is not in local_domains");
        if (core::ascii_lower(m.local_part()) == "postmaster")
            r.fail(arr[i], key,
                   "\"" + text + "\" may not be discarded: mail to postmaster must reach a person "
                   "(RFC 5321 4.5.1)");
        claims.claim(r, arr[i], key, text, AddressClaims::Kind::discard, AddressClaims::no_user);
        d.discard.push_back(text);
    }
}

Config read_config(const Reader& r, const toml::table& root, std::string_view default_hostname) {
    r.only_keys(root, "",
                {"hostname", "local_domains", "listeners", "tls", "users", "limits", "state_dir",
                 "log_level", "threads", "dns", "spf", "dmarc", "dkim", "outbound", "delivery"});
    Config c;
    c.hostname = std::string(default_hostname);
    c.local_domains = {std::string(defaults::local_domain)};
    c.listeners = default_listeners();
    c.limits = default_limits();
    c.state_dir = std::string(defaults::state_dir);

    using N = const toml::node*;
    if (N n = root.get("hostname")) c.hostname = domain_name(r, *n, "hostname");
    if (N n = root.get("state_dir")) c.state_dir = r.nonempty_string(*n, "state_dir");
    if (N n = root.get("log_level")) c.log_level = r.choice(*n, "log_level", log_options);
    if (N n = root.get("threads"))
        c.threads = static_cast<unsigned>(r.integer(*n, "threads", 0, bounds::max_threads));
    if (N n = root.get("local_domains")) c.local_domains = read_local_domains(r, *n);
    if (N n = root.get("listeners")) c.listeners = read_listeners(r, *n);
    if (N n = root.get("tls")) {
        const toml::table& t = r.table(*n, "tls");
        r.only_keys(t, "tls", {"cert_file", "key_file"});
        if (N f = t.get("cert_file")) c.tls.cert_file = r.string(*f, "tls.cert_file");
        if (N f = t.get("key_file")) c.tls.key_file = r.string(*f, "tls.key_file");
        if (c.tls.cert_file.empty() != c.tls.key_file.empty()) {
            const char* missing = c.tls.cert_file.empty() ? "tls.cert_file" : "tls.key_file";
            r.fail(t, missing,
                   "must be set together with the other (leave both empty for a self-signed "
                   "certificate)");
        }
    }
    if (N n = root.get("limits")) read_limits(r, r.table(*n, "limits"), c.limits);
    if (N n = root.get("dns")) read_dns(r, r.table(*n, "dns"), c.dns);
    if (N n = root.get("spf")) read_spf(r, r.table(*n, "spf"), c.spf);
    if (N n = root.get("dmarc")) read_dmarc(r, r.table(*n, "dmarc"), c.dmarc);
    if (N n = root.get("dkim")) read_dkim(r, r.table(*n, "dkim"), c.dkim_keys);
    if (N n = root.get("outbound")) read_outbound(r, r.table(*n, "outbound"), c.outbound);
    AddressClaims claims;  // users, aliases and discard addresses: one namespace
    if (N n = root.get("users")) c.users = read_users(r, *n, c.local_domains, claims);
    if (N n = root.get("delivery"))
        read_delivery(r, r.table(*n, "delivery"), c.local_domains, claims, c.delivery);
    return c;
}

}  // namespace

Result<Config> parse_config(std::string_view text, std::string_view source_name,
                            std::string_view default_hostname) {
    toml::table root;
    try {
        root = toml::parse(text, std::string(source_name));
    } catch (const toml::parse_error& e) {
        return ParseError{std::string(source_name) + ":" +
                          std::to_string(std::max<toml::source_index>(e.source().begin.line, 1)) +
                          ": " + std::string(e.description())};
    }
    try {
        return read_config(Reader(source_name), root, default_hostname);
    } catch (const ConfigError& e) {
        return ParseError{e.message};
    }
}

Result<Config> load_config(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        return ParseError{path + ": cannot read the configuration: is a directory"};
    std::ifstream in(path, std::ios::binary);
    if (!in) return ParseError{path + ": cannot read the configuration: " + std::strerror(errno)};
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return ParseError{path + ": cannot read the configuration: read error"};
    return parse_config(text.str(), path, system_hostname());
}

namespace {

// A TOML basic string: quotes, backslashes and control characters escaped.
std::string toml_string(std::string_view s) {
    std::string out = "\"";
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (ch) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (c < 0x20 || c == 0x7F) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04X", c);
                    out += buf;
                } else {
                    out += ch;
                }
        }
    }
    return out + "\"";
}

std::string string_array(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + toml_string(items[i]);
    return out + "]";
}

}  // namespace

std::string to_toml(const Config& c) {
    std::ostringstream o;
    o << "# Pigeon configuration; every key is described in docs/configuration.md.\n"
      << "hostname = " << toml_string(c.hostname) << "\n"
      << "local_domains = " << string_array(c.local_domains) << "\n"
      << "state_dir = " << toml_string(c.state_dir) << "\n"
      << "log_level = " << toml_string(log_level_name(c.log_level)) << "\n"
      << "threads = " << c.threads << "  # 0: one per CPU core\n";
    o << "\n[tls]  # both empty: self-signed certificate in <state_dir>/tls/\n"
      << "cert_file = " << toml_string(c.tls.cert_file) << "\n"
      << "key_file = " << toml_string(c.tls.key_file) << "\n";
    const Limits& l = c.limits;
    o << "\n[limits]\n"
      << "max_connections = " << l.max_connections << "\n"
      << "max_connections_per_ip = " << l.max_connections_per_ip << "\n"
      << "command_timeout_seconds = " << l.command_timeout_seconds << "\n"
      << "data_block_timeout_seconds = " << l.data_block_timeout_seconds << "\n"
      << "data_timeout_seconds = " << l.data_timeout_seconds << "\n"
      << "max_message_octets = " << l.max_message_octets << "\n"
      << "max_recipients = " << l.max_recipients << "\n"
      << "max_errors_per_session = " << l.max_errors_per_session << "\n"
      << "auth_failures_per_ip_per_minute = " << l.auth_failures_per_ip_per_minute << "\n"
      << "shutdown_grace_seconds = " << l.shutdown_grace_seconds << "\n"
      << "message_memory_octets = " << l.message_memory_octets << "  # all messages in flight\n"
      << "spool_min_free_octets = " << l.spool_min_free_octets << "  # 0: no check\n"
      << "message_spill_octets = " << l.message_spill_octets
      << "  # larger messages are received into a file; 0: never\n"
      << "verify_threads = " << l.verify_threads << "  # 0: one per CPU core\n"
      << "verify_cpu_seconds = " << l.verify_cpu_seconds << "\n"
      << "ipv6_prefix_bits = " << l.ipv6_prefix_bits
      << "  # per-ip limits count an IPv6 client per network of this length\n";
    o << "\n[dns]  # zone_file set: answers only from that file (no network)\n"
      << "zone_file = " << toml_string(c.dns.zone_file) << "\n"
      << "forwarders = " << string_array(c.dns.forwarders) << "  # empty: recurse from the root\n"
      << "trust_anchor_file = " << toml_string(c.dns.trust_anchor_file) << "\n"
      << "timeout_seconds = " << c.dns.timeout_seconds << "\n";
    for (const auto& z : c.dns.stub_zones)
        o << "\n[[dns.stub_zones]]\n"
          << "zone = " << toml_string(z.zone) << "\n"
          << "addresses = " << string_array(z.addresses) << "\n";
    o << "\n[spf]\n"
      << "check = " << (c.spf.check ? "true" : "false") << "\n"
      << "reject_fail = " << (c.spf.reject_fail ? "true" : "false") << "\n"
      << "temperror = " << toml_string(spf_temperror_name(c.spf.temperror))
      << "  # \"defer\": 451 4.4.3, \"accept\": deliver and record\n";
    o << "\n[dmarc]\n"
      << "check = " << (c.dmarc.check ? "true" : "false") << "\n"
      << "enforce = " << (c.dmarc.enforce ? "true" : "false") << "\n"
      << "temperror = " << toml_string(spf_temperror_name(c.dmarc.temperror))
      << "  # \"defer\": 451 4.7.5, \"accept\": deliver and record\n"
      << "never_reject = " << string_array(c.dmarc.never_reject) << "\n";
    if (c.dkim_keys.empty()) o << "\n# No [[dkim.keys]]: submission does not sign.\n";
    for (const DkimKey& k : c.dkim_keys)
        o << "\n[[dkim.keys]]\n"
          << "domain = " << toml_string(k.domain) << "\n"
          << "selector = " << toml_string(k.selector) << "\n"
          << "key_file = " << toml_string(k.key_file) << "\n";
    o << "\n[delivery]\n"
      << "discard = " << string_array(c.delivery.discard)
      << "  # accepted, spooled, then dropped without a copy\n";
    const OutboundSettings& ob = c.outbound;
    o << "\n[outbound]\n"
      << "enabled = " << (ob.enabled ? "true" : "false") << "  # false: remote mail stays queued\n"
      << "mx_port = " << ob.mx_port << "\n"
      << "dane = " << (ob.dane ? "true" : "false") << "\n"
      << "max_connections = " << ob.max_connections << "\n"
      << "max_per_destination = " << ob.max_per_destination << "\n"
      << "connect_timeout_seconds = " << ob.connect_timeout_seconds << "\n"
      << "command_timeout_seconds = " << ob.command_timeout_seconds << "\n"
      << "data_timeout_seconds = " << ob.data_timeout_seconds << "\n"
      << "first_retry_seconds = " << ob.first_retry_seconds << "\n"
      << "max_retry_interval_seconds = " << ob.max_retry_interval_seconds << "\n"
      << "give_up_after_seconds = " << ob.give_up_after_seconds << "\n"
      << "delay_warning_seconds = " << ob.delay_warning_seconds << "  # 0: no delay notices\n";
    const auto next_hop = [&](const NextHopSettings& h) {
        o << "host = " << toml_string(h.host) << "\n"
          << "port = " << h.port << "\n"
          << "tls = " << toml_string(outbound_tls_name(h.tls)) << "\n";
        if (!h.ca_file.empty()) o << "ca_file = " << toml_string(h.ca_file) << "\n";
        if (!h.username.empty())
            o << "username = " << toml_string(h.username) << "\n"
              << "password_file = " << toml_string(h.password_file) << "\n";
    };
    if (ob.relayhost.empty()) o << "# No [outbound.relayhost]: remote mail goes to each domain's MX.\n";
    for (const NextHopSettings& h : ob.relayhost) {
        o << "\n[outbound.relayhost]\n";
        next_hop(h);
    }
    for (const RouteSettings& rt : ob.routes) {
        o << "\n[[outbound.routes]]\n"
          << "domain = " << toml_string(rt.domain) << "\n";
        next_hop(rt.to);
    }
    for (const Listener& x : c.listeners) {
        o << "\n[[listeners]]\n"
          << "address = " << toml_string(x.address) << "\n"
          << "port = " << x.port << "\n"
          << "role = " << toml_string(smtp::role_name(x.role)) << "\n"
          << "tls = " << toml_string(tls_mode_name(x.tls)) << "\n";
    }
    if (c.users.empty()) {
        o << "\n# No [[users]].";
        if (c.create_demo_user) o << " A demo user is created on first start.";
        o << "\n";
    }
    for (const User& u : c.users) {
        o << "\n[[users]]\n"
          << "address = " << toml_string(u.address) << "\n"
          << "password_hash = " << toml_string(u.password_hash) << "\n"
          << "aliases = " << string_array(u.aliases) << "\n";
    }
    return o.str();
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

}  // namespace pigeon::app
