// pigeon/core/limits.hpp: the size limits of RFC 5321 section 4.5.3.1, named once.
// Every limit is in octets and includes what the RFC says it includes.
#pragma once
#include <cstddef>

namespace pigeon::core {

inline constexpr std::size_t local_part_max_octets = 64;     // RFC 5321 4.5.3.1.1
inline constexpr std::size_t domain_max_octets = 255;        // RFC 5321 4.5.3.1.2
inline constexpr std::size_t path_max_octets = 256;          // RFC 5321 4.5.3.1.3, incl. "<" ">"
inline constexpr std::size_t command_line_max_octets = 512;  // RFC 5321 4.5.3.1.4, incl. CRLF
inline constexpr std::size_t reply_line_max_octets = 512;    // RFC 5321 4.5.3.1.5, incl. CRLF
inline constexpr std::size_t text_line_max_octets = 1000;    // RFC 5321 4.5.3.1.6, incl. CRLF
inline constexpr std::size_t min_recipients_buffer = 100;    // RFC 5321 4.5.3.1.8
// RFC 4954 section 4: AUTH lines (initial response and SASL responses) may exceed 512
// octets; a server should accept at least 12288 octets for them.
inline constexpr std::size_t auth_line_max_octets = 12288;

}  // namespace pigeon::core
