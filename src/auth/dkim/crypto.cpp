// Botan calls for DKIM; see crypto.hpp.
#include "auth/dkim/crypto.hpp"

#include <botan/ed25519.h>
#include <botan/hash.h>
#include <botan/pubkey.h>
#include <botan/rsa.h>
#include <botan/x509_key.h>

#include <exception>
#include <vector>

namespace pigeon::dkim::crypto {

namespace {

std::vector<std::uint8_t> bytes_of(std::string_view s) {
    return std::vector<std::uint8_t>(s.begin(), s.end());
}

const char* hash_name(Algorithm a) { return a == Algorithm::rsa_sha1 ? "SHA-160" : "SHA-256"; }

}  // namespace

std::string digest(Algorithm algorithm, std::string_view data) {
    auto hash = Botan::HashFunction::create_or_throw(hash_name(algorithm));
    hash->update(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
    auto out = hash->final();
    return std::string(out.begin(), out.end());
}

PublicKey load_public_key(KeyType type, std::string_view bytes) {
    PublicKey result;
    try {
        if (type == KeyType::ed25519) {
            if (bytes.size() != 32) {
                result.error = "Ed25519 key is " + std::to_string(bytes.size()) + " octets, not 32";
                return result;
            }
            result.key = std::make_shared<Botan::Ed25519_PublicKey>(bytes_of(bytes));
            result.bits = 256;
            return result;
        }
        std::shared_ptr<Botan::Public_Key> key;
        try {
            key.reset(Botan::X509::load_key(bytes_of(bytes)));
        } catch (const std::exception&) {
            // Not SubjectPublicKeyInfo: try a bare PKCS#1 RSAPublicKey.
            key = std::make_shared<Botan::RSA_PublicKey>(Botan::AlgorithmIdentifier("RSA", Botan::AlgorithmIdentifier::USE_NULL_PARAM),
                                                         bytes_of(bytes));
        }
        if (!key || key->algo_name() != "RSA") {
            result.error = "the key record's p= is not an RSA key";
            return result;
        }
        result.bits = key->key_length();
        result.key = std::move(key);
    } catch (const std::exception& e) {
        result.key.reset();
        result.error = std::string("unusable public key: ") + e.what();
    }
    return result;
}

bool verify(Algorithm algorithm, const Botan::Public_Key& key, std::string_view data, std::string_view signature) {
    try {
        if (algorithm == Algorithm::ed25519_sha256) {
            if (key.algo_name() != "Ed25519") return false;
            Botan::PK_Verifier verifier(key, "Pure");
            std::string hashed = digest(algorithm, data);
            return verifier.verify_message(bytes_of(hashed), bytes_of(signature));
        }
        if (key.algo_name() != "RSA") return false;
        Botan::PK_Verifier verifier(key, algorithm == Algorithm::rsa_sha1 ? "EMSA3(SHA-160)" : "EMSA3(SHA-256)");
        return verifier.verify_message(bytes_of(data), bytes_of(signature));
    } catch (const std::exception&) {
        return false;
    }
}

std::optional<std::string> sign(Algorithm algorithm, const Botan::Private_Key& key, std::string_view data,
                                Botan::RandomNumberGenerator& rng, std::string& error) {
    try {
        std::vector<std::uint8_t> out;
        if (algorithm == Algorithm::ed25519_sha256) {
            if (key.algo_name() != "Ed25519") {
                error = "ed25519-sha256 needs an Ed25519 key, not " + key.algo_name();
                return std::nullopt;
            }
            Botan::PK_Signer signer(key, rng, "Pure");
            out = signer.sign_message(bytes_of(digest(algorithm, data)), rng);
        } else {
            if (key.algo_name() != "RSA") {
                error = std::string(algorithm_name(algorithm)) + " needs an RSA key, not " + key.algo_name();
                return std::nullopt;
            }
            Botan::PK_Signer signer(key, rng, algorithm == Algorithm::rsa_sha1 ? "EMSA3(SHA-160)" : "EMSA3(SHA-256)");
            out = signer.sign_message(bytes_of(data), rng);
        }
        return std::string(out.begin(), out.end());
    } catch (const std::exception& e) {
        error = std::string("signing failed: ") + e.what();
        return std::nullopt;
    }
}

}  // namespace pigeon::dkim::crypto
