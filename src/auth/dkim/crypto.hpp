// pigeon/auth/dkim/crypto.hpp: the Botan calls DKIM needs, behind an interface that never
// throws. Internal to auth/dkim.
//
// Contract: "rsa-*" is RSASSA-PKCS1-v1_5 (EMSA3) over the data with SHA-1/SHA-256 (RFC 6376
// 3.3); "ed25519-sha256" is PureEdDSA (RFC 8032) over the SHA-256 digest of the data (RFC 8463
// 3: the hash is computed first and the Ed25519 signature is made over it).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/dkim/record.hpp"

namespace Botan {
class Public_Key;
class Private_Key;
class RandomNumberGenerator;
}  // namespace Botan

namespace pigeon::dkim::crypto {

std::string digest(Algorithm algorithm, std::string_view data);  // SHA-1 or SHA-256

struct PublicKey {
    std::shared_ptr<const Botan::Public_Key> key;
    std::size_t bits = 0;
    std::string error;  // set when key is null
};
// RSA: SubjectPublicKeyInfo DER (RFC 6376 3.6.1), or a bare RSAPublicKey as some publish.
// Ed25519: the 32-byte raw key (RFC 8463 4).
PublicKey load_public_key(KeyType type, std::string_view bytes);

bool verify(Algorithm algorithm, const Botan::Public_Key& key, std::string_view data,
            std::string_view signature);

// Signs; nullopt (with `error`) if the key does not fit the algorithm or Botan refuses.
std::optional<std::string> sign(Algorithm algorithm, const Botan::Private_Key& key, std::string_view data,
                                Botan::RandomNumberGenerator& rng, std::string& error);

}  // namespace pigeon::dkim::crypto
