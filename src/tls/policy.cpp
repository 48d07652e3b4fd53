// The concrete lists behind pigeon::tls::Policy; order is preference (the server's wins).
#include "tls/policy.hpp"

namespace pigeon::tls {

std::vector<std::string> Policy::allowed_ciphers() const {
    // ChaCha20 first: constant-time everywhere, fast without AES-NI. AES-GCM for peers
    // (older OpenSSL, SChannel) that do not offer ChaCha20.
    return {"ChaCha20Poly1305", "AES-256/GCM", "AES-128/GCM"};
}

std::vector<std::string> Policy::allowed_macs() const {
    return {"AEAD"};  // the AEAD ciphers above carry their own integrity; no CBC+HMAC suites
}

std::vector<std::string> Policy::allowed_key_exchange_methods() const {
    // Ephemeral ECDH only: forward secrecy, and every OpenSSL client offers it. Static RSA key
    // exchange (no forward secrecy, Bleichenbacher oracles) and FFDHE (slow, rarely needed)
    // are left out.
    return {"ECDH"};
}

std::vector<std::string> Policy::allowed_signature_methods() const {
    // How the server signs its ECDHE share: our generated certificates are ECDSA, but an
    // operator's CA-issued certificate is often RSA, so both are allowed.
    return {"ECDSA", "RSA"};
}

std::vector<std::string> Policy::allowed_signature_hashes() const {
    return {"SHA-512", "SHA-384", "SHA-256"};  // no SHA-1
}

std::vector<Botan::TLS::Group_Params> Policy::key_exchange_groups() const {
    using G = Botan::TLS::Group_Params;
    return {G::X25519, G::SECP256R1, G::SECP384R1};
}

}  // namespace pigeon::tls
