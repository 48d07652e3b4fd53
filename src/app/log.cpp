#include "app/log.hpp"

#include <cstddef>

namespace pigeon::app {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";
constexpr unsigned char first_printable = 0x20, del = 0x7f;

bool plain_ascii(unsigned char c) { return c >= first_printable && c < del && c != '\\'; }

bool continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// The length of the well-formed UTF-8 sequence at s[i] (2..4) and its code point, or 0 when
// the bytes there are not one (RFC 3629 4, the syntax of UTF-8 octet sequences).
std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t& cp) {
    const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char b0 = at(0);
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the range allowed for the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 2;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3;
        cp = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;  // overlong
        if (b0 == 0xED) hi = 0x9F;  // UTF-16 surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4;
        cp = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;  // overlong
        if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
        return 0;  // a continuation byte, or C0, C1, F5..FF: never a first byte
    }
    if (i + n > s.size() || at(1) < lo || at(1) > hi) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if (!continuation(at(k))) return 0;
        cp = (cp << 6) | (at(k) & 0x3F);
    }
    return n;
}

// Well-formed, yet a control or a character that breaks or reorders a line on screen.
bool unsafe_code_point(char32_t cp) {
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

void append_hex(std::string& out, unsigned char c) {
    out += "\\x";
    out += hex_digits[c >> 4];
    out += hex_digits[c & 0x0F];
}

void append_escaped_ascii(std::string& out, unsigned char c) {
    switch (c) {
        case '\r': out += "\\r"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\\': out += "\\\\"; break;
        default: append_hex(out, c);
    }
}

}  // namespace

void append_log_text(std::string& out, std::string_view text) {
    std::size_t clean = 0;  // text[0, clean) needs no escaping
    while (clean < text.size() && plain_ascii(static_cast<unsigned char>(text[clean]))) ++clean;
    out.append(text.substr(0, clean));
    for (std::size_t i = clean; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (plain_ascii(c)) {
            out += static_cast<char>(c);
            ++i;
        } else if (c < 0x80) {
            append_escaped_ascii(out, c);
            ++i;
        } else {
            char32_t cp = 0;
            const std::size_t n = utf8_sequence(text, i, cp);
            if (n == 0) {
                append_hex(out, c);  // not UTF-8: this byte alone, then resynchronise
                ++i;
                continue;
            }
            for (std::size_t k = 0; k < n; ++k) {
                if (unsafe_code_point(cp)) append_hex(out, static_cast<unsigned char>(text[i + k]));
                else out += text[i + k];
            }
            i += n;
        }
    }
}

}  // namespace pigeon::app
