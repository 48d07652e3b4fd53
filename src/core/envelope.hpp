// pigeon/core/envelope.hpp: what one mail transaction carries besides the message itself.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/address.hpp"

namespace pigeon::core {

enum class BodyType { unspecified, seven_bit, eight_bit_mime };  // RFC 6152 BODY=

struct Envelope {
    Path reverse_path;                          // MAIL FROM
    std::vector<Path> recipients;               // accepted RCPT TO, in order
    BodyType body = BodyType::unspecified;
    bool smtputf8 = false;                      // RFC 6531
    std::optional<std::uint64_t> declared_size; // RFC 1870 SIZE=
    std::string helo;                           // HELO/EHLO argument as given
    bool esmtp = false;                         // EHLO (true) or HELO (false)
    std::string client_address;                 // peer IP address text
    std::string auth_identity;                  // authenticated user, empty if none
    bool tls = false;                           // the transaction ran under TLS
    // Header fields the receiving side recorded during the transaction (Received-SPF: from
    // the MAIL FROM check), CRLF-terminated; stored below our Received: line.
    std::string trace_fields;
    // Facts an earlier check recorded for a later one ("spf.result" -> "pass",
    // "spf.domain" -> "example.org"): how SPF's verdict at MAIL FROM reaches DMARC at DATA.
    std::map<std::string, std::string> notes;
};

}  // namespace pigeon::core
