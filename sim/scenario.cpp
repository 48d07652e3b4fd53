// pigeon/sim/scenario.cpp: the scenario reader (format: sim/README.md).
#include "sim/scenario.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <toml++/toml.h>

namespace pigeon::sim {
namespace {

struct LoadError {
    std::string message;
};

std::string_view type_name(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a number";
        case toml::node_type::boolean: return "a boolean";
        default: return "a date or time";
    }
}

class Reader {
public:
    Reader(std::string source, std::filesystem::path dir) : source_(std::move(source)), dir_(std::move(dir)) {}

    [[noreturn]] void fail(const toml::source_region& where, std::string_view key,
                           std::string_view what) const {
        std::string msg = source_ + ":" +
                          std::to_string(std::max<toml::source_index>(where.begin.line, 1)) + ": ";
        if (!key.empty()) msg += std::string(key) + ": ";
        msg += what;
        throw LoadError{std::move(msg)};
    }
    [[noreturn]] void fail(const toml::node& at, std::string_view key, std::string_view what) const {
        fail(at.source(), key, what);
    }

    void only_keys(const toml::table& t, const std::string& prefix,
                   std::initializer_list<std::string_view> allowed) const {
        for (auto&& [k, v] : t)
            if (std::find(allowed.begin(), allowed.end(), k.str()) == allowed.end())
                fail(k.source(), prefix + std::string(k.str()), "unknown key");
    }
    const toml::table& table(const toml::node& n, std::string_view key) const {
        if (const auto* t = n.as_table()) return *t;
        fail(n, key, "must be a table, not " + std::string(type_name(n)));
    }
    const toml::array& array(const toml::node& n, std::string_view key) const {
        if (const auto* a = n.as_array()) return *a;
        fail(n, key, "must be an array, not " + std::string(type_name(n)));
    }
    std::string string(const toml::node& n, std::string_view key) const {
        if (const auto* s = n.as_string()) return s->get();
        fail(n, key, "must be a string, not " + std::string(type_name(n)));
    }
    std::string nonempty(const toml::node& n, std::string_view key) const {
        auto s = string(n, key);
        if (s.empty()) fail(n, key, "must not be empty");
        return s;
    }
    bool boolean(const toml::node& n, std::string_view key) const {
        if (const auto* b = n.as_boolean()) return b->get();
        fail(n, key, "must be true or false, not " + std::string(type_name(n)));
    }
    std::int64_t integer(const toml::node& n, std::string_view key, std::int64_t lo,
                         std::int64_t hi) const {
        const auto* i = n.as_integer();
        if (!i) fail(n, key, "must be an integer, not " + std::string(type_name(n)));
        if (i->get() < lo) fail(n, key, "must be >= " + std::to_string(lo));
        if (i->get() > hi) fail(n, key, "must be <= " + std::to_string(hi));
        return i->get();
    }
    double number(const toml::node& n, std::string_view key, double lo, double hi) const {
        double v;
        if (const auto* i = n.as_integer()) v = static_cast<double>(i->get());
        else if (const auto* f = n.as_floating_point()) v = f->get();
        else fail(n, key, "must be a number, not " + std::string(type_name(n)));
        if (!(v >= lo && v <= hi))
            fail(n, key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
        return v;
    }
    // Seconds (integer or decimal) as milliseconds.
    std::int64_t seconds_ms(const toml::node& n, std::string_view key) const {
        return static_cast<std::int64_t>(std::llround(number(n, key, 0, 1e9) * 1000.0));
    }
    std::vector<std::string> strings(const toml::node& n, std::string_view key) const {
        std::vector<std::string> out;
        const auto& a = array(n, key);
        for (std::size_t i = 0; i < a.size(); ++i)
            out.push_back(nonempty(*a.get(i), std::string(key) + "[" + std::to_string(i) + "]"));
        return out;
    }
    // A file next to the scenario: its path, once it is known to be readable.
    std::string file(const toml::node& n, std::string_view key) const {
        const auto rel = nonempty(n, key);
        const auto p = dir_ / rel;
        std::ifstream in(p, std::ios::binary);
        if (!in) fail(n, key, "cannot read " + p.string());
        return p.string();
    }

private:
    std::string source_;
    std::filesystem::path dir_;
};

// A reply written in the file: CRLF line ends, and one at the end.
std::string reply_text(std::string s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
        out += s[i];
    }
    if (!out.empty() && !out.ends_with("\r\n")) out += "\r\n";
    return out;
}

using N = toml::node_view<const toml::node>;

LinkSpec read_link(const Reader& r, const toml::table& t, const std::string& p, LinkSpec l,
                   bool ends) {
    if (ends)
        r.only_keys(t, p, {"a", "b", "latency_ms", "jitter_ms", "loss", "bandwidth"});
    else
        r.only_keys(t, p, {"latency_ms", "jitter_ms", "loss", "bandwidth", "links"});
    if (ends) {
        if (auto n = t["a"]) l.a = r.nonempty(*n.node(), p + "a");
        else r.fail(t.source(), p + "a", "missing");
        if (auto n = t["b"]) l.b = r.nonempty(*n.node(), p + "b");
        else r.fail(t.source(), p + "b", "missing");
    }
    if (auto n = t["latency_ms"]) l.latency_ms = r.integer(*n.node(), p + "latency_ms", 0, 3'600'000);
    if (auto n = t["jitter_ms"]) l.jitter_ms = r.integer(*n.node(), p + "jitter_ms", 0, 3'600'000);
    if (auto n = t["loss"]) l.loss = r.number(*n.node(), p + "loss", 0, 0.9);
    if (auto n = t["bandwidth"])
        l.bandwidth_bytes_per_second = r.integer(*n.node(), p + "bandwidth", 0, INT64_MAX / 1000);
    return l;
}

HostSpec read_host(const Reader& r, const toml::table& t, const std::string& p) {
    r.only_keys(t, p, {"name", "kind", "hostname", "addresses", "local_domains", "users", "dkim",
                       "spf", "dmarc", "dmarc_enforce", "dane", "tls_cert", "tls_key", "tlsa", "retry",
                       "greeting", "ehlo", "rules", "end_of_data"});
    HostSpec h;
    if (auto n = t["name"]) h.name = r.nonempty(*n.node(), p + "name");
    else r.fail(t.source(), p + "name", "missing");
    if (auto n = t["kind"]) {
        const auto k = r.string(*n.node(), p + "kind");
        if (k == "pigeon") h.kind = HostSpec::Kind::pigeon;
        else if (k == "scripted") h.kind = HostSpec::Kind::scripted;
        else if (k == "client") h.kind = HostSpec::Kind::client;
        else r.fail(*n.node(), p + "kind", "\"" + k + "\" is not one of \"pigeon\", \"scripted\", \"client\"");
    }
    h.hostname = h.name;
    if (auto n = t["hostname"]) h.hostname = r.nonempty(*n.node(), p + "hostname");
    if (auto n = t["addresses"]) h.addresses = r.strings(*n.node(), p + "addresses");
    if (auto n = t["local_domains"]) h.local_domains = r.strings(*n.node(), p + "local_domains");
    if (auto n = t["spf"]) h.spf = r.boolean(*n.node(), p + "spf");
    if (auto n = t["dmarc"]) h.dmarc = r.boolean(*n.node(), p + "dmarc");
    if (auto n = t["dmarc_enforce"]) h.dmarc_enforce = r.boolean(*n.node(), p + "dmarc_enforce");
    if (auto n = t["dane"]) h.dane = r.boolean(*n.node(), p + "dane");
    if (auto n = t["tls_cert"]) h.tls_cert_path = r.file(*n.node(), p + "tls_cert");
    if (auto n = t["tls_key"]) h.tls_key_path = r.file(*n.node(), p + "tls_key");
    if (h.tls_cert_path.empty() != h.tls_key_path.empty())
        r.fail(t.source(), p + "tls_cert", "tls_cert and tls_key go together");
    if (auto n = t["tlsa"]) {
        if (r.string(*n.node(), p + "tlsa") != "auto") r.fail(*n.node(), p + "tlsa", "the only value is \"auto\"");
        if (h.tls_cert_path.empty()) r.fail(*n.node(), p + "tlsa", "needs tls_cert and tls_key");
        h.tlsa_auto = true;
    }
    if (auto n = t["retry"]) {
        const auto& rt = r.table(*n.node(), p + "retry");
        const std::string q = p + "retry.";
        r.only_keys(rt, q, {"first", "max", "give_up", "delay_warning"});
        if (auto m = rt["first"]) h.first_retry_seconds = r.integer(*m.node(), q + "first", 1, 86400 * 30);
        if (auto m = rt["max"]) h.max_retry_interval_seconds = r.integer(*m.node(), q + "max", 1, 86400 * 30);
        if (auto m = rt["give_up"]) h.give_up_after_seconds = r.integer(*m.node(), q + "give_up", 1, 86400 * 60);
        if (auto m = rt["delay_warning"])
            h.delay_warning_after_seconds = r.integer(*m.node(), q + "delay_warning", 0, 86400 * 60);
    }
    if (auto n = t["users"]) {
        const auto& a = r.array(*n.node(), p + "users");
        for (std::size_t i = 0; i < a.size(); ++i) {
            const std::string q = p + "users[" + std::to_string(i) + "].";
            const auto& u = r.table(*a.get(i), q);
            r.only_keys(u, q, {"address", "password", "aliases"});
            UserSpec s;
            if (auto m = u["address"]) s.address = r.nonempty(*m.node(), q + "address");
            else r.fail(u.source(), q + "address", "missing");
            if (auto m = u["password"]) s.password = r.string(*m.node(), q + "password");
            if (auto m = u["aliases"]) s.aliases = r.strings(*m.node(), q + "aliases");
            h.users.push_back(std::move(s));
        }
    }
    if (auto n = t["dkim"]) {
        const auto& a = r.array(*n.node(), p + "dkim");
        for (std::size_t i = 0; i < a.size(); ++i) {
            const std::string q = p + "dkim[" + std::to_string(i) + "].";
            const auto& u = r.table(*a.get(i), q);
            r.only_keys(u, q, {"domain", "selector", "key", "publish"});
            DkimKeySpec k;
            for (auto [field, out] : {std::pair{"domain", &k.domain}, std::pair{"selector", &k.selector},
                                      std::pair{"key", &k.key}}) {
                if (auto m = u[field]) *out = r.nonempty(*m.node(), q + field);
                else r.fail(u.source(), q + field, "missing");
            }
            if (auto m = u["publish"]) k.publish = r.boolean(*m.node(), q + "publish");
            h.dkim.push_back(std::move(k));
        }
    }
    if (auto n = t["greeting"]) h.greeting = reply_text(r.string(*n.node(), p + "greeting"));
    if (auto n = t["ehlo"]) h.ehlo = reply_text(r.string(*n.node(), p + "ehlo"));
    if (auto n = t["end_of_data"]) h.end_of_data = reply_text(r.string(*n.node(), p + "end_of_data"));
    if (auto n = t["rules"]) {
        const auto& a = r.array(*n.node(), p + "rules");
        for (std::size_t i = 0; i < a.size(); ++i) {
            const std::string q = p + "rules[" + std::to_string(i) + "].";
            const auto& u = r.table(*a.get(i), q);
            r.only_keys(u, q, {"prefix", "reply", "times"});
            ScriptRule rule;
            if (auto m = u["prefix"]) rule.prefix = r.nonempty(*m.node(), q + "prefix");
            else r.fail(u.source(), q + "prefix", "missing");
            if (auto m = u["reply"]) rule.reply = reply_text(r.string(*m.node(), q + "reply"));
            else r.fail(u.source(), q + "reply", "missing");
            if (auto m = u["times"]) rule.times = static_cast<std::uint32_t>(r.integer(*m.node(), q + "times", 0, 1'000'000));
            h.rules.push_back(std::move(rule));
        }
    }
    if (h.kind != HostSpec::Kind::client && h.addresses.empty())
        r.fail(t.source(), p + "addresses", "a server host needs at least one address");
    return h;
}

ActionSpec read_action(const Reader& r, const toml::table& t, const std::string& p) {
    r.only_keys(t, p, {"at", "kind", "client", "server", "user", "password", "from", "to",
                       "header_from", "subject", "body", "headers", "host", "port", "inbound"});
    ActionSpec a;
    if (auto n = t["at"]) a.at_ms = r.seconds_ms(*n.node(), p + "at");
    else r.fail(t.source(), p + "at", "missing");
    a.kind = "submit";
    if (auto n = t["kind"]) a.kind = r.nonempty(*n.node(), p + "kind");
    if (a.kind != "submit" && a.kind != "flush")
        r.fail(t.source(), p + "kind", "\"" + a.kind + "\" is not one of \"submit\", \"flush\"");
    auto str = [&](const char* key, std::string& out) {
        if (auto n = t[key]) out = r.string(*n.node(), p + key);
    };
    str("client", a.client);
    str("server", a.server);
    str("user", a.user);
    str("password", a.password);
    str("from", a.from);
    str("header_from", a.header_from);
    str("subject", a.subject);
    str("body", a.body);
    str("host", a.host);
    if (auto n = t["headers"]) a.extra_headers = reply_text(r.string(*n.node(), p + "headers"));
    if (auto n = t["to"]) a.to = r.strings(*n.node(), p + "to");
    if (auto n = t["inbound"]) a.inbound = r.boolean(*n.node(), p + "inbound");
    if (a.inbound) a.port = 25;
    if (auto n = t["port"]) a.port = static_cast<std::uint16_t>(r.integer(*n.node(), p + "port", 1, 65535));
    if (a.kind == "submit") {
        if (a.server.empty()) r.fail(t.source(), p + "server", "missing");
        if (a.to.empty()) r.fail(t.source(), p + "to", "missing");
        if (a.from.empty()) a.from = a.user;
        if (a.from.empty()) r.fail(t.source(), p + "from", "missing (and no user)");
        if (a.header_from.empty()) a.header_from = a.from;
    } else if (a.host.empty()) {
        r.fail(t.source(), p + "host", "missing");
    }
    return a;
}

FaultSpec read_fault(const Reader& r, const toml::table& t, const std::string& p, const LinkSpec& base) {
    r.only_keys(t, p, {"at", "kind", "host", "a", "b", "name", "type", "rcode", "latency_ms",
                       "jitter_ms", "loss", "bandwidth"});
    FaultSpec f;
    if (auto n = t["at"]) f.at_ms = r.seconds_ms(*n.node(), p + "at");
    else r.fail(t.source(), p + "at", "missing");
    if (auto n = t["kind"]) f.kind = r.nonempty(*n.node(), p + "kind");
    else r.fail(t.source(), p + "kind", "missing");
    static const std::initializer_list<std::string_view> kinds = {
        "crash", "restart", "partition", "heal", "reset", "refuse", "accept", "dns_fail",
        "dns_restore", "dns_secure", "dns_bogus", "dns_insecure", "link"};
    if (std::find(kinds.begin(), kinds.end(), f.kind) == kinds.end())
        r.fail(*t["kind"].node(), p + "kind", "\"" + f.kind + "\" is not a fault kind (see sim/README.md)");
    auto str = [&](const char* key, std::string& out) {
        if (auto n = t[key]) out = r.nonempty(*n.node(), p + key);
    };
    str("host", f.host);
    str("a", f.a);
    str("b", f.b);
    str("name", f.name);
    str("type", f.type);
    str("rcode", f.rcode);
    auto need = [&](const std::string& v, const char* key) {
        if (v.empty()) r.fail(t.source(), p + key, "missing (needed by kind = \"" + f.kind + "\")");
    };
    if (f.kind == "crash" || f.kind == "restart" || f.kind == "refuse" || f.kind == "accept")
        need(f.host, "host");
    if (f.kind == "partition" || f.kind == "heal" || f.kind == "reset" || f.kind == "link") {
        need(f.a, "a");
        need(f.b, "b");
    }
    if (f.kind.starts_with("dns_")) need(f.name, "name");
    if (f.kind == "dns_fail" && f.rcode != "servfail" && f.rcode != "timeout" &&
        f.rcode != "refused" && f.rcode != "nxdomain")
        r.fail(*t["rcode"].node(), p + "rcode", "must be servfail, timeout, refused or nxdomain");
    if (f.kind == "link") {
        LinkSpec l = base;
        l.a = f.a;
        l.b = f.b;
        if (auto n = t["latency_ms"]) l.latency_ms = r.integer(*n.node(), p + "latency_ms", 0, 3'600'000);
        if (auto n = t["jitter_ms"]) l.jitter_ms = r.integer(*n.node(), p + "jitter_ms", 0, 3'600'000);
        if (auto n = t["loss"]) l.loss = r.number(*n.node(), p + "loss", 0, 0.9);
        if (auto n = t["bandwidth"]) l.bandwidth_bytes_per_second = r.integer(*n.node(), p + "bandwidth", 0, INT64_MAX / 1000);
        f.link = l;
    }
    return f;
}

ExpectSpec read_expect(const Reader& r, const toml::table& t, const std::string& p) {
    r.only_keys(t, p, {"kind", "host", "mailbox", "folder", "by", "contains", "count"});
    ExpectSpec e;
    e.line = t.source().begin.line;
    std::string kind = "mailbox";
    if (auto n = t["kind"]) kind = r.nonempty(*n.node(), p + "kind");
    if (kind == "mailbox") e.kind = ExpectSpec::Kind::mailbox;
    else if (kind == "no_mail") e.kind = ExpectSpec::Kind::no_mail;
    else if (kind == "trace") e.kind = ExpectSpec::Kind::trace;
    else if (kind == "no_trace") e.kind = ExpectSpec::Kind::no_trace;
    else if (kind == "queue") e.kind = ExpectSpec::Kind::queue;
    else r.fail(*t["kind"].node(), p + "kind", "\"" + kind + "\" is not one of \"mailbox\", \"no_mail\", \"trace\", \"no_trace\", \"queue\"");
    if (auto n = t["host"]) e.host = r.nonempty(*n.node(), p + "host");
    if (auto n = t["mailbox"]) e.mailbox = r.nonempty(*n.node(), p + "mailbox");
    if (auto n = t["folder"]) e.folder = r.string(*n.node(), p + "folder");
    if (e.folder == "INBOX") e.folder.clear();
    if (auto n = t["by"]) e.by_ms = r.seconds_ms(*n.node(), p + "by");
    if (auto n = t["contains"]) {
        if (n.node()->is_string()) e.contains.push_back(r.nonempty(*n.node(), p + "contains"));
        else e.contains = r.strings(*n.node(), p + "contains");
    }
    if (auto n = t["count"]) e.count = static_cast<std::size_t>(r.integer(*n.node(), p + "count", 0, 1'000'000));
    const bool mail = e.kind == ExpectSpec::Kind::mailbox || e.kind == ExpectSpec::Kind::no_mail;
    if ((mail || e.kind == ExpectSpec::Kind::queue) && e.host.empty())
        r.fail(t.source(), p + "host", "missing");
    if (mail && e.mailbox.empty()) r.fail(t.source(), p + "mailbox", "missing");
    if ((e.kind == ExpectSpec::Kind::trace || e.kind == ExpectSpec::Kind::no_trace) && e.contains.empty())
        r.fail(t.source(), p + "contains", "missing");
    if (e.kind == ExpectSpec::Kind::queue && !e.count) r.fail(t.source(), p + "count", "missing");
    return e;
}

Scenario read(const Reader& r, const toml::table& root) {
    r.only_keys(root, "", {"description", "seed", "start", "duration", "public_suffixes", "network",
                           "dns", "hosts", "actions", "faults", "expect"});
    Scenario s;
    if (auto n = root["description"]) s.description = r.string(*n.node(), "description");
    if (auto n = root["seed"]) s.seed = static_cast<std::uint64_t>(r.integer(*n.node(), "seed", 0, INT64_MAX));
    if (auto n = root["start"]) s.start_unix = r.integer(*n.node(), "start", 0, 253402300799);
    if (auto n = root["duration"]) s.duration_ms = r.seconds_ms(*n.node(), "duration");
    if (auto n = root["public_suffixes"]) s.public_suffixes = r.strings(*n.node(), "public_suffixes");
    if (auto n = root["network"]) {
        const auto& t = r.table(*n.node(), "network");
        s.default_link = read_link(r, t, "network.", s.default_link, false);
        if (auto m = t["links"]) {
            const auto& a = r.array(*m.node(), "network.links");
            for (std::size_t i = 0; i < a.size(); ++i) {
                const std::string p = "network.links[" + std::to_string(i) + "].";
                s.links.push_back(read_link(r, r.table(*a.get(i), p), p, s.default_link, true));
            }
        }
    }
    if (auto n = root["dns"]) {
        const auto& t = r.table(*n.node(), "dns");
        r.only_keys(t, "dns.", {"zone"});
        if (auto m = t["zone"]) s.zone = r.string(*m.node(), "dns.zone");
    }
    if (auto n = root["hosts"]) {
        const auto& a = r.array(*n.node(), "hosts");
        for (std::size_t i = 0; i < a.size(); ++i) {
            const std::string p = "hosts[" + std::to_string(i) + "].";
            auto h = read_host(r, r.table(*a.get(i), p), p);
            for (const auto& o : s.hosts)
                if (o.name == h.name) r.fail(*a.get(i), p + "name", "\"" + h.name + "\" is used twice");
            s.hosts.push_back(std::move(h));
        }
    }
    auto host_exists = [&](const std::string& name) {
        return std::any_of(s.hosts.begin(), s.hosts.end(), [&](const HostSpec& h) { return h.name == name; });
    };
    if (auto n = root["actions"]) {
        const auto& a = r.array(*n.node(), "actions");
        for (std::size_t i = 0; i < a.size(); ++i) {
            const std::string p = "actions[" + std::to_string(i) + "].";
            auto act = read_action(r, r.table(*a.get(i), p), p);
            for (auto [key, h] : {std::pair{"client", &act.client}, std::pair{"server", &act.server},
                                  std::pair{"host", &act.host}})
                if (!h->empty() && !host_exists(*h)) r.fail(*a.get(i), p + key, "no host named \"" + *h + "\"");
            s.actions.push_back(std::move(act));
        }
    }
    if (auto n = root["faults"]) {
        const auto& a = r.array(*n.node(), "faults");
        for (std::size_t i = 0; i < a.size(); ++i) {
            const std::string p = "faults[" + std::to_string(i) + "].";
            auto f = read_fault(r, r.table(*a.get(i), p), p, s.default_link);
            for (auto [key, h] : {std::pair{"host", &f.host}, std::pair{"a", &f.a}, std::pair{"b", &f.b}})
                if (!h->empty() && *h != "*" && !host_exists(*h))
                    r.fail(*a.get(i), p + key, "no host named \"" + *h + "\"");
            s.faults.push_back(std::move(f));
        }
    }
    if (auto n = root["expect"]) {
        const auto& a = r.array(*n.node(), "expect");
        for (std::size_t i = 0; i < a.size(); ++i) {
            const std::string p = "expect[" + std::to_string(i) + "].";
            auto e = read_expect(r, r.table(*a.get(i), p), p);
            if (!e.host.empty() && !host_exists(e.host)) r.fail(*a.get(i), p + "host", "no host named \"" + e.host + "\"");
            s.expects.push_back(std::move(e));
        }
    }
    return s;
}

}  // namespace

core::Result<Scenario> parse_scenario(std::string_view text, const std::string& path) {
    toml::table root;
    try {
        root = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        return core::ParseError{path + ":" +
                                std::to_string(std::max<toml::source_index>(e.source().begin.line, 1)) +
                                ": " + std::string(e.description())};
    }
    try {
        const std::filesystem::path p(path);
        Scenario s = read(Reader(path, p.parent_path()), root);
        s.path = path;
        s.name = p.stem().string();
        return s;
    } catch (const LoadError& e) {
        return core::ParseError{e.message};
    }
}

core::Result<Scenario> load_scenario(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return core::ParseError{path + ": cannot read the scenario"};
    std::ostringstream text;
    text << in.rdbuf();
    return parse_scenario(text.str(), path);
}

}  // namespace pigeon::sim
