// Argon2id hashing, Argon2/bcrypt verification and random passwords, all via Botan.
#include "tls/password.hpp"

#include <botan/argon2.h>
#include <botan/auto_rng.h>
#include <botan/bcrypt.h>

#include <charconv>
#include <string>
#include <vector>

namespace pigeon::tls {

namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kOutputBytes = 32;
constexpr std::uint8_t kArgon2id = 2;  // Botan's variant code: 0 = d, 1 = i, 2 = id

// Bounds on what a stored hash may ask of us (see the header).
constexpr std::size_t kMaxMemoryKiB = 1024 * 1024;
constexpr std::size_t kMaxPasses = 64;
constexpr std::size_t kMaxLanes = 16;
constexpr unsigned kMinBcryptCost = 4;
constexpr unsigned kMaxBcryptCost = 16;

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

bool parse_number(std::string_view text, std::size_t& value) {
    if (text.empty() || text.size() > 10) return false;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc() && end == text.data() + text.size();
}

// "$argon2id$v=19$m=19456,t=2,p=1$salt$hash": are m, t and p present and within bounds?
// Botan parses the string itself; this only keeps a hostile entry from costing too much.
bool argon2_params_sane(std::string_view hash) {
    std::vector<std::string_view> fields;
    std::size_t pos = 0;
    while (pos <= hash.size()) {
        const std::size_t next = hash.find('$', pos);
        const std::size_t stop = next == std::string_view::npos ? hash.size() : next;
        fields.push_back(hash.substr(pos, stop - pos));
        if (next == std::string_view::npos) break;
        pos = next + 1;
    }
    for (std::string_view field : fields) {
        if (!starts_with(field, "m=")) continue;
        std::size_t m = 0, t = 0, p = 0;
        bool have_m = false, have_t = false, have_p = false;
        std::size_t start = 0;
        while (start <= field.size()) {
            const std::size_t comma = field.find(',', start);
            const std::size_t stop = comma == std::string_view::npos ? field.size() : comma;
            const std::string_view item = field.substr(start, stop - start);
            if (starts_with(item, "m=")) have_m = parse_number(item.substr(2), m);
            else if (starts_with(item, "t=")) have_t = parse_number(item.substr(2), t);
            else if (starts_with(item, "p=")) have_p = parse_number(item.substr(2), p);
            else return false;
            if (comma == std::string_view::npos) break;
            start = comma + 1;
        }
        return have_m && have_t && have_p && m >= 8 && m <= kMaxMemoryKiB && t >= 1 &&
               t <= kMaxPasses && p >= 1 && p <= kMaxLanes;
    }
    return false;
}

bool bcrypt_cost_sane(std::string_view hash) {
    // "$2b$12$" + 53 characters of salt and hash
    if (hash.size() != 60 || hash[3] != '$' || hash[6] != '$') return false;
    std::size_t cost = 0;
    return parse_number(hash.substr(4, 2), cost) && cost >= kMinBcryptCost &&
           cost <= kMaxBcryptCost;
}

}  // namespace

std::string hash_password(std::string_view password) {
    Botan::AutoSeeded_RNG rng;
    return Botan::argon2_generate_pwhash(password.data(), password.size(), rng, kArgon2Lanes,
                                         kArgon2MemoryKiB, kArgon2Passes, kArgon2id,
                                         kSaltBytes, kOutputBytes);
}

bool verify_password(std::string_view password, std::string_view stored_hash) {
    try {
        if (starts_with(stored_hash, "$argon2id$") || starts_with(stored_hash, "$argon2i$") ||
            starts_with(stored_hash, "$argon2d$")) {
            if (!argon2_params_sane(stored_hash)) return false;
            return Botan::argon2_check_pwhash(password.data(), password.size(),
                                              std::string(stored_hash));
        }
        if (starts_with(stored_hash, "$2a$") || starts_with(stored_hash, "$2b$") ||
            starts_with(stored_hash, "$2y$")) {
            if (!bcrypt_cost_sane(stored_hash)) return false;
            return Botan::check_bcrypt(std::string(password), std::string(stored_hash));
        }
    } catch (...) {
        // Botan throws on undecodable base64 and the like: a malformed hash matches nothing.
    }
    return false;
}

bool needs_rehash(std::string_view stored_hash) {
    const std::string current = "$argon2id$v=19$m=" + std::to_string(kArgon2MemoryKiB) +
                                ",t=" + std::to_string(kArgon2Passes) +
                                ",p=" + std::to_string(kArgon2Lanes) + "$";
    return !starts_with(stored_hash, current);
}

std::string generate_password(std::size_t length) {
    // No 0/O/o, no 1/l/I: the password is read off a terminal and typed into a mail client.
    static constexpr std::string_view alphabet =
        "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    static_assert(alphabet.size() == 56);
    // Rejection sampling: accept bytes below the largest multiple of 56, so every letter is
    // equally likely (a plain modulo would favour the first 256 % 56 letters).
    constexpr unsigned limit = 256 - 256 % alphabet.size();
    Botan::AutoSeeded_RNG rng;
    std::string result;
    result.reserve(length);
    while (result.size() < length) {
        std::uint8_t byte = 0;
        rng.randomize(&byte, 1);
        if (byte < limit) result.push_back(alphabet[byte % alphabet.size()]);
    }
    return result;
}

}  // namespace pigeon::tls
