// pigeon/tls/credentials.hpp: everything a TLS channel needs besides the bytes: our
// certificate chain and private key, the random generator, the session cache and the policy.
//
// Contract:
//   - TlsContext::from_pem_files(cert, key) loads a PEM certificate chain (leaf first) and an
//     unencrypted PEM private key (PKCS#8 "PRIVATE KEY", SEC 1 "EC PRIVATE KEY" or PKCS#1
//     "RSA PRIVATE KEY", the forms openssl, certbot and acme.sh write), checks that
//     the key belongs to the leaf certificate, and throws TlsError naming the file and the
//     reason when anything is missing, unreadable or unparsable. It never returns a half-built
//     context. TlsContext::from_pem(cert_text, key_text, cert_name, key_name) does the same
//     from text in memory (the files' loader reads them and calls it; errors name cert_name
//     and key_name where they would name the files); it never throws anything but TlsError.
//   - TlsContext::client_only() has no certificate: enough for the client role (outbound).
//   - A context is shared by every channel built from it (channels keep a shared_ptr) and may
//     be used from several threads: after construction it is only read, Botan's AutoSeeded_RNG
//     and in-memory session manager lock internally.
//   - expiry_warning(context, now) says when the leaf certificate has expired or expires
//     within expiry_warning_days (14) of `now`: "the certificate for CN expired on DATE" or
//     "... expires on DATE, in N day(s): renew it (then `pigeon reload`)"; nothing otherwise
//     and for a context without a certificate. `now` is the caller's (the wall clock in the
//     server), so the rule is testable at any date.
//   - generate_self_signed(hostname, cert, key) writes a new ECDSA P-256 key (mode 0600) and a
//     self-signed certificate (CN and subjectAltName DNS = hostname, valid 365 days, SHA-256,
//     serverAuth) as PEM files, each written to a temporary file and renamed into place so a
//     crash never leaves half a file. Throws TlsError naming the file on failure.
#pragma once
#include <optional>
#include <chrono>
#include <botan/auto_rng.h>
#include <botan/credentials_manager.h>
#include <botan/pk_keys.h>
#include <botan/tls_session_manager.h>
#include <botan/x509cert.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tls/policy.hpp"

namespace pigeon::tls {

// Configuration and file errors (bad certificate or key files, failed generation). Errors of a
// live connection are never thrown: they come back in TlsOutput::error.
class TlsError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class TlsContext final : public Botan::Credentials_Manager {
public:
    static std::shared_ptr<TlsContext> from_pem_files(const std::string& cert_chain_path,
                                                      const std::string& key_path);
    static std::shared_ptr<TlsContext> from_pem(const std::string& cert_chain_pem, const std::string& key_pem,
                                                const std::string& cert_name, const std::string& key_name);
    static std::shared_ptr<TlsContext> client_only();

    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;
    ~TlsContext() override;

    bool has_certificate() const { return key_ != nullptr; }
    // Leaf first; empty for a client-only context.
    const std::vector<Botan::X509_Certificate>& certificate_chain() const { return chain_; }

    Botan::RandomNumberGenerator& rng() { return rng_; }
    Botan::TLS::Session_Manager& session_manager() { return *sessions_; }
    const Botan::TLS::Policy& policy() const { return policy_; }

    // ---- Botan::Credentials_Manager ----
    // The server's chain when the client accepts its key type (RSA or ECDSA), else nothing.
    // The SNI name (context) is ignored: one certificate serves every name we answer to.
    std::vector<Botan::X509_Certificate> cert_chain(const std::vector<std::string>& cert_key_types,
                                                    const std::string& type,
                                                    const std::string& context) override;
    Botan::Private_Key* private_key_for(const Botan::X509_Certificate& cert,
                                        const std::string& type,
                                        const std::string& context) override;
    // No trust anchors: the client channel decides about the peer's chain in its own hook.
    std::vector<Botan::Certificate_Store*> trusted_certificate_authorities(
        const std::string& type, const std::string& context) override;

private:
    TlsContext();

    Botan::AutoSeeded_RNG rng_;
    std::unique_ptr<Botan::TLS::Session_Manager> sessions_;
    Policy policy_;
    std::vector<Botan::X509_Certificate> chain_;
    std::unique_ptr<Botan::Private_Key> key_;
};

inline constexpr int expiry_warning_days = 14;
std::optional<std::string> expiry_warning(const TlsContext& context, std::chrono::system_clock::time_point now);

void generate_self_signed(const std::string& hostname, const std::string& cert_path,
                          const std::string& key_path);

}  // namespace pigeon::tls
