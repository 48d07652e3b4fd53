// pigeon/tls/pkix.hpp: authenticating a configured next hop's certificate the Web PKI way
// (tls = "verify" for [outbound.relayhost] and [[outbound.routes]]): RFC 5280 path validation
// to a trusted CA and RFC 6125 host-name matching, both by Botan.
//
// Contract:
//   - load_trust_store(path) reads every certificate of a PEM bundle (by default the system's,
//     /etc/ssl/certs/ca-certificates.crt from Debian's ca-certificates) into a store. An
//     unreadable file, or one holding no certificate, is an Error naming the file. Files are
//     read here, at start-up (src/tls is the I/O side; the check itself reads nothing).
//   - pkix_check(chain, store, host, now_unix) returns "" when the chain the server presented
//     (leaf first) leads to a certificate of the store, every certificate is valid at
//     now_unix, the leaf allows serverAuth and names `host` (a DNS name: subjectAltName
//     dNSName, a left-most "*" matching one label); otherwise one line saying why not, for the
//     log and the DSN. A certificate in the store counts as a trust anchor even when it is the
//     leaf itself (a private relay with a self-signed certificate, pinned by its PEM file).
//     No revocation checks (no network from inside a handshake). Never throws.
//   - pkix_verifier() wraps pkix_check() for TlsClientChannel; the handshake fails with the
//     reason, so nothing (AUTH above all) is sent to an unauthenticated server.
#pragma once
#include <botan/certstor.h>
#include <botan/x509cert.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "tls/tls_channel.hpp"

namespace pigeon::tls {

inline constexpr const char* system_ca_bundle = "/etc/ssl/certs/ca-certificates.crt";

using TrustStore = Botan::Certificate_Store_In_Memory;

core::Result<std::shared_ptr<const TrustStore>> load_trust_store(const std::string& pem_bundle_path);

std::string pkix_check(const std::vector<Botan::X509_Certificate>& chain, const TrustStore& store,
                       const std::string& host, std::int64_t now_unix);

CertificateVerifier pkix_verifier(std::shared_ptr<const TrustStore> store, std::string host,
                                  std::int64_t now_unix);

}  // namespace pigeon::tls
