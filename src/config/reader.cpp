// pigeon/config/reader.cpp: the TOML reader, with an error naming the key and line for
// anything wrong.
#include "config/reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <toml++/toml.h>

#include "config/endpoint.hpp"
#include "config/maildir_template.hpp"
#include "config/validate.hpp"
#include "core/address.hpp"
#include "core/ascii.hpp"
#include "core/domain.hpp"

namespace pigeon::config {

using core::ParseError;
using core::Result;

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

std::string join_key(std::string_view prefix, std::string_view name) {
    if (prefix.empty()) return std::string(name);
    return std::string(prefix) + "." + std::string(name);
}

std::string index_key(std::string_view key, std::size_t i) {
    return std::string(key) + "[" + std::to_string(i) + "]";
}

class Reader {
public:
    explicit Reader(std::string_view source) : source_(source) {}

    [[noreturn]] void fail_at_line(std::size_t line, std::string_view key,
                                   std::string_view what) const {
        std::string msg(source_);
        msg += ":" + std::to_string(line) + ": ";
        if (!key.empty()) msg += std::string(key) + ": ";
        msg += what;
        throw ConfigError{std::move(msg)};
    }
    [[noreturn]] void fail(const toml::source_region& where, std::string_view key,
                           std::string_view what) const {
        fail_at_line(line_of(where), key, what);
    }
    [[noreturn]] void fail(const toml::node& at, std::string_view key, std::string_view what) const {
        fail(at.source(), key, what);
    }
    static std::size_t line_of(const toml::source_region& where) {
        return std::max<toml::source_index>(where.begin.line, 1);
    }

    // Records an address for the uniqueness rule (config/validate.hpp), failing where it clashes.
    void claim(AddressClaims& claims, const toml::node& n, const std::string& key,
               const std::string& text, AddressClaims::Kind kind, std::size_t user) const {
        if (auto clash = claims.claim(key, text, line_of(n.source()), kind, user))
            fail_at_line(clash->line, clash->key, clash->message);
    }

    // Every key of `table` must be in `allowed`; a near miss is suggested.
    void only_keys(const toml::table& table, std::string_view prefix,
                   std::initializer_list<std::string_view> allowed) const {
        for (auto&& [k, v] : table) {
            const std::string_view name = k.str();
            if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
            std::string what = "unknown key";
            const std::string_view best = closest_name(name, allowed);
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

constexpr std::pair<std::string_view, LogFormat> log_format_options[] = {
    {"text", LogFormat::text}, {"json", LogFormat::json}};
constexpr std::pair<std::string_view, LogTarget> log_target_options[] = {
    {"stderr", LogTarget::standard_error}, {"syslog", LogTarget::syslog}, {"file", LogTarget::file}};

void read_log(const Reader& r, const toml::table& t, LogSettings& l) {
    r.only_keys(t, "log", {"format", "target", "file", "syslog_socket"});
    using N = const toml::node*;
    if (N n = t.get("format")) l.format = r.choice(*n, "log.format", log_format_options);
    if (N n = t.get("target")) l.target = r.choice(*n, "log.target", log_target_options);
    if (N n = t.get("file")) l.file = r.nonempty_string(*n, "log.file");
    if (N n = t.get("syslog_socket")) l.syslog_socket = r.nonempty_string(*n, "log.syslog_socket");
    if (l.target == LogTarget::file && l.file.empty())
        r.fail(t, "log.file", "required with log.target = \"file\"");
}

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

// A port number 1..65535 in decimal.
bool port_text_ok(const std::string& port) {
    return !port.empty() && port.size() <= 5 &&
           std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
           std::stoul(port) >= 1 && std::stoul(port) <= 65535;
}

// "192.0.2.53" or "192.0.2.53@5353" (libunbound's forwarder syntax).
std::string forwarder(const Reader& r, const toml::node& n, const std::string& key) {
    const std::string s = r.string(n, key);
    const auto at = s.find('@');
    const std::string ip = s.substr(0, at);
    bool ok = core::is_ipv4_address(ip) || core::is_ipv6_address(ip);
    if (ok && at != std::string::npos) {
        ok = port_text_ok(s.substr(at + 1));
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
        r.claim(claims, *address, join_key(key, "address"), u.address, AddressClaims::Kind::user, i);
        u.password_hash = r.string(*hash, join_key(key, "password_hash"));
        if (auto problem = password_hash_problem(u.password_hash))
            r.fail(*hash, join_key(key, "password_hash"), *problem);
        if (const toml::node* aliases = t.get("aliases")) {
            const std::string akey = join_key(key, "aliases");
            const toml::array& a = r.array(*aliases, akey);
            for (std::size_t j = 0; j < a.size(); ++j) {
                const std::string ikey = index_key(akey, j);
                const std::string text = r.string(a[j], ikey);
                if (!text.empty() && text.front() == '@') {  // "@domain": the domain's catch-all
                    const auto d = core::Domain::parse(text.substr(1), host_syntax);
                    if (!d || std::none_of(local_domains.begin(), local_domains.end(), [&](const std::string& ld) {
                            return core::ascii_lower(ld) == d->lowercase();
                        }))
                        r.fail(a[j], ikey, "\"" + text + "\" is a catch-all (\"@domain\") of a domain not in local_domains");
                } else {
                    (void)mailbox(r, a[j], ikey);
                }
                u.aliases.push_back(text);
                r.claim(claims, a[j], ikey, u.aliases.back(), AddressClaims::Kind::alias, i);
            }
        }
        out.push_back(std::move(u));
    }
    return out;
}

// [metrics] listen: "address:port", an IPv6 address in brackets ("[::1]:9187").
void read_metrics(const Reader& r, const toml::table& t, MetricsSettings& m) {
    r.only_keys(t, "metrics", {"listen"});
    const toml::node* n = t.get("listen");
    if (!n) return;
    const std::string text = r.string(*n, "metrics.listen");
    const auto colon = text.rfind(':');
    std::string host = colon == std::string::npos ? std::string() : text.substr(0, colon);
    const std::string port = colon == std::string::npos ? std::string() : text.substr(colon + 1);
    const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
    if (bracketed) host = host.substr(1, host.size() - 2);
    const bool ip_ok = bracketed ? core::is_ipv6_address(host) : core::is_ipv4_address(host);
    if (!ip_ok || !port_text_ok(port))
        r.fail(*n, "metrics.listen",
               "\"" + text + "\" is not address:port (an IPv6 address in brackets: \"[::1]:9187\")");
    m.address = host;
    m.port = static_cast<std::uint16_t>(std::stoul(port));
}

// [auth]: dovecot = "unix:/path" | "address:port", and its two timeouts.
void read_auth(const Reader& r, const toml::table& t, AuthSettings& a) {
    r.only_keys(t, "auth", {"dovecot", "dovecot_connect_timeout_seconds", "dovecot_timeout_seconds"});
    if (const toml::node* n = t.get("dovecot")) {
        a.dovecot = r.string(*n, "auth.dovecot");
        std::string why;
        if (!a.dovecot.empty() && !parse_auth_endpoint(a.dovecot, why)) r.fail(*n, "auth.dovecot", why);
    }
    if (const toml::node* n = t.get("dovecot_connect_timeout_seconds"))
        a.dovecot_connect_timeout_seconds = static_cast<std::uint32_t>(
            r.integer(*n, "auth.dovecot_connect_timeout_seconds", 1, bounds::max_dovecot_timeout_seconds));
    if (const toml::node* n = t.get("dovecot_timeout_seconds"))
        a.dovecot_timeout_seconds = static_cast<std::uint32_t>(
            r.integer(*n, "auth.dovecot_timeout_seconds", 1, bounds::max_dovecot_timeout_seconds));
}

// [delivery]: read after [[users]], whose addresses and aliases a discard address may not be.
void read_delivery(const Reader& r, const toml::table& t,
                   const std::vector<std::string>& local_domains, AddressClaims& claims,
                   DeliverySettings& d) {
    r.only_keys(t, "delivery", {"discard", "maildir", "lmtp", "lmtp_domains", "recipient_delimiter"});
    if (const toml::node* n = t.get("recipient_delimiter")) {
        d.recipient_delimiter = r.string(*n, "delivery.recipient_delimiter");
        const std::string& v = d.recipient_delimiter;
        if (v.size() > 8 || std::any_of(v.begin(), v.end(), [](char c) {
                return c == '@' || c == '"' || c == '\\' || static_cast<unsigned char>(c) <= ' ' ||
                       static_cast<unsigned char>(c) >= 0x7f;
            }))
            r.fail(*n, "delivery.recipient_delimiter",
                   "must be up to 8 printable ASCII characters other than @, \" and \\ (Postfix's \"+\")");
    }
    if (const toml::node* m = t.get("maildir")) {
        d.maildir = r.string(*m, "delivery.maildir");
        if (auto problem = maildir_template_problem(d.maildir)) r.fail(*m, "delivery.maildir", *problem);
    }
    if (const toml::node* l = t.get("lmtp")) {
        d.lmtp = r.string(*l, "delivery.lmtp");
        if (auto e = parse_lmtp_endpoint(d.lmtp); !e) r.fail(*l, "delivery.lmtp", e.error().message);
    }
    if (const toml::node* l = t.get("lmtp_domains")) {
        for (auto&& [domain, endpoint] : r.table(*l, "delivery.lmtp_domains")) {
            const std::string key = join_key("delivery.lmtp_domains", domain.str());
            const std::string name = core::ascii_lower(domain.str());
            const std::string text = r.string(endpoint, key);
            if (std::none_of(local_domains.begin(), local_domains.end(),
                             [&](const std::string& ld) { return core::ascii_lower(ld) == name; }))
                r.fail(endpoint, key, "domain \"" + std::string(domain.str()) + "\" is not in local_domains");
            if (std::any_of(d.lmtp_domains.begin(), d.lmtp_domains.end(),
                            [&](const auto& entry) { return entry.first == name; }))
                r.fail(endpoint, key, "domain \"" + std::string(domain.str()) + "\" is listed twice (names match ignoring case)");
            if (text != "maildir")
                if (auto e = parse_lmtp_endpoint(text); !e)
                    r.fail(endpoint, key, e.error().message + " (or \"maildir\" for the embedded store)");
            d.lmtp_domains.emplace_back(name, text);
        }
        // Sorted by the lower-cased name, so the shown configuration reads back the same.
        std::sort(d.lmtp_domains.begin(), d.lmtp_domains.end());
    }
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
        r.claim(claims, arr[i], key, text, AddressClaims::Kind::discard, AddressClaims::no_user);
        d.discard.push_back(text);
    }
}

// A user or group name as useradd(8) accepts one: letters, digits, '_', '-' and '.', at most
// 32, not starting with '-' or a digit-only name (which would read as an id).
std::string account_name(const Reader& r, const toml::node& n, std::string_view key) {
    std::string name = r.nonempty_string(n, key);
    const bool all_digits = std::all_of(name.begin(), name.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    const bool ok_chars = std::all_of(name.begin(), name.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
               ch == '-' || ch == '.';
    });
    if (name.size() > 32 || !ok_chars || name.front() == '-' || all_digits)
        r.fail(n, key, "\"" + name + "\" is not a user or group name (letters, digits, '_', '-', '.'; at most 32)");
    if (name == "root") r.fail(n, key, "may not be root: name the unprivileged account to run as");
    return name;
}

// [sendmail]: the socket, the domain of mapped logins, explicit mappings and trusted logins.
void read_sendmail(const Reader& r, const toml::table& t, SendmailSettings& s) {
    r.only_keys(t, "sendmail", {"socket", "domain", "addresses", "trusted_users"});
    if (const toml::node* n = t.get("socket")) {
        s.socket = r.string(*n, "sendmail.socket");
        if (!s.socket.empty() && s.socket.front() != '/') r.fail(*n, "sendmail.socket", "must be an absolute path");
        if (s.socket.size() > 100) r.fail(*n, "sendmail.socket", "is longer than a Unix socket path may be (100)");
    }
    if (const toml::node* n = t.get("domain")) s.domain = domain_name(r, *n, "sendmail.domain");
    if (const toml::node* n = t.get("addresses")) {
        for (auto&& [login, address] : r.table(*n, "sendmail.addresses")) {
            const std::string key = join_key("sendmail.addresses", login.str());
            (void)mailbox(r, address, key);
            s.addresses.push_back({std::string(login.str()), r.string(address, key)});
        }
    }
    if (const toml::node* n = t.get("trusted_users")) {
        const toml::array& arr = r.array(*n, "sendmail.trusted_users");
        s.trusted_users.clear();
        for (std::size_t i = 0; i < arr.size(); ++i)
            s.trusted_users.push_back(r.nonempty_string(arr[i], index_key("sendmail.trusted_users", i)));
    }
}

constexpr std::pair<std::string_view, DirectorySettings::Backend> directory_backend_options[] = {
    {"toml", DirectorySettings::Backend::toml},
    {"passwd-file", DirectorySettings::Backend::passwd_file},
    {"sqlite", DirectorySettings::Backend::sqlite},
    {"postgresql", DirectorySettings::Backend::postgresql}};

// [directory]: the backend and the keys it needs; a key the backend does not use is an error
// (a typo or a forgotten backend line must not be silently ignored).
void read_directory(const Reader& r, const toml::table& t, DirectorySettings& d) {
    r.only_keys(t, "directory", {"backend", "path", "conninfo", "recipient_query", "login_query", "sender_query",
                                 "cache_seconds", "cache_entries", "timeout_ms", "max_lookups", "threads"});
    using B = DirectorySettings::Backend;
    if (const toml::node* n = t.get("backend")) d.backend = r.choice(*n, "directory.backend", directory_backend_options);
    const auto text = [&](const char* name, std::string& out) -> const toml::node* {
        const toml::node* n = t.get(name);
        if (n) out = r.nonempty_string(*n, join_key("directory", name));
        return n;
    };
    const toml::node* path = text("path", d.path);
    const toml::node* conninfo = text("conninfo", d.conninfo);
    const bool sql = d.backend == B::sqlite || d.backend == B::postgresql;
    const char* queries[] = {"recipient_query", "login_query", "sender_query"};
    std::string* fields[] = {&d.recipient_query, &d.login_query, &d.sender_query};
    for (int i = 0; i < 3; ++i) {
        const toml::node* q = text(queries[i], *fields[i]);
        if (q && !sql) r.fail(*q, join_key("directory", queries[i]), "applies to backend \"sqlite\" or \"postgresql\" only");
        if (q && d.backend == B::postgresql && fields[i]->find("$1") == std::string::npos)
            r.fail(*q, join_key("directory", queries[i]), "must take the address as the parameter $1");
        if (q && d.backend == B::sqlite && fields[i]->find_first_of("?$:@") == std::string::npos)
            r.fail(*q, join_key("directory", queries[i]), "must take the address as a parameter (? or $1)");
    }
    const auto number = [&](const char* name, std::uint32_t& out, std::int64_t lo, std::int64_t hi) {
        if (const toml::node* n = t.get(name))
            out = static_cast<std::uint32_t>(r.integer(*n, join_key("directory", name), lo, hi));
    };
    number("cache_seconds", d.cache_seconds, 0, 3600);
    number("cache_entries", d.cache_entries, 0, 10'000'000);
    number("timeout_ms", d.timeout_ms, 10, 60'000);
    number("max_lookups", d.max_lookups, 1, 100'000);
    number("threads", d.threads, 1, 64);
    const bool file = d.backend == B::passwd_file || d.backend == B::sqlite;
    if (path && !file) r.fail(*path, "directory.path", "applies to backend \"passwd-file\" or \"sqlite\" only");
    if (conninfo && d.backend != B::postgresql) r.fail(*conninfo, "directory.conninfo", "applies to backend \"postgresql\" only");
    if (file && d.path.empty()) r.fail(t, "directory.path", "is required for this backend");
    if (d.backend == B::postgresql && d.conninfo.empty()) r.fail(t, "directory.conninfo", "is required for backend \"postgresql\"");
    if (sql && d.recipient_query.empty()) r.fail(t, "directory.recipient_query", "is required for an SQL backend");
    if (sql && d.login_query.empty()) r.fail(t, "directory.login_query", "is required for an SQL backend");
}

Config read_config(const Reader& r, const toml::table& root, std::string_view default_hostname) {
    r.only_keys(root, "",
                {"hostname", "local_domains", "listeners", "tls", "users", "limits", "state_dir",
                 "user", "group", "allow_root", "log_level", "threads", "dns", "spf", "dmarc", "dkim", "outbound", "delivery",
                 "sendmail", "metrics", "log", "directory", "auth"});
    Config c = empty_file_config(std::string(default_hostname));

    using N = const toml::node*;
    if (N n = root.get("hostname")) c.hostname = domain_name(r, *n, "hostname");
    if (N n = root.get("state_dir")) c.state_dir = r.nonempty_string(*n, "state_dir");
    if (N n = root.get("user")) c.user = account_name(r, *n, "user");
    if (N n = root.get("group")) c.group = account_name(r, *n, "group");
    if (N n = root.get("allow_root")) c.allow_root = boolean(r, *n, "allow_root");
    if (!c.group.empty() && c.user.empty())
        r.fail(*root.get("group"), "group", "is set without user (the group applies to the service user)");
    if (N n = root.get("log_level")) c.log_level = r.choice(*n, "log_level", log_options);
    if (N n = root.get("log")) read_log(r, r.table(*n, "log"), c.log);
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
    // Every user's Maildir must be placeable under the template (config/maildir_template.hpp).
    const std::string tmpl = c.delivery.maildir.empty() ? "/mail/%d/%n/Maildir" : c.delivery.maildir;
    for (std::size_t i = 0; i < c.users.size(); ++i) {
        auto placed = expand_maildir(tmpl, c.users[i].address);
        if (placed) continue;
        const std::string why = "user \"" + c.users[i].address + "\": " + placed.error().message;
        if (N m = c.delivery.maildir.empty() ? nullptr : root.get("delivery")->as_table()->get("maildir"))
            r.fail(*m, "delivery.maildir", why);
        const toml::node* user = root.get("users")->as_array()->get(i);
        const toml::node* address = user->as_table() ? user->as_table()->get("address") : nullptr;
        r.fail(address ? *address : *user, index_key("users", i) + ".address", why);
    }
    if (N n = root.get("sendmail")) read_sendmail(r, r.table(*n, "sendmail"), c.sendmail);
    if (N n = root.get("metrics")) read_metrics(r, r.table(*n, "metrics"), c.metrics);
    if (N n = root.get("directory")) read_directory(r, r.table(*n, "directory"), c.directory);
    if (N n = root.get("users"); n && c.directory.backend != DirectorySettings::Backend::toml && !c.users.empty())
        r.fail(*n, "users", "are not read with a [directory] backend: keep the users in the backend");
    if (N n = root.get("auth")) read_auth(r, r.table(*n, "auth"), c.auth);
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

}  // namespace pigeon::config
