// pigeon/core/tls_mode.hpp: how a listener speaks TLS: not at all, on request (STARTTLS,
// RFC 3207), or from the first byte (implicit TLS, RFC 8314 for submission on port 465).
#pragma once

namespace pigeon::core {

enum class TlsMode { none, starttls, implicit };

inline const char* tls_mode_name(TlsMode mode) {
    switch (mode) {
        case TlsMode::none: return "none";
        case TlsMode::starttls: return "starttls";
        case TlsMode::implicit: return "implicit";
    }
    return "?";
}

}  // namespace pigeon::core
