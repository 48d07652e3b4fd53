// pigeon/app/outbound_setup.hpp: the outbound role's options from the configuration: MX
// routing, the relayhost and per-domain routes (their trust stores and passwords read here),
// retries and connection limits.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "config/model.hpp"
#include "delivery/outbound.hpp"
#include "policy/directory.hpp"

namespace pigeon::app {

// The options for delivery::OutboundEngine; nullopt with `error` set when a next hop's
// trust store or password file cannot be read. The options keep `directory` (it tells local
// recipients from remote ones).
std::optional<delivery::OutboundOptions> outbound_options(const config::Config& config,
                                                          std::shared_ptr<const policy::Directory> directory,
                                                          std::string& error);

// One log line: where remote mail goes, with what TLS, and the retry schedule.
std::string describe_outbound(const config::OutboundSettings& ob);

}  // namespace pigeon::app
