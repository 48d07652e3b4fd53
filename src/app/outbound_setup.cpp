// pigeon/app/outbound_setup.cpp: the outbound engine's options from the configuration.
#include "app/outbound_setup.hpp"

#include <fstream>

#include "tls/pkix.hpp"
#include "tls/credentials.hpp"

namespace pigeon::app {
namespace {

smtp::ClientTls client_tls(config::OutboundTls t) {
    switch (t) {
        case config::OutboundTls::none: return smtp::ClientTls::none;
        case config::OutboundTls::opportunistic: return smtp::ClientTls::opportunistic;
        case config::OutboundTls::required: return smtp::ClientTls::required;
        case config::OutboundTls::verify: return smtp::ClientTls::required;  // and a trust store (next_hop)
    }
    return smtp::ClientTls::opportunistic;
}

// The first line of a password file (a relayhost's AUTH password).
bool read_password_file(const std::string& path, std::string& password, std::string& error) {
    std::ifstream in(path);
    if (!in || !std::getline(in, password)) {
        error = "cannot read the password file " + path;
        return false;
    }
    if (!password.empty() && password.back() == '\r') password.pop_back();
    if (password.empty()) {
        error = "the password file " + path + " has an empty first line";
        return false;
    }
    return true;
}

std::optional<delivery::NextHop> next_hop(const config::NextHopSettings& h, std::string& error) {
    delivery::NextHop hop{h.host, h.port, client_tls(h.tls), std::nullopt, nullptr};
    if (h.tls == config::OutboundTls::verify) {
        const std::string bundle = h.ca_file.empty() ? tls::system_ca_bundle : h.ca_file;
        auto store = tls::load_trust_store(bundle);
        if (!store) {
            error = "tls = \"verify\" for " + h.host + ": " + store.error().message;
            return std::nullopt;
        }
        hop.trust = std::move(store).value();
    }
    if (!h.username.empty()) {
        std::string password;
        if (!read_password_file(h.password_file, password, error)) return std::nullopt;
        hop.credentials = smtp::ClientCredentials{h.username, password};
    }
    return hop;
}

}  // namespace

std::optional<delivery::OutboundOptions> outbound_options(const config::Config& config,
                                                          std::shared_ptr<const policy::Directory> directory,
                                                          std::string& error) {
    const config::OutboundSettings& ob = config.outbound;
    delivery::OutboundOptions o;
    o.hostname = config.hostname;
    o.our_names = {config.hostname};
    o.mx_port = ob.mx_port;
    o.dane = ob.dane;
    for (const auto& r : ob.relayhost) {
        o.relayhost = next_hop(r, error);
        if (!o.relayhost) return std::nullopt;
    }
    for (const auto& r : ob.routes) {
        auto hop = next_hop(r.to, error);
        if (!hop) return std::nullopt;
        o.routes[r.domain] = *hop;
    }
    o.retry.first_retry_seconds = ob.first_retry_seconds;
    o.retry.max_retry_interval_seconds = ob.max_retry_interval_seconds;
    o.retry.give_up_after_seconds = ob.give_up_after_seconds;
    o.retry.delay_warning_after_seconds = ob.delay_warning_seconds;
    o.max_connections = ob.max_connections;
    o.max_per_destination = ob.max_per_destination;
    o.connect_timeout = std::chrono::seconds(ob.connect_timeout_seconds);
    o.command_timeout = std::chrono::seconds(ob.command_timeout_seconds);
    o.data_timeout = std::chrono::seconds(ob.data_timeout_seconds);
    o.tls_context = tls::TlsContext::client_only();
    o.is_remote = [directory = std::move(directory)](const core::Path& p) {
        return p.kind == core::Path::Kind::mailbox &&
               !directory->is_local_domain(p.mailbox.domain().lowercase());
    };
    return o;
}

std::string describe_outbound(const config::OutboundSettings& ob) {
    std::string s = "outbound: ";
    if (!ob.relayhost.empty()) {
        const auto& r = ob.relayhost.front();
        s += "every remote recipient via the relayhost " + r.host + ":" + std::to_string(r.port) +
             " (TLS " + config::outbound_tls_name(r.tls) + (r.username.empty() ? "" : ", AUTH as " + r.username) + ")";
    } else {
        s += "MX routing to port " + std::to_string(ob.mx_port) + ", opportunistic STARTTLS" +
             (ob.dane ? ", DANE where DNSSEC proves TLSA records" : "");
    }
    for (const auto& r : ob.routes)
        s += "; " + r.domain + " via " + r.to.host + ":" + std::to_string(r.to.port);
    s += "; retries from " + std::to_string(ob.first_retry_seconds) + " s, gives up after " +
         std::to_string(ob.give_up_after_seconds / 3600) + " h";
    return s;
}

}  // namespace pigeon::app
