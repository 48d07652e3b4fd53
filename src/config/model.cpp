// pigeon/config/model.cpp: the names of the configuration's enums, and the defaults as a Config.
#include "config/model.hpp"

#include <unistd.h>

#include "config/validate.hpp"
#include "core/domain.hpp"

namespace pigeon::config {

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

Config empty_file_config(std::string hostname) {
    Config c;
    c.hostname = std::move(hostname);
    c.local_domains = {std::string(defaults::local_domain)};
    c.listeners = default_listeners();
    c.limits = default_limits();
    c.state_dir = std::string(defaults::state_dir);
    return c;
}

Config default_config(std::string hostname) {
    Config c = empty_file_config(std::move(hostname));
    c.create_demo_user = true;
    // A loopback-only demo in ./pigeon-data (scripts/run, often as root): it may stay root,
    // and says so in the log. A configuration file must choose `user` or `allow_root`.
    c.allow_root = true;
    // The embedded default must work on a machine without DNS (docs/configuration.md [spf]).
    c.spf.temperror = SpfTempErrorAction::accept;
    c.dmarc.temperror = SpfTempErrorAction::accept;
    return c;
}

std::string system_hostname() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    std::string name(buf);
    return valid_hostname(name) ? name : "localhost";
}

std::string DeliverySettings::lmtp_for(std::string_view domain) const {
    for (const auto& [d, endpoint] : lmtp_domains)
        if (d == domain) return endpoint == "maildir" ? std::string() : endpoint;
    return lmtp;
}

std::optional<AuthEndpoint> parse_auth_endpoint(std::string_view text, std::string& why) {
    auto e = parse_endpoint(text);
    if (e) return std::move(e).value();
    switch (e.code()) {
        case EndpointProblem::not_absolute:
            why = "\"unix:\" needs an absolute path (\"unix:/run/dovecot/auth-client\")";
            break;
        case EndpointProblem::too_long: why = "the socket path is longer than a Unix socket path may be (107)"; break;
        case EndpointProblem::holds_nul: why = "the socket path holds NUL"; break;
        case EndpointProblem::not_address:
            why = "\"" + std::string(text) +
                  "\" is neither \"unix:/path\" nor address:port (an IP address; IPv6 in brackets: \"[::1]:12345\")";
            break;
    }
    return std::nullopt;
}

std::string MetricsSettings::listen() const {
    if (!enabled()) return {};
    const bool v6 = address.find(':') != std::string::npos;
    return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

}  // namespace pigeon::config
