// pigeon/config/writer.cpp: to_toml, the configuration as the file that would give it.
#include "config/writer.hpp"

#include <cstdio>
#include <sstream>

namespace pigeon::config {

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
      << "state_dir = " << toml_string(c.state_dir) << "\n";
    if (!c.user.empty()) o << "user = " << toml_string(c.user) << "\n";
    if (!c.group.empty()) o << "group = " << toml_string(c.group) << "\n";
    o << "allow_root = " << (c.allow_root ? "true" : "false") << "  # root without user: refused unless true\n"
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
    const char* formats[] = {"text", "json"};
    const char* targets[] = {"stderr", "syslog", "file"};
    o << "\n[log]\n"
      << "format = " << toml_string(formats[static_cast<int>(c.log.format)]) << "\n"
      << "target = " << toml_string(targets[static_cast<int>(c.log.target)]) << "\n";
    if (!c.log.file.empty()) o << "file = " << toml_string(c.log.file) << "\n";
    o << "syslog_socket = " << toml_string(c.log.syslog_socket) << "\n";
    o << "\n[delivery]\n"
      << "discard = " << string_array(c.delivery.discard)
      << "  # accepted, spooled, then dropped without a copy\n";
    if (!c.delivery.maildir.empty()) o << "maildir = " << toml_string(c.delivery.maildir) << "\n";
    if (!c.delivery.lmtp.empty()) o << "lmtp = " << toml_string(c.delivery.lmtp) << "\n";
    if (!c.delivery.recipient_delimiter.empty())
        o << "recipient_delimiter = " << toml_string(c.delivery.recipient_delimiter) << "\n";
    if (!c.delivery.lmtp_domains.empty()) {
        o << "\n[delivery.lmtp_domains]\n";
        for (const auto& [domain, endpoint] : c.delivery.lmtp_domains)
            o << toml_string(domain) << " = " << toml_string(endpoint) << "\n";
    }
    o << "\n[sendmail]\n"
      << "socket = " << toml_string(c.sendmail.socket) << "  # empty: no local submission\n"
      << "trusted_users = " << string_array(c.sendmail.trusted_users) << "\n";
    if (!c.sendmail.domain.empty()) o << "domain = " << toml_string(c.sendmail.domain) << "\n";
    if (!c.sendmail.addresses.empty()) {
        o << "\n[sendmail.addresses]\n";
        for (const SendmailAddress& a : c.sendmail.addresses) o << toml_string(a.login) << " = " << toml_string(a.address) << "\n";
    }
    if (const DirectorySettings& d = c.directory; d.backend != DirectorySettings::Backend::toml) {
        const char* backends[] = {"toml", "passwd-file", "sqlite", "postgresql"};
        o << "\n[directory]\n"
          << "backend = " << toml_string(backends[static_cast<int>(d.backend)]) << "\n";
        if (!d.path.empty()) o << "path = " << toml_string(d.path) << "\n";
        if (!d.conninfo.empty()) o << "conninfo = " << toml_string(d.conninfo) << "\n";
        if (!d.recipient_query.empty()) o << "recipient_query = " << toml_string(d.recipient_query) << "\n";
        if (!d.login_query.empty()) o << "login_query = " << toml_string(d.login_query) << "\n";
        if (!d.sender_query.empty()) o << "sender_query = " << toml_string(d.sender_query) << "\n";
        o << "cache_seconds = " << d.cache_seconds << "\n"
          << "cache_entries = " << d.cache_entries << "\n"
          << "timeout_ms = " << d.timeout_ms << "\n"
          << "max_lookups = " << d.max_lookups << "\n"
          << "threads = " << d.threads << "\n";
    }
    if (!(c.auth == AuthSettings{}))
        o << "\n[auth]\n"
          << "dovecot = " << toml_string(c.auth.dovecot) << "  # submission AUTH asks Dovecot's auth service\n"
          << "dovecot_connect_timeout_seconds = " << c.auth.dovecot_connect_timeout_seconds << "\n"
          << "dovecot_timeout_seconds = " << c.auth.dovecot_timeout_seconds << "\n";
    if (c.metrics.enabled())
        o << "\n[metrics]\n"
          << "listen = " << toml_string(c.metrics.listen()) << "  # /metrics and /healthz\n";
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

}  // namespace pigeon::config
