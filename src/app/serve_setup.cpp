// pigeon/app/serve_setup.cpp: what `pigeon serve` loads at start and again at a reload.
#include "app/serve_setup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <botan/pk_keys.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "auth/dkim/dkim.hpp"
#include "dns/unbound_resolver.hpp"
#include "dns/zone_resolver.hpp"
#include "os/privilege.hpp"
#include "tls/credentials.hpp"
#include "tls/password.hpp"
#include "tls/pkix.hpp"

namespace pigeon::app {
namespace fs = std::filesystem;

// The embedded default's demo user: created once, its password printed once; afterwards only
// its hash is kept, in <state>/demo-user (address on the first line, hash on the second).
bool load_or_create_demo_user(const config::Config& config, config::User& user, Logger& log) {
    const auto path = fs::path(config.state_dir) / "demo-user";
    user.address = "demo@" + (config.local_domains.empty() ? std::string("localhost")
                                                          : config.local_domains.front());
    std::ifstream in(path);
    std::string address, hash;
    if (in && std::getline(in, address) && std::getline(in, hash) && !hash.empty()) {
        user.address = address;
        user.password_hash = hash;
        log(net::LogLevel::info, "demo user " + user.address +
                                     " (its password was printed at first start; delete " +
                                     path.string() + " to make a new one)");
        return true;
    }
    const std::string password = tls::generate_password();
    user.password_hash = tls::hash_password(password);
    const auto tmp = path.string() + ".tmp";
    {
        int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) return false;
        const std::string text = user.address + "\n" + user.password_hash + "\n";
        bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
        ::close(fd);
        if (!ok) return false;
    }
    fs::rename(tmp, path);
    std::cout << "\n  Demo user created: " << user.address << "\n  Password:          " << password
              << "\n  (shown only this once; only its hash is stored, in " << path.string()
              << ")\n\n"
              << std::flush;
    return true;
}

std::string describe(const config::Listener& l) {
    std::string s = l.address + ":" + std::to_string(l.port) + " ";
    if (l.role == smtp::Role::inbound) {
        s += "inbound (MX)";
    } else {
        s += "submission, AUTH required";
    }
    switch (l.tls) {
        case core::TlsMode::none: s += ", no TLS"; break;
        case core::TlsMode::starttls: s += ", STARTTLS offered"; break;
        case core::TlsMode::implicit: s += ", implicit TLS"; break;
    }
    return s;
}


queue::Result<std::shared_ptr<tls::TlsContext>> load_tls(const config::Config& config, const fs::path& state,
                                                         Logger& log) {
    auto say = [&](std::string_view text) { log(net::LogLevel::info, text); };
    try {
        std::string cert = config.tls.cert_file, key = config.tls.key_file;
        if (config.tls.self_signed()) {
            fs::create_directories(state / "tls");
            fs::permissions(state / "tls", fs::perms::owner_all, fs::perm_options::replace);
            cert = (state / "tls" / "cert.pem").string();
            key = (state / "tls" / "key.pem").string();
            if (!fs::exists(cert) || !fs::exists(key)) {
                tls::generate_self_signed(config.hostname, cert, key);
                say("TLS: generated a self-signed certificate for " + config.hostname + " in " +
                    (state / "tls").string());
            } else {
                say("TLS: using the self-signed certificate in " + (state / "tls").string());
            }
            // Public, but nothing in the state directory is open to others.
            fs::permissions(cert, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
        } else {
            say("TLS: certificate " + cert + ", key " + key);
        }
        if (auto s = os::check_private_key_file(key); !s) throw std::runtime_error(s.error().message);
        auto context = tls::TlsContext::from_pem_files(cert, key);
        if (auto w = tls::expiry_warning(*context, std::chrono::system_clock::now()))
            log(net::LogLevel::warn, "TLS: " + *w);
        return context;
    } catch (const std::exception& e) {
        return queue::Error{std::string("TLS: ") + e.what()};
    }
}

queue::Result<std::unique_ptr<dns::Resolver>> open_resolver(const config::DnsSettings& dns, Logger& log) {
    auto say = [&](std::string_view text) { log(net::LogLevel::info, text); };
    if (!dns.zone_file.empty()) {
        auto zone = dns::ZoneResolver::load(dns.zone_file);
        if (!zone.ok()) return queue::Error{"dns.zone_file: " + zone.error().message};
        say("DNS: answers from the zone file " + dns.zone_file + " only");
        return std::unique_ptr<dns::Resolver>(std::make_unique<dns::ZoneResolver>(std::move(zone).value()));
    } else {
        dns::UnboundOptions dns_options;
        dns_options.trust_anchor_file = dns.trust_anchor_file;
        dns_options.forwarders = dns.forwarders;
        for (const auto& z : dns.stub_zones)
            dns_options.stub_zones.push_back(dns::StubZone{z.zone, z.addresses});
        dns_options.timeout = std::chrono::milliseconds(dns.timeout_seconds * 1000);
        auto unbound = dns::UnboundResolver::create(dns_options);
        if (!unbound.ok()) return queue::Error{"DNS resolver: " + unbound.error().message};
        say("DNS: libunbound with DNSSEC validation (" +
            (dns.forwarders.empty() ? std::string("recursing from the root")
                                           : "forwarding to " + std::to_string(dns.forwarders.size()) +
                                                 " resolver(s)") +
            "), " + std::to_string(dns.timeout_seconds) + " s per lookup");
        return std::unique_ptr<dns::Resolver>(std::move(unbound).value());
    }
}

void describe_checks(const config::Config& config, const dmarc::PslOrganizationalDomain& psl, Logger& log) {
    auto say = [&](std::string_view text) { log(net::LogLevel::info, text); };
    if (config.spf.check)
        say(std::string("SPF: checked for inbound mail; fail is ") +
            (config.spf.reject_fail ? "refused (550 5.7.23)" : "delivered and recorded") +
            ", temperror is " +
            (config.spf.temperror == config::SpfTempErrorAction::defer ? "deferred (451 4.4.3)"
                                                               : "delivered and recorded"));
    else
        say("SPF: not checked (spf.check = false)");

    if (config.dmarc.check) {
        if (psl.loaded())
            say(std::string("DKIM and DMARC: checked for inbound mail; p=reject is ") +
                (config.dmarc.enforce ? "refused (550 5.7.1), p=quarantine goes to Junk"
                                      : "only recorded (dmarc.enforce = false)"));
        else
            log(net::LogLevel::warn,
                "DMARC: the Public Suffix List could not be loaded; DKIM/DMARC checks are off");
    }
}

queue::Result<std::vector<AppServices::SigningKey>> load_signing_keys(const std::vector<config::DkimKey>& dkim_keys,
                                                                      Botan::RandomNumberGenerator& signing_rng,
                                                                      Logger& log) {
    auto say = [&](std::string_view text) { log(net::LogLevel::info, text); };
    std::vector<AppServices::SigningKey> signing_keys;
    for (const auto& k : dkim_keys) {
        if (auto s = os::check_private_key_file(k.key_file); !s)
            return queue::Error{"dkim key: " + s.error().message};
        std::ifstream in(k.key_file, std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        if (!in) return queue::Error{"dkim key " + k.key_file + ": cannot read it"};
        auto key = dkim::load_private_key(text.str(), signing_rng);
        if (!key.ok()) return queue::Error{"dkim key " + k.key_file + ": " + key.error().message};
        const bool ed25519 = key.value()->algo_name() == "Ed25519";
        signing_keys.push_back({k.domain, k.selector, key.value(),
                                ed25519 ? dkim::Algorithm::ed25519_sha256
                                        : dkim::Algorithm::rsa_sha256});
        say("DKIM: submission signs mail from " + k.domain + " with selector " + k.selector +
            " (" + (ed25519 ? "ed25519-sha256" : "rsa-sha256") + ")");
    }
    return signing_keys;
}

net::ServerOptions server_options(const config::Config& config) {
    net::ServerOptions options;
    for (const auto& l : config.listeners)
        options.listeners.push_back(net::ListenerOptions{
            l.address, l.port, l.role, l.tls});
    options.limits = server_limits(config.limits);
    return options;
}

net::ServerLimits server_limits(const config::Limits& lim) {
    net::ServerLimits limits;
    limits.max_connections = lim.max_connections;
    limits.max_connections_per_ip = lim.max_connections_per_ip;
    limits.command_timeout = std::chrono::seconds(lim.command_timeout_seconds);
    limits.data_block_timeout = std::chrono::seconds(lim.data_block_timeout_seconds);
    limits.data_timeout = std::chrono::seconds(lim.data_timeout_seconds);
    limits.shutdown_grace = std::chrono::seconds(lim.shutdown_grace_seconds);
    limits.ipv6_prefix_bits = lim.ipv6_prefix_bits;
    return limits;
}

}  // namespace pigeon::app
