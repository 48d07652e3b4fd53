// pigeon/core/envelope.hpp: what one mail transaction carries besides the message itself.
#pragma once
#include <any>
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
    // What the policy recorded at MAIL FROM for its later steps, as its own typed value
    // (policy::SpfOutcome: how SPF's verdict reaches DMARC at the end of DATA). Core and the
    // session never look inside; only the policy layer reads it, with std::any_cast.
    std::any sender_facts;
};

}  // namespace pigeon::core
