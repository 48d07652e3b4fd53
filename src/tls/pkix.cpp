// pigeon/tls/pkix.cpp: trust bundles and Botan's path validation for tls = "verify".
#include "tls/pkix.hpp"

#include <botan/data_src.h>
#include <botan/x509path.h>

#include <chrono>
#include <exception>
#include <fstream>

namespace pigeon::tls {

core::Result<std::shared_ptr<const TrustStore>> load_trust_store(const std::string& pem_bundle_path) {
    std::ifstream in(pem_bundle_path, std::ios::binary);
    if (!in) return core::ParseError{pem_bundle_path + ": cannot read the CA bundle"};
    auto store = std::make_shared<TrustStore>();
    std::size_t count = 0;
    try {
        Botan::DataSource_Stream source(in, pem_bundle_path);
        while (!source.end_of_data()) {
            try {
                store->add_certificate(Botan::X509_Certificate(source));
                ++count;
            } catch (const Botan::Decoding_Error&) {
                break;  // trailing text after the last certificate
            }
        }
    } catch (const std::exception& e) {
        return core::ParseError{pem_bundle_path + ": " + e.what()};
    }
    if (count == 0) return core::ParseError{pem_bundle_path + ": no certificate in the CA bundle"};
    return std::shared_ptr<const TrustStore>(std::move(store));
}

std::string pkix_check(const std::vector<Botan::X509_Certificate>& chain, const TrustStore& store,
                       const std::string& host, std::int64_t now_unix) {
    if (chain.empty()) return "the server sent no certificate";
    try {
        // A certificate the store holds is trusted as it is: Botan stops the path there.
        if (store.certificate_known(chain.front())) {
            const auto& leaf = chain.front();
            const auto when = std::chrono::system_clock::from_time_t(static_cast<std::time_t>(now_unix));
            if (when < leaf.not_before().to_std_timepoint() || when > leaf.not_after().to_std_timepoint())
                return "certificate is not valid now (" + leaf.not_before().readable_string() + " - " +
                       leaf.not_after().readable_string() + ")";
            if (!leaf.matches_dns_name(host)) return "certificate does not name " + host;
            return "";
        }
        const Botan::Path_Validation_Restrictions restrictions(false, 110);
        const auto result = Botan::x509_path_validate(
            chain, restrictions, store, host, Botan::Usage_Type::TLS_SERVER_AUTH,
            std::chrono::system_clock::from_time_t(static_cast<std::time_t>(now_unix)));
        if (result.successful_validation()) return "";
        return "certificate not trusted for " + host + ": " + result.result_string();
    } catch (const std::exception& e) {
        return std::string("certificate check failed: ") + e.what();
    }
}

CertificateVerifier pkix_verifier(std::shared_ptr<const TrustStore> store, std::string host,
                                  std::int64_t now_unix) {
    return [store = std::move(store), host = std::move(host), now_unix](
               const std::vector<Botan::X509_Certificate>& chain, const std::string&) {
        return pkix_check(chain, *store, host, now_unix);
    };
}

}  // namespace pigeon::tls
