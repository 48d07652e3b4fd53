// pigeon/auth/dkim/crypto.hpp: the Botan calls DKIM needs, behind an interface that never
// throws. Internal to auth/dkim.
//
// Contract: "rsa-*" is RSASSA-PKCS1-v1_5 (EMSA3) over the data with SHA-1/SHA-256 (RFC 6376
// 3.3); "ed25519-sha256" is PureEdDSA (RFC 8032) over the SHA-256 digest of the data (RFC 8463
// 3: the hash is computed first and the Ed25519 signature is made over it).
//
// Key limits (checked by load_public_key(), before Botan builds the key, so a refused key
// costs a length check or a DER decode, never an RSA operation; refused keys are never cached):
//   - p= longer than max_rsa_key_octets, or an RSA modulus over max_rsa_bits: refused. RFC 8301
//     3.2 asks verifiers to handle 1024 to 4096 bits; 8192 is twice that (the largest size
//     generate_key() makes), and one verification at 8192 bits costs about a millisecond.
//   - an RSA public exponent other than 3, 5, 17, 257 or 65537 (the Fermat primes F0..F4, the
//     exponents key generators use): refused. Verification costs one modular squaring per bit
//     of the exponent, so an exponent as large as the modulus makes it thousands of times
//     dearer; these keep it to at most 17.
//
// Reuse (for speed; results are the same as with fresh objects):
//   - digest() keeps one hash object per algorithm per thread.
//   - cached_public_key() keeps up to public_key_cache_capacity parsed keys (least recently
//     used dropped first), found by key type and the exact p= octets, so a changed key record
//     is always parsed afresh; only keys that parsed are kept, so a bad record gives the same
//     error every time. Each cached key carries a pool of Botan verifiers.
//   - sign() with reuse=true keeps a few Botan signers per (key object, algorithm), at most
//     signer_cache_keys keys, found by the identity of the shared_ptr's owner (never by address
//     alone), so a key that was freed is never mistaken for a new one at the same address.
//     Botan's signers and verifiers are not thread-safe: each is taken out of its pool under a
//     mutex, used by one thread, and put back. The RNG given to sign() is the only one used:
//     a reused RSA signer's blinding draws from it, and every call draws from it exactly what
//     a freshly built signer would (one blinding nonce for RSA, nothing for Ed25519), so a
//     deterministic RNG (the simulator's) sees the same stream as without reuse. The caller's
//     RNG must be safe for the calling thread (Botan 2's AutoSeeded_RNG locks internally).
//   - All caches are process-wide, bounded, and safe to use from any number of threads.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/dkim/record.hpp"

namespace Botan {
class HashFunction;
class Public_Key;
class Private_Key;
class RandomNumberGenerator;
}  // namespace Botan

namespace pigeon::dkim::crypto {

std::string digest(Algorithm algorithm, std::string_view data);  // SHA-1 or SHA-256

// digest() in pieces: update() any number of times, then final() once.
class Digest {
public:
    explicit Digest(Algorithm algorithm);  // throws only if Botan lacks the hash (never in practice)
    ~Digest();
    Digest(const Digest&) = delete;
    Digest& operator=(const Digest&) = delete;
    void update(std::string_view data);
    std::string final();

private:
    std::unique_ptr<Botan::HashFunction> hash_;
};

inline constexpr std::size_t max_rsa_bits = 8192;
// An SPKI for a max_rsa_bits modulus and a 3-octet exponent is max_rsa_bits / 8 + 38 octets.
inline constexpr std::size_t max_rsa_key_octets = max_rsa_bits / 8 + 64;
bool acceptable_rsa_exponent(std::uint64_t e);  // 3, 5, 17, 257, 65537

struct VerifierPool;  // reusable verifiers for one key (crypto.cpp)

struct PublicKey {
    std::shared_ptr<const Botan::Public_Key> key;
    std::size_t bits = 0;
    std::string error;  // set when key is null
    std::shared_ptr<VerifierPool> verifiers;  // set by cached_public_key(); may be null
};
// RSA: SubjectPublicKeyInfo DER (RFC 6376 3.6.1), or a bare RSAPublicKey as some publish.
// Ed25519: the 32-byte raw key (RFC 8463 4). Parses every time. Applies the key limits above.
PublicKey load_public_key(KeyType type, std::string_view bytes);

// The same result as load_public_key(), from the cache when these exact octets were seen.
inline constexpr std::size_t public_key_cache_capacity = 128;
PublicKey cached_public_key(KeyType type, std::string_view bytes);
std::size_t public_key_cache_size();
void clear_public_key_cache();

bool verify(Algorithm algorithm, const PublicKey& key, std::string_view data, std::string_view signature);

// Signs; nullopt (with `error`) if the key does not fit the algorithm or Botan refuses.
// reuse=false builds a fresh signer (for a key object used once).
inline constexpr std::size_t signer_cache_keys = 32;     // key objects with pooled signers
inline constexpr std::size_t signers_per_key = 8;        // idle signers kept per key
std::optional<std::string> sign(Algorithm algorithm, const std::shared_ptr<const Botan::Private_Key>& key,
                                std::string_view data, Botan::RandomNumberGenerator& rng, std::string& error,
                                bool reuse = true);
std::size_t signer_cache_size();  // key objects with pooled signers (for tests)

}  // namespace pigeon::dkim::crypto
