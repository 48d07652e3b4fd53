// pigeon/directory/runtime/password.hpp: verifies a password against a stored hash, with or
// without Dovecot's {SCHEME} prefix (passwd_file.hpp).
//
// Contract:
//   - No prefix: tls::verify_password ([[users]]' Argon2id and bcrypt hashes, as before).
//   - {ARGON2ID} ($argon2id$...) and {BLF-CRYPT} ($2a$/$2b$/$2y$...): tls::verify_password on
//     the rest, with its bounds on the hash's cost.
//   - {SHA512-CRYPT} ($6$[rounds=N$]salt$hash): crypt_r(3) (libcrypt), rounds at most 10^7.
//   - {PLAIN}: the text itself (test set-ups).
//   The comparison is constant-time; anything else (an unknown scheme, a malformed hash, a
//   password with a NUL for crypt) is false. Slow on purpose: call it on the auth pool.
#pragma once
#include <string_view>

namespace pigeon::directory {

bool verify_stored_password(std::string_view password, std::string_view stored);

}  // namespace pigeon::directory
