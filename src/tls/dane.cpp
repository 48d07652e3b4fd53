// DANE TLSA authentication of a presented chain (RFC 7672 3, RFC 7671 5); see the header.
#include "tls/dane.hpp"

#include <botan/hash.h>
#include <botan/pk_keys.h>
#include <botan/pkix_types.h>

#include <exception>
#include <memory>
#include <string_view>
#include <utility>

#include "core/ascii.hpp"

namespace pigeon::tls {

namespace {

constexpr std::uint8_t usage_dane_ta = 2;
constexpr std::uint8_t usage_dane_ee = 3;
constexpr std::size_t sha256_octets = 32;
constexpr std::size_t sha512_octets = 64;

std::string as_string(const std::vector<std::uint8_t>& bytes) { return std::string(bytes.begin(), bytes.end()); }

bool usable(const dns::Tlsa& r) {
    if (r.usage != usage_dane_ta && r.usage != usage_dane_ee) return false;
    if (r.selector > 1) return false;
    switch (r.matching) {
        case 0: return !r.data.empty();
        case 1: return r.data.size() == sha256_octets;
        case 2: return r.data.size() == sha512_octets;
        default: return false;
    }
}

bool matches(const Botan::X509_Certificate& cert, const dns::Tlsa& r) {
    const std::string data = tlsa_data(cert, r.selector, r.matching);
    return !data.empty() && data == r.data;
}

std::string normalise(std::string_view name) {
    std::string out = core::ascii_lower(name);
    while (!out.empty() && out.back() == '.') out.pop_back();
    return out;
}

std::vector<std::string> presented_names(const Botan::X509_Certificate& cert) {
    std::vector<std::string> names = cert.subject_alt_name().get_attribute("DNS");
    if (names.empty()) names = cert.subject_dn().get_attribute("CN");  // CN only without DNS-IDs
    return names;
}

bool valid_at(const Botan::X509_Certificate& cert, std::int64_t now) {
    const auto t = static_cast<std::uint64_t>(now < 0 ? 0 : now);
    return cert.not_before().time_since_epoch() <= t && t <= cert.not_after().time_since_epoch();
}

// "" when chain[0..anchor] is a valid path ending at chain[anchor], else why not.
std::string check_path(const std::vector<Botan::X509_Certificate>& chain, std::size_t anchor, std::int64_t now) {
    for (std::size_t j = 0; j < anchor; ++j) {
        const auto& cert = chain[j];
        const auto& issuer = chain[j + 1];
        if (!valid_at(cert, now))
            return "certificate " + std::to_string(j) + " (" + cert.subject_dn().to_string() +
                   ") is outside its validity period";
        if (!(cert.issuer_dn() == issuer.subject_dn()))
            return "certificate " + std::to_string(j) + " is not issued by certificate " + std::to_string(j + 1);
        if (!issuer.is_CA_cert())
            return "certificate " + std::to_string(j + 1) + " is not a CA certificate";
        std::unique_ptr<Botan::Public_Key> key = issuer.load_subject_public_key();
        if (!key || !cert.check_signature(*key))
            return "signature of certificate " + std::to_string(j) + " does not verify with certificate " +
                   std::to_string(j + 1) + "'s key";
    }
    return {};
}

}  // namespace

std::string tlsa_data(const Botan::X509_Certificate& cert, std::uint8_t selector, std::uint8_t matching) {
    try {
        std::vector<std::uint8_t> selected;
        if (selector == 0) selected = cert.BER_encode();
        else if (selector == 1) selected = cert.subject_public_key_info();
        else return {};
        if (matching == 0) return as_string(selected);
        const char* hash = matching == 1 ? "SHA-256" : matching == 2 ? "SHA-512" : nullptr;
        if (hash == nullptr) return {};
        auto fn = Botan::HashFunction::create_or_throw(hash);
        fn->update(selected);
        return as_string(fn->final_stdvec());
    } catch (const std::exception&) {
        return {};
    }
}

bool dane_name_matches(std::string_view presented, std::string_view reference) {
    const std::string p = normalise(presented), r = normalise(reference);
    if (p.empty() || r.empty()) return false;
    if (p.size() > 2 && p[0] == '*' && p[1] == '.') {
        // "*" alone as the left-most label: exactly one non-empty label of the reference.
        const std::size_t dot = r.find('.');
        if (dot == std::string::npos || dot == 0) return false;
        return r.substr(dot + 1) == p.substr(2);
    }
    if (p.find('*') != std::string::npos) return false;  // partial wildcards are not accepted
    return p == r;
}

std::string dane_check(const std::vector<Botan::X509_Certificate>& chain, const std::vector<dns::Tlsa>& records,
                       const std::vector<std::string>& reference_names, std::int64_t now_unix) {
    if (chain.empty()) return "DANE: the server presented no certificate";
    std::vector<const dns::Tlsa*> ee, ta;
    for (const auto& r : records) {
        if (!usable(r)) continue;
        (r.usage == usage_dane_ee ? ee : ta).push_back(&r);
    }
    if (ee.empty() && ta.empty()) return "DANE: no usable TLSA record (RFC 7672 3.1.3)";

    try {
        // RFC 7672 3.1.1: DANE-EE matches the leaf; names and dates do not matter.
        for (const auto* r : ee)
            if (matches(chain[0], *r)) return {};

        std::string why;
        for (std::size_t i = 1; i < chain.size() && !ta.empty(); ++i) {
            bool anchor = false;
            for (const auto* r : ta)
                if (matches(chain[i], *r)) anchor = true;
            if (!anchor) continue;
            std::string path = check_path(chain, i, now_unix);
            if (!path.empty()) {
                why = "DANE-TA: trust anchor at depth " + std::to_string(i) + " found, but " + path;
                continue;
            }
            for (const auto& presented : presented_names(chain[0]))
                for (const auto& reference : reference_names)
                    if (dane_name_matches(presented, reference)) return {};
            std::string list;
            for (const auto& n : reference_names) list += (list.empty() ? "" : ", ") + n;
            return "DANE-TA: the certificate matches none of the names " + (list.empty() ? "(none)" : list) +
                   " (RFC 7672 3.2.2)";
        }
        if (!why.empty()) return why;
    } catch (const std::exception& e) {
        return std::string("DANE: certificate error: ") + e.what();
    }
    std::string kinds;
    if (!ee.empty()) kinds += std::to_string(ee.size()) + " DANE-EE";
    if (!ta.empty()) kinds += std::string(kinds.empty() ? "" : " and ") + std::to_string(ta.size()) + " DANE-TA";
    return "DANE: the certificate chain matches none of the " + kinds + " TLSA record(s)";
}

CertificateVerifier dane_verifier(std::vector<dns::Tlsa> records, std::vector<std::string> names,
                                  std::int64_t now_unix) {
    return [records = std::move(records), names = std::move(names), now_unix](
               const std::vector<Botan::X509_Certificate>& chain, const std::string&) {
        return dane_check(chain, records, names, now_unix);
    };
}

}  // namespace pigeon::tls
