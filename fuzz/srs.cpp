// libFuzzer target: SRS (src/policy/srs.hpp) on arbitrary bytes, as the server meets a recipient
// @ its SRS domain (a bounce, or a forgery) and a sender it forwards. Invariants: no crash; a
// decoded address has an "@" with something on each side; a failure says why; a rewritten
// sender is @ the SRS domain with a local part of at most 64 octets and reverses to the input
// (an SRS1 input: to its SRS0 part); an unchanged one is the input as it was.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/ascii.hpp"
#include "policy/srs.hpp"

using namespace pigeon::policy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const Srs srs([] {
        SrsOptions o;
        o.domain = "forwarder.example";
        o.secrets = {"topsecret", "oldsecret"};
        return o;
    }());
    constexpr std::int64_t day = 20794;
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);

    const SrsReverse r = srs.reverse(bytes, day);
    if (r.outcome == SrsReverse::Outcome::decoded) {
        const auto at = r.address.rfind('@');
        if (at == std::string::npos || at == 0 || at + 1 == r.address.size()) __builtin_trap();
        if (!r.reason.empty()) __builtin_trap();
    } else if (r.reason.empty() || !r.address.empty()) {
        __builtin_trap();
    }

    const SrsForward f = srs.forward(bytes, day);
    if (f.rewritten) {
        const std::string suffix = "@forwarder.example";
        if (f.address.size() <= suffix.size() || f.address.compare(f.address.size() - suffix.size(), suffix.size(), suffix) != 0)
            __builtin_trap();
        if (f.address.size() - suffix.size() > 64) __builtin_trap();
        if (!f.error.empty()) __builtin_trap();
        const SrsReverse back = srs.reverse(f.address, day);
        if (back.outcome != SrsReverse::Outcome::decoded) __builtin_trap();
        const auto at = bytes.rfind('@');
        const bool srs_input = at != std::string_view::npos && Srs::looks_like_srs(bytes.substr(0, at));
        if (!srs_input && back.address != bytes) __builtin_trap();
    } else if (f.address != bytes) {
        __builtin_trap();
    }
    return 0;
}
