// fuzz/pem_load.cpp: libFuzzer target for PEM and key loading: DKIM private keys
// (dkim::load_private_key), DKIM public keys from key records (parse_key_record, then
// crypto::load_public_key as the verifier calls it), and the TLS certificate chain and key
// (tls::TlsContext::from_pem, what from_pem_files runs on the files' text).
//
// The input is split at the first "\n====\n" into a first and a second part (the certificate
// text and the key text for TLS; both are also tried alone as DKIM keys).
//
// Checked on every input:
//   - nothing crashes, hangs or throws out of the DKIM functions; from_pem throws TlsError and
//     nothing else, and returns a context holding a certificate when it does not throw;
//   - a DKIM public key that loads is within the key limits of auth/dkim/crypto.hpp (RSA at
//     most max_rsa_bits, Ed25519 256 bits) and loads the same way twice;
//   - a DKIM private key that loads gives a key record that parses back.
#include <botan/auto_rng.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/dkim/crypto.hpp"
#include "auth/dkim/dkim.hpp"
#include "auth/dkim/record.hpp"
#include "tls/credentials.hpp"

namespace {

using namespace pigeon;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

Botan::RandomNumberGenerator& rng() {
    static Botan::AutoSeeded_RNG r;  // only passed through: unencrypted keys draw nothing
    return r;
}

void private_key(std::string_view text) {
    auto key = dkim::load_private_key(text, rng());
    if (!key.ok()) {
        check(!key.error().message.empty());
        return;
    }
    auto record = dkim::dns_record_for(*key.value());
    if (record.ok()) check(dkim::parse_key_record(record.value()).ok());
}

void public_key(std::string_view bytes) {
    for (dkim::KeyType type : {dkim::KeyType::rsa, dkim::KeyType::ed25519}) {
        const auto key = dkim::crypto::load_public_key(type, bytes);
        check((key.key == nullptr) == !key.error.empty());
        if (!key.key) continue;
        check(type == dkim::KeyType::rsa ? key.bits <= dkim::crypto::max_rsa_bits : key.bits == 256);
        check(dkim::crypto::load_public_key(type, bytes).bits == key.bits);
    }
}

void key_record(std::string_view text) {
    auto record = dkim::parse_key_record(text);
    if (record.ok() && !record.value().revoked) public_key(record.value().public_key);
}

void tls_credentials(const std::string& cert, const std::string& key) {
    try {
        auto context = tls::TlsContext::from_pem(cert, key, "cert.pem", "key.pem");
        check(context && context->has_certificate() && !context->certificate_chain().empty());
    } catch (const tls::TlsError& e) {
        check(std::string_view(e.what()).size() > 0);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    const std::size_t split = input.find("\n====\n");
    const std::string first = input.substr(0, split);
    const std::string second = split == std::string::npos ? std::string() : input.substr(split + 6);

    private_key(input);
    if (split != std::string::npos) private_key(second);
    key_record(input);
    public_key(input);
    tls_credentials(first, second.empty() ? first : second);
    return 0;
}
