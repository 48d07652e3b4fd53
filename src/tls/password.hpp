// pigeon/tls/password.hpp: password hashes for the submission users (AUTH PLAIN/LOGIN).
//
// Contract:
//   - hash_password(pw) returns a new Argon2id hash in PHC string form,
//     "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" (16-byte random salt, 32-byte output;
//     parameters: the OWASP minimum for Argon2id, 19 MiB, 2 passes, 1 lane; docs/tls.md).
//     It is slow on purpose (tens of milliseconds): call it off the I/O thread.
//   - verify_password(pw, stored) accepts Argon2id/Argon2i/Argon2d PHC strings and bcrypt
//     ($2a$, $2b$, $2y$) hashes; it returns false, never throws, for a wrong password and for
//     an empty, malformed or unsupported stored hash, and refuses Argon2 parameters beyond
//     sane bounds (m above 1 GiB, t above 64, p above 16) rather than let a bad entry in the
//     user file exhaust memory. The comparison is Botan's constant-time one.
//   - needs_rehash(stored) says whether a stored hash is not (or no longer) what
//     hash_password would produce, so a successful login may upgrade it.
//   - bcrypt hashes with a cost outside 4..16 are refused for the same reason.
//   - generate_password() returns 16 characters from a 56-letter alphabet without look-alikes
//     (no 0/O/o, 1/l/I), about 93 bits, from Botan's AutoSeeded_RNG: the demo user's password.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace pigeon::tls {

// The parameters hash_password uses (Argon2id). Botan counts memory in KiB.
inline constexpr std::size_t kArgon2MemoryKiB = 19 * 1024;
inline constexpr std::size_t kArgon2Passes = 2;
inline constexpr std::size_t kArgon2Lanes = 1;

std::string hash_password(std::string_view password);
bool verify_password(std::string_view password, std::string_view stored_hash);
bool needs_rehash(std::string_view stored_hash);
std::string generate_password(std::size_t length = 16);

}  // namespace pigeon::tls
