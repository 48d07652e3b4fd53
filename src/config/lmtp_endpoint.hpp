// pigeon/config/lmtp_endpoint.hpp: the text of an LMTP endpoint ([delivery] lmtp and
// [delivery.lmtp_domains]), read at load and again where delivery connects.
//
// Contract (pure): parse_lmtp_endpoint(text) is the endpoint, or an error saying why not:
//   "unix:/run/dovecot/lmtp"   a Unix socket: an absolute path of at most 107 octets
//   "127.0.0.1:24", "[::1]:24" an IP address and a port 1-65535. Names are not accepted: the
//                              store is a local service, and delivery must not wait on DNS.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace pigeon::config {

struct LmtpEndpoint {
    bool unix_socket = false;
    std::string path;     // unix_socket
    std::string address;  // TCP: "127.0.0.1", "::1"
    std::uint16_t port = 0;
    std::string text() const;  // back to the key's form
    friend bool operator==(const LmtpEndpoint&, const LmtpEndpoint&) = default;
};

core::Result<LmtpEndpoint> parse_lmtp_endpoint(std::string_view text);

}  // namespace pigeon::config
