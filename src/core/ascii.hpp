// pigeon/core/ascii.hpp: ASCII case folding, for the places protocols say "case-insensitive"
// (domain names, tag names, keywords). Bytes outside A-Z, UTF-8 included, are left alone.
#pragma once
#include <string>
#include <string_view>

namespace pigeon::core {

inline char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = ascii_lower(c);
    return out;
}

}  // namespace pigeon::core
