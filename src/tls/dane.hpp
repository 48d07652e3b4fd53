// pigeon/tls/dane.hpp: authenticating an SMTP server's certificate chain with DANE TLSA
// records (RFC 6698, RFC 7671, RFC 7672 3).
//
// Contract:
//   - dane_check() returns "" when some usable record authenticates the chain (leaf first, as
//     the server presented it), otherwise one line saying why not (for the log and the DSN).
//     It never throws: certificates Botan cannot work with count as not matching.
//   - Usable records: DANE-TA(2) and DANE-EE(3) with selector 0 (the full certificate, DER) or
//     1 (SubjectPublicKeyInfo, DER) and matching type 0 (exact), 1 (SHA-256) or 2 (SHA-512).
//     PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP (RFC 7672 3.1.3) and ignored, as are
//     unknown selectors and matching types. No usable record: an error.
//   - DANE-EE(3) (RFC 7672 3.1.1): the leaf matches; no name, expiry or chain checks.
//   - DANE-TA(2) (RFC 7672 3.1.2): a certificate of the chain other than the leaf matches (the
//     server must send its trust anchor, RFC 7672 3.1.2; a TA record matching the leaf itself
//     does not count); every certificate below it is signed by the next one (issuer name and
//     signature, checked with Botan), each issuer below the anchor is a CA, the leaf and the
//     certificates below the anchor are valid at now_unix (the anchor's own dates are not
//     checked, as for trust anchors in RFC 5280 6.1), and the leaf matches one of
//     reference_names (RFC 7672 3.2.2): its DNS-IDs (subjectAltName dNSName), or its CN when
//     it has none; "*" as the whole left-most label matches exactly one label (RFC 7672
//     3.2.3); comparisons ignore ASCII case and a trailing dot.
//   - dane_verifier() wraps dane_check() for TlsClientChannel: the handshake fails with the
//     returned reason. `now_unix` is fixed when the verifier is made (per connection).
#pragma once
#include <botan/x509cert.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dns/dns.hpp"
#include "tls/tls_channel.hpp"

namespace pigeon::tls {

// Empty string: the chain is authenticated by these records; otherwise why not (for the log/DSN).
std::string dane_check(const std::vector<Botan::X509_Certificate>& chain,   // leaf first, as presented
                       const std::vector<dns::Tlsa>& records,
                       const std::vector<std::string>& reference_names,
                       std::int64_t now_unix);

CertificateVerifier dane_verifier(std::vector<dns::Tlsa> records, std::vector<std::string> names,
                                  std::int64_t now_unix);  // for TlsClientChannel

// The data a TLSA record with this selector and matching type carries for `cert` (binary);
// empty for an unknown selector or matching type. Used by the tests and by `pigeon` to print
// the record to publish.
std::string tlsa_data(const Botan::X509_Certificate& cert, std::uint8_t selector, std::uint8_t matching);

// RFC 7672 3.2.3 name matching of one presented DNS-ID against one reference name.
bool dane_name_matches(std::string_view presented, std::string_view reference);

}  // namespace pigeon::tls
