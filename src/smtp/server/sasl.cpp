#include "smtp/server/sasl.hpp"

namespace pigeon::smtp {
namespace {

// RFC 4616 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd, each part 1..255 octets
// (authzid may be empty) and none containing NUL.
SaslStep parse_plain(std::string_view decoded) {
    SaslStep step;
    auto first = decoded.find('\0');
    if (first == std::string_view::npos) return step;
    auto second = decoded.find('\0', first + 1);
    if (second == std::string_view::npos) return step;
    if (decoded.find('\0', second + 1) != std::string_view::npos) return step;
    std::string_view authzid = decoded.substr(0, first);
    std::string_view authcid = decoded.substr(first + 1, second - first - 1);
    std::string_view password = decoded.substr(second + 1);
    if (authcid.empty() || password.empty() || authzid.size() > 255 || authcid.size() > 255 ||
        password.size() > 255)
        return step;
    step.outcome = SaslStep::Outcome::complete;
    step.authzid = authzid;
    step.authcid = authcid;
    step.password = password;
    return step;
}

SaslStep challenge(SaslState next, std::string_view text) {
    SaslStep step;
    step.outcome = SaslStep::Outcome::challenge;
    step.challenge = base64_encode(text);
    step.next = std::move(next);
    return step;
}

// The response to one LOGIN or PLAIN step, already base64-decoded.
SaslStep sasl_step_for(const SaslState& state, std::string_view decoded) {
    if (state.mechanism == "PLAIN") return parse_plain(decoded);
    // LOGIN: user name, then password. Neither may be empty or contain NUL.
    if (decoded.empty() || decoded.find('\0') != std::string_view::npos) return SaslStep{};
    if (state.stage == 0) {
        SaslState next = state;
        next.stage = 1;
        next.authcid = decoded;
        return challenge(std::move(next), "Password:");
    }
    SaslStep step;
    step.outcome = SaslStep::Outcome::complete;
    step.authcid = state.authcid;
    step.password = decoded;
    return step;
}

}  // namespace

SaslStep sasl_begin(const Auth& command) {
    SaslState state;
    state.mechanism = command.mechanism;
    if (state.mechanism != "PLAIN" && state.mechanism != "LOGIN") {
        SaslStep step;
        step.outcome = SaslStep::Outcome::unknown_mechanism;
        return step;
    }
    if (!command.initial_response) {
        // PLAIN: an empty challenge; LOGIN: ask for the user name.
        return challenge(std::move(state), state.mechanism == "PLAIN" ? "" : "Username:");
    }
    // RFC 4954 4: "=" is an initial response of zero length.
    std::string_view ir = *command.initial_response;
    auto decoded = ir == "=" ? std::optional<std::string>("") : base64_decode(ir);
    if (!decoded) return SaslStep{};
    return sasl_step_for(state, *decoded);
}

SaslStep sasl_continue(const SaslState& state, std::string_view line) {
    SaslStep step;
    if (line == "*") {
        step.outcome = SaslStep::Outcome::cancelled;
        return step;
    }
    if (line.size() + 2 > core::auth_line_max_octets) {
        step.outcome = SaslStep::Outcome::too_long;
        return step;
    }
    auto decoded = base64_decode(line);
    if (!decoded) return step;
    return sasl_step_for(state, *decoded);
}

}  // namespace pigeon::smtp
