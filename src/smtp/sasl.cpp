#include "smtp/sasl.hpp"

#include <array>
#include <cstdint>

namespace pigeon::smtp {
namespace {

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int decode_char(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

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

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        std::array<int, 4> v{};
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            char c = text[i + k];
            if (c == '=') {
                // Padding only at the very end, in the last one or two positions.
                if (i + 4 != text.size() || k < 2) return std::nullopt;
                ++pad;
                v[k] = 0;
            } else {
                if (pad > 0) return std::nullopt;
                v[k] = decode_char(c);
                if (v[k] < 0) return std::nullopt;
            }
        }
        // RFC 4648 3.5: the bits a pad leaves over must be zero; accepting others would give
        // one text several spellings (and encode(decode(x)) != x).
        if ((pad == 2 && (v[1] & 0x0f) != 0) || (pad == 1 && (v[2] & 0x03) != 0))
            return std::nullopt;
        std::uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
        out.push_back(static_cast<char>((n >> 16) & 0xff));
        if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
        if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
    }
    return out;
}

std::string base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        std::uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
        if (i + 1 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
        if (i + 2 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 2]);
        out.push_back(alphabet[(n >> 18) & 63]);
        out.push_back(alphabet[(n >> 12) & 63]);
        out.push_back(i + 1 < bytes.size() ? alphabet[(n >> 6) & 63] : '=');
        out.push_back(i + 2 < bytes.size() ? alphabet[n & 63] : '=');
    }
    return out;
}

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
