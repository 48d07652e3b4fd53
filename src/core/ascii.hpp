// pigeon/core/ascii.hpp: ASCII case folding and trimming, for the places protocols say
// "case-insensitive" (domain names, tag names, keywords) or allow surrounding white space.
// Bytes outside A-Z, UTF-8 included, are left alone; nothing depends on the C locale.
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

// Equal under ASCII case folding ("MAIL" and "mail"; not "é" and "É").
inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

inline bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// WSP of RFC 5234 B.1: SP or HTAB.
inline bool is_wsp(char c) noexcept { return c == ' ' || c == '\t'; }

// `s` without the leading and trailing octets for which `strip(c)` holds.
template <class Strip>
std::string_view trim_if(std::string_view s, Strip strip) {
    while (!s.empty() && strip(s.front())) s.remove_prefix(1);
    while (!s.empty() && strip(s.back())) s.remove_suffix(1);
    return s;
}

inline std::string_view trim_wsp(std::string_view s) { return trim_if(s, is_wsp); }

}  // namespace pigeon::core
