// pigeon/config/session.cpp: smtp::SessionConfig from a Config.
#include "config/session.hpp"

namespace pigeon::config {

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

}  // namespace pigeon::config
