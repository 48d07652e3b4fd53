// libFuzzer target: SASL steps and base64 (src/smtp/server/sasl.hpp) on arbitrary client lines.
// Invariants: no crash; base64 decoding is canonical (encode(decode(t)) == t); a completed
// PLAIN exchange yields a non-empty user name and password without NUL.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "smtp/server/sasl.hpp"

using namespace pigeon::smtp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view line(reinterpret_cast<const char*>(data), size);
    if (auto decoded = base64_decode(line); decoded && base64_encode(*decoded) != line)
        __builtin_trap();
    for (const char* mechanism : {"PLAIN", "LOGIN"}) {
        SaslStep step = sasl_begin(Auth{mechanism, std::nullopt});
        // Feed the input as a sequence of response lines split at '\n'.
        std::string_view rest = line;
        while (step.outcome == SaslStep::Outcome::challenge) {
            auto nl = rest.find('\n');
            step = sasl_continue(step.next, rest.substr(0, nl));
            if (nl == std::string_view::npos) break;
            rest.remove_prefix(nl + 1);
        }
        if (step.outcome == SaslStep::Outcome::complete &&
            (step.authcid.empty() || step.password.empty() ||
             step.authcid.find('\0') != std::string::npos ||
             step.password.find('\0') != std::string::npos))
            __builtin_trap();
    }
    return 0;
}
