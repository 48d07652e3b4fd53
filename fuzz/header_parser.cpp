// libFuzzer target: the RFC 5322 header reader and the address-list scanner on arbitrary
// bytes. Invariants: no crash; every field has a non-empty name made of ftext; field views lie
// inside the input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto r = pigeon::core::parse_header(input);
    if (!r.ok()) return 0;
    for (const auto& f : r.value()) {
        if (f.name.empty()) __builtin_trap();
        if (f.name.data() < input.data() || f.value.data() + f.value.size() > input.data() + size)
            __builtin_trap();
        for (char c : f.name)
            if (c == ':' || static_cast<unsigned char>(c) < 33 || static_cast<unsigned char>(c) > 126)
                __builtin_trap();
        (void)pigeon::core::addresses_in(f.value);
        (void)pigeon::core::unfold(f.value);
    }
    return 0;
}
