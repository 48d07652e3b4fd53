// pigeon/smtp/server/sasl.hpp: the server side of the SASL mechanisms AUTH offers (RFC 4954):
// PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login), plus base64 (RFC 4648 4).
//
// Contract: pure functions. sasl_begin() looks at an AUTH command, sasl_continue() at one
// client response line; both return the next step without touching any session state, so the
// machine's guards can read the step and its actions apply it. Credentials are never logged.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "core/base64.hpp"
#include "core/limits.hpp"
#include "smtp/command.hpp"

namespace pigeon::smtp {

// base64 (RFC 4648) is core's, strict: see core/base64.hpp.
using core::base64_decode;
using core::base64_encode;

struct SaslState {
    std::string mechanism;  // "PLAIN" or "LOGIN"
    int stage = 0;          // LOGIN: 0 = user name next, 1 = password next
    std::string authcid;    // LOGIN: the user name once received
};

struct SaslStep {
    enum class Outcome {
        challenge,          // send "334 <challenge>" and wait for a response line
        complete,           // credentials are ready: verify them
        cancelled,          // the client sent "*"
        malformed,          // not base64, or not the mechanism's format
        too_long,           // a response line over auth_line_max_octets
        unknown_mechanism,  // not PLAIN or LOGIN
    };
    Outcome outcome = Outcome::malformed;
    std::string challenge;  // base64 text for 334 (may be empty)
    SaslState next;         // the state after this step (challenge)
    std::string authzid, authcid, password;  // when complete
};

SaslStep sasl_begin(const Auth& command);
SaslStep sasl_continue(const SaslState& state, std::string_view line);

}  // namespace pigeon::smtp
