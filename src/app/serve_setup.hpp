// pigeon/app/serve_setup.hpp: the parts `pigeon serve` loads from a Config, at start and again
// at each live reload (serve.cpp). Each logs what it loaded (info) or what to watch (warn) and
// returns an Error naming the file and the problem; it never prints, so the caller decides:
// a start prints it and stops, a reload logs it and keeps the running configuration.
//
// Contract:
//   load_or_create_demo_user  the embedded default's demo user: read from <state>/demo-user,
//                      or created there (0600, only the hash) with its password printed once
//                      to stdout; false when the file cannot be written.
//   load_tls           the configured certificate and key ([tls]), or without them the
//                      self-signed pair in <state>/tls/ (generated when missing). A key others
//                      may read is refused (os::check_private_key_file); a certificate expiring
//                      within tls::expiry_warning's window is warned about.
//   open_resolver      the zone file ([dns] zone_file), or libunbound with DNSSEC validation.
//   describe_checks    the SPF and DKIM/DMARC checks as configured, in the log.
//   load_signing_keys  the private keys of [[dkim.keys]], each checked like the TLS key.
//   server_options / server_limits  the listeners and connection limits for net::Server.
//   describe           a listener for the log ("127.0.0.1:25 inbound (MX), STARTTLS offered").
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "app/logger.hpp"
#include "app/services.hpp"
#include "auth/dmarc/psl_org_domain.hpp"
#include "config/config.hpp"
#include "dns/dns.hpp"
#include "net/server.hpp"
#include "queue/storage.hpp"
#include "tls/credentials.hpp"

namespace Botan {
class RandomNumberGenerator;
}

namespace pigeon::app {

bool load_or_create_demo_user(const config::Config& config, config::User& user, Logger& log);
queue::Result<std::shared_ptr<tls::TlsContext>> load_tls(const config::Config& config,
                                                         const std::filesystem::path& state, Logger& log);
queue::Result<std::unique_ptr<dns::Resolver>> open_resolver(const config::DnsSettings& dns, Logger& log);
void describe_checks(const config::Config& config, const dmarc::PslOrganizationalDomain& psl, Logger& log);
queue::Result<std::vector<AppServices::SigningKey>> load_signing_keys(const std::vector<config::DkimKey>& dkim_keys,
                                                                      Botan::RandomNumberGenerator& signing_rng,
                                                                      Logger& log);
net::ServerOptions server_options(const config::Config& config);
net::ServerLimits server_limits(const config::Limits& limits);
std::string describe(const config::Listener& listener);

}  // namespace pigeon::app
