// pigeon/directory/passwd_file.hpp: a passwd-file in Dovecot's format, read into users
// (https://doc.dovecot.org/ "passwd-file"):
//     user@domain:{SCHEME}hash:uid:gid:gecos:home:shell:extra_fields
// Only the first two fields matter to Pigeon (the user and its password); the others may be
// left out or empty and are ignored. Blank lines and lines starting with '#' are skipped.
//
// Contract (pure: the caller reads the file):
//   - Every user is an address (local@domain) and appears once (case-insensitively);
//   - every password names its scheme: {ARGON2ID}, {BLF-CRYPT} (bcrypt: $2a$/$2b$/$2y$),
//     {SHA512-CRYPT} ($6$, glibc crypt(3)) or {PLAIN} (test set-ups only: a warning names each
//     such line); the scheme names are case-insensitive. An unknown scheme, a missing one, an
//     empty password, a malformed user, a line over max_line_octets or more than max_users
//     users is an error "<source>:<line>: <what is wrong>", and nothing is loaded.
//   - Users are stored lower-cased; the hash keeps its {SCHEME} prefix (password.hpp verifies
//     it).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace pigeon::directory {

inline constexpr std::size_t max_line_octets = 4096;
inline constexpr std::size_t max_users = 1'000'000;

struct PasswdUser {
    std::string address;        // lower case
    std::string password_hash;  // "{SCHEME}..." as in the file, the scheme's name upper-cased
    friend bool operator==(const PasswdUser&, const PasswdUser&) = default;
};

struct PasswdFile {
    std::vector<PasswdUser> users;      // sorted by address
    std::vector<std::string> warnings;  // "<source>:<line>: ..." ({PLAIN} passwords)
    const PasswdUser* find(std::string_view address) const;  // address lower-cased by the caller
};

core::Result<PasswdFile> parse_passwd_file(std::string_view text, std::string_view source);

// The schemes above, upper case, for messages: "ARGON2ID, BLF-CRYPT, SHA512-CRYPT, PLAIN".
std::string known_schemes();
// The scheme of "{NAME}rest", upper-cased, or "" when it does not start with one.
std::string scheme_of(std::string_view stored);
bool is_known_scheme(std::string_view upper_name);

}  // namespace pigeon::directory
