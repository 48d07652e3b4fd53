// pigeon/core/idna.cpp: to_a_labels over libidn2's idn2_lookup_u8.
#include "core/idna.hpp"

#include <idn2.h>

#include <algorithm>
#include <memory>

namespace pigeon::core {

Result<std::string> to_a_labels(std::string_view name) {
    const bool ascii = std::all_of(name.begin(), name.end(),
                                   [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii) {
        std::string out(name);
        std::transform(out.begin(), out.end(), out.begin(),
                       [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
        return out;
    }
    if (name.find('\0') != std::string_view::npos) {
        return ParseError{"domain name contains a NUL octet"};
    }
    const std::string input(name);  // libidn2 wants a NUL-terminated string
    char* raw = nullptr;
    const int rc = idn2_lookup_u8(reinterpret_cast<const uint8_t*>(input.c_str()),
                                  reinterpret_cast<uint8_t**>(&raw),
                                  IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    std::unique_ptr<char, void (*)(void*)> owned(raw, idn2_free);
    if (rc != IDN2_OK || raw == nullptr) {
        return ParseError{std::string("not a valid internationalized domain name: ") + idn2_strerror(rc)};
    }
    return std::string(raw);
}

}  // namespace pigeon::core
