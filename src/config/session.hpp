// pigeon/config/session.hpp: the options every SMTP session takes from the configuration.
//
// This is the one builder of smtp::SessionConfig from a Config: `pigeon serve` and the tests
// use it, so a limit added to the file reaches the session in one place.
#pragma once
#include "config/model.hpp"
#include "smtp/server/session.hpp"

namespace pigeon::config {

// What every session needs from the configuration: hostname, SIZE, the recipient and error
// limits, and AUTH only over TLS. The server (net::ServerOptions::session) sets role and TLS
// per listener itself; the driver sets `clock` (required), `trace`, and the server-wide
// resources and spill.
smtp::SessionConfig session_config(const Config& config);

// The same plus the listener's role and TLS (starttls: STARTTLS offered; implicit: TLS from
// the start). A certificate always exists (configured or self-signed), so TLS is available
// whenever the listener's mode is not none.
smtp::SessionConfig session_config(const Config& config, const Listener& listener);

}  // namespace pigeon::config
