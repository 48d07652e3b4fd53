// libFuzzer target: the configuration parser (src/app/config.hpp) on arbitrary text.
// Invariants: no crash, no exception escapes; an accepted config writes out as TOML that is
// accepted again and equal (the to_toml/parse_config round trip).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto config = pigeon::config::parse_config(text, "fuzz.toml", "fuzz.example");
    if (!config.ok()) return 0;
    auto again = pigeon::config::parse_config(pigeon::config::to_toml(*config), "again.toml", "fuzz.example");
    if (!again.ok()) __builtin_trap();
    // create_demo_user is not a file key (to_toml writes a comment for it).
    auto a = *config;
    auto b = *again;
    a.create_demo_user = b.create_demo_user = false;
    if (!(a == b)) __builtin_trap();
    return 0;
}
