// pigeon/config/endpoint.hpp: the text of a local service's endpoint: the LMTP store
// ([delivery] lmtp and [delivery.lmtp_domains]) and Dovecot's auth service ([auth] dovecot),
// read at load and again where the server connects.
//
// Contract (pure): parse_endpoint(text) is the endpoint, or which rule the text breaks:
//   "unix:/run/dovecot/lmtp"   a Unix socket: an absolute path of at most 107 octets, no NUL
//   "127.0.0.1:24", "[::1]:24" an IP address and a port 1-65535. Names are not accepted: these
//                              are local services, and nothing should wait on DNS for them.
// Each key words its own error (parse_lmtp_endpoint here, parse_auth_endpoint in model.hpp).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace pigeon::config {

struct Endpoint {
    bool unix_socket = false;
    std::string path;     // unix_socket
    std::string address;  // TCP: "127.0.0.1", "::1" (no brackets)
    std::uint16_t port = 0;
    std::string text() const;  // back to the key's form
    friend bool operator==(const Endpoint&, const Endpoint&) = default;
};
using LmtpEndpoint = Endpoint;

enum class EndpointProblem { not_absolute, too_long, holds_nul, not_address };
core::Result<Endpoint, core::Error<EndpointProblem>> parse_endpoint(std::string_view text);

// [delivery] lmtp's wording of parse_endpoint's problems.
core::Result<LmtpEndpoint> parse_lmtp_endpoint(std::string_view text);

}  // namespace pigeon::config
