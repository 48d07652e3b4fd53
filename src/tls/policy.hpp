// pigeon/tls/policy.hpp: the TLS policy Pigeon uses in both roles (server and client).
//
// Contract: TLS 1.2 only (the newest version Botan 2.19 speaks; 1.0 and 1.1 are refused),
// forward-secret ECDHE key exchange only (no static RSA, no finite-field DH), AEAD ciphers
// only (ChaCha20-Poly1305, AES-GCM; no CBC, no RC4, no 3DES), SHA-2 signatures only, no
// renegotiation in either direction. Every modern OpenSSL, GnuTLS, SChannel and Botan peer
// offers at least one of these suites, so nothing mainstream is turned away; docs/tls.md
// gives the reasoning for each choice. The policy is stateless and safe to share.
#pragma once
#include <botan/tls_policy.h>

#include <string>
#include <vector>

namespace pigeon::tls {

class Policy final : public Botan::TLS::Policy {
public:
    std::vector<std::string> allowed_ciphers() const override;
    std::vector<std::string> allowed_macs() const override;
    std::vector<std::string> allowed_key_exchange_methods() const override;
    std::vector<std::string> allowed_signature_methods() const override;
    std::vector<std::string> allowed_signature_hashes() const override;
    std::vector<Botan::TLS::Group_Params> key_exchange_groups() const override;

    bool allow_tls10() const override { return false; }
    bool allow_tls11() const override { return false; }
    bool allow_tls12() const override { return true; }
    bool allow_dtls10() const override { return false; }
    bool allow_dtls12() const override { return false; }

    bool allow_insecure_renegotiation() const override { return false; }
    bool allow_client_initiated_renegotiation() const override { return false; }
    bool allow_server_initiated_renegotiation() const override { return false; }
    bool server_uses_own_ciphersuite_preferences() const override { return true; }
    // A clock in the hello random helps fingerprinting and buys nothing.
    bool include_time_in_hello_random() const override { return false; }

    std::size_t minimum_rsa_bits() const override { return 2048; }
    std::size_t minimum_ecdsa_group_size() const override { return 256; }
    std::size_t minimum_signature_strength() const override { return 110; }
};

}  // namespace pigeon::tls
