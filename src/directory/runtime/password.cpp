#include "directory/runtime/password.hpp"

#include <crypt.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "directory/passwd_file.hpp"
#include "tls/password.hpp"

namespace pigeon::directory {
namespace {

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

// "$6$rounds=N$...": N within glibc's range and our bound (each round is a SHA-512).
bool sane_sha512_crypt(std::string_view hash) {
    if (hash.substr(0, 3) != "$6$") return false;
    constexpr std::string_view rounds = "rounds=";
    std::string_view rest = hash.substr(3);
    if (rest.substr(0, rounds.size()) != rounds) return true;
    rest.remove_prefix(rounds.size());
    const auto end = rest.find('$');
    if (end == std::string_view::npos || end == 0 || end > 8) return false;
    const std::string digits(rest.substr(0, end));
    if (digits.find_first_not_of("0123456789") != std::string::npos) return false;
    return std::strtoul(digits.c_str(), nullptr, 10) <= 10'000'000;
}

bool verify_crypt(std::string_view password, std::string_view hash) {
    if (password.find('\0') != std::string_view::npos || !sane_sha512_crypt(hash)) return false;
    auto data = std::make_unique<crypt_data>();
    std::memset(data.get(), 0, sizeof(crypt_data));
    const std::string pw(password), setting(hash);
    const char* out = crypt_r(pw.c_str(), setting.c_str(), data.get());
    if (out == nullptr || out[0] == '*') return false;
    return constant_time_equal(out, hash);
}

}  // namespace

bool verify_stored_password(std::string_view password, std::string_view stored) {
    const std::string scheme = scheme_of(stored);
    if (scheme.empty()) return tls::verify_password(password, stored);
    const std::string_view hash = stored.substr(stored.find('}') + 1);
    if (scheme == "ARGON2ID") return hash.substr(0, 10) == "$argon2id$" && tls::verify_password(password, hash);
    if (scheme == "BLF-CRYPT") return hash.substr(0, 2) == "$2" && tls::verify_password(password, hash);
    if (scheme == "SHA512-CRYPT") return verify_crypt(password, hash);
    if (scheme == "PLAIN") return constant_time_equal(password, hash);
    return false;
}

}  // namespace pigeon::directory
