// fuzz/client_key.cpp: libFuzzer target for net/client_key.hpp, the key per-client limits
// count by. Client addresses come from the kernel, so the text is always a valid address in
// the server; the function must still hold up to any text (it is also fed configuration and
// test data).
//
// Input: the first octet picks ipv6_prefix_bits (0..255, so out-of-range values are tried
// too), the rest is the address text. Checked on every input:
//   - no crash, no exception;
//   - a key is a fixed point: the key of the key's own address (before any "/N") is the key;
//   - an IPv6 network key ends in "/N" with N the prefix, and only for 1 <= N <= 127.
// A broken invariant traps, which libFuzzer reports as a crash with the input saved.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "net/client_key.hpp"

namespace {
void check(bool ok) {
    if (!ok) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const unsigned bits = data[0];
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    const std::string key = pigeon::net::client_key(text, bits);
    const auto slash = key.find('/');
    if (slash != std::string::npos && key != text) {
        check(bits >= 1 && bits <= 127);
        check(key.substr(slash + 1) == std::to_string(bits));
        check(pigeon::net::client_key(key.substr(0, slash), bits) == key);
    } else if (key != text) {
        check(pigeon::net::client_key(key, bits) == key);
    }
    return 0;
}
