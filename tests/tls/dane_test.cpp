// Tests for tls/dane.hpp: DANE-EE and DANE-TA matching (RFC 7672 3.1) against keys and
// certificates made here with Botan (a self-signed leaf, a CA and the leaves it signs, an
// unrelated CA), name checks (RFC 7672 3.2), expiry, unusable records, and one in-memory
// handshake through TlsClientChannel with dane_verifier. Suite pkix: tls/pkix.hpp (tls =
// "verify") over the same certificates: CA chains, intermediates, names, expiry, pinning.
#include "tls/dane.hpp"

#include <boost/test/unit_test.hpp>

#include <botan/auto_rng.h>
#include <botan/ec_group.h>
#include <botan/ecdsa.h>
#include <botan/pkcs10.h>
#include <botan/x509_ca.h>
#include <botan/x509self.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tls/credentials.hpp"
#include "tls/pkix.hpp"
#include "tls/tls_channel.hpp"
#include "tls/tls_test_support.hpp"

using namespace pigeon;
using namespace pigeon::tls;

namespace {

// 2020-01-01, 2040-01-01, and "now" in between (2025-06-01), as Unix seconds.
constexpr std::int64_t t2020 = 1577836800;
constexpr std::int64_t t2040 = 2208988800;
constexpr std::int64_t now = 1748736000;

Botan::X509_Time at(std::int64_t unix_seconds) {
    return Botan::X509_Time(std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds)));
}

struct Keyed {
    std::unique_ptr<Botan::ECDSA_PrivateKey> key;
    Botan::X509_Certificate cert;
};

Botan::AutoSeeded_RNG& rng() {
    static Botan::AutoSeeded_RNG r;
    return r;
}

std::unique_ptr<Botan::ECDSA_PrivateKey> new_key() {
    return std::make_unique<Botan::ECDSA_PrivateKey>(rng(), Botan::EC_Group("secp256r1"));
}

Botan::X509_Cert_Options options(const std::string& cn, std::vector<std::string> dns, std::int64_t from,
                                 std::int64_t to) {
    Botan::X509_Cert_Options opts(cn);
    if (!dns.empty()) {
        opts.dns = dns.front();
        opts.more_dns.assign(dns.begin() + 1, dns.end());
    }
    opts.start = at(from);
    opts.end = at(to);
    return opts;
}

Keyed self_signed(const std::string& cn, std::vector<std::string> dns = {}) {
    Keyed k{new_key(), {}};
    k.cert = Botan::X509::create_self_signed_cert(options(cn, std::move(dns), t2020, t2040), *k.key, "SHA-256", rng());
    return k;
}

Keyed make_ca(const std::string& cn) {
    Keyed k{new_key(), {}};
    auto opts = options(cn, {}, t2020, t2040);
    opts.CA_key(1);
    k.cert = Botan::X509::create_self_signed_cert(opts, *k.key, "SHA-256", rng());
    return k;
}

Keyed issue(const Keyed& ca, const std::string& cn, std::vector<std::string> dns, std::int64_t from = t2020,
            std::int64_t to = t2040, bool is_ca = false) {
    Keyed k{new_key(), {}};
    auto opts = options(cn, std::move(dns), from, to);
    if (is_ca) opts.CA_key(0);
    Botan::PKCS10_Request req = Botan::X509::create_cert_req(opts, *k.key, "SHA-256", rng());
    Botan::X509_CA authority(ca.cert, *ca.key, "SHA-256", rng());
    k.cert = authority.sign_request(req, rng(), at(from), at(to));
    return k;
}

dns::Tlsa record(std::uint8_t usage, std::uint8_t selector, std::uint8_t matching, const Botan::X509_Certificate& c) {
    return {usage, selector, matching, tlsa_data(c, selector, matching)};
}

using Chain = std::vector<Botan::X509_Certificate>;
const std::vector<std::string> mx_name = {"mx.example.com"};

// Certificates are slow to make under the sanitizers: make them once.
struct Pki {
    Keyed leaf = self_signed("mx.example.com", {"mx.example.com"});
    Keyed stranger = self_signed("mx.example.com", {"mx.example.com"});  // same names, other key
    Keyed ca = make_ca("Example CA");
    Keyed other_ca = make_ca("Other CA");
    Keyed ca_leaf = issue(ca, "mx.example.com", {"mx.example.com", "*.mail.example.com"});
    Keyed expired_leaf = issue(ca, "mx.example.com", {"mx.example.com"}, t2020, t2020 + 86400);
    Keyed cn_only_leaf = issue(ca, "mx.example.com", {});
    Keyed foreign_leaf = issue(other_ca, "mx.example.com", {"mx.example.com"});
    Keyed intermediate = issue(ca, "Example Intermediate", {}, t2020, t2040, true);
    Keyed deep_leaf = issue(intermediate, "deep.example.com", {"deep.example.com"});
};

const Pki& pki() {
    static const Pki p;
    return p;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dane)

BOOST_AUTO_TEST_CASE(tlsa_data_sizes) {
    const auto& c = pki().leaf.cert;
    const std::vector<std::uint8_t> der = c.BER_encode();
    BOOST_TEST(tlsa_data(c, 0, 0) == std::string(der.begin(), der.end()));
    BOOST_TEST(tlsa_data(c, 1, 0).size() == c.subject_public_key_info().size());
    BOOST_TEST(tlsa_data(c, 0, 1).size() == 32u);
    BOOST_TEST(tlsa_data(c, 1, 2).size() == 64u);
    BOOST_TEST(tlsa_data(c, 0, 1) != tlsa_data(c, 1, 1));
    BOOST_TEST(tlsa_data(c, 2, 1).empty());
    BOOST_TEST(tlsa_data(c, 0, 3).empty());
}

BOOST_AUTO_TEST_CASE(dane_ee_matches_every_selector_and_matching_type) {
    const auto& leaf = pki().leaf.cert;
    for (std::uint8_t selector : {0, 1}) {
        for (std::uint8_t matching : {0, 1, 2}) {
            BOOST_TEST_CONTEXT("3 " << int(selector) << " " << int(matching)) {
                const std::vector<dns::Tlsa> records{record(3, selector, matching, leaf)};
                BOOST_TEST(dane_check({leaf}, records, mx_name, now) == "");
                // The wrong certificate with the same names does not match.
                BOOST_TEST(dane_check({pki().stranger.cert}, records, mx_name, now) != "");
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(dane_ee_ignores_names_and_dates) {
    const auto& leaf = pki().expired_leaf.cert;
    const std::vector<dns::Tlsa> records{record(3, 1, 1, leaf)};
    BOOST_TEST(dane_check({leaf, pki().ca.cert}, records, {"other.example.org"}, now) == "");
    BOOST_TEST(dane_check({leaf}, records, {}, t2040 + 1) == "");
}

BOOST_AUTO_TEST_CASE(dane_ee_matches_the_leaf_only) {
    // A DANE-EE record for the CA does not authenticate a leaf the CA signed.
    const std::vector<dns::Tlsa> records{record(3, 1, 1, pki().ca.cert)};
    const std::string why = dane_check({pki().ca_leaf.cert, pki().ca.cert}, records, mx_name, now);
    BOOST_TEST(why.find("matches none") != std::string::npos, why);
}

BOOST_AUTO_TEST_CASE(dane_ta_accepts_a_chain_to_the_anchor) {
    const Chain chain{pki().ca_leaf.cert, pki().ca.cert};
    for (std::uint8_t selector : {0, 1}) {
        for (std::uint8_t matching : {0, 1, 2}) {
            BOOST_TEST_CONTEXT("2 " << int(selector) << " " << int(matching)) {
                const std::vector<dns::Tlsa> records{record(2, selector, matching, pki().ca.cert)};
                BOOST_TEST(dane_check(chain, records, mx_name, now) == "");
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(dane_ta_through_an_intermediate) {
    const Chain chain{pki().deep_leaf.cert, pki().intermediate.cert, pki().ca.cert};
    BOOST_TEST(dane_check(chain, {record(2, 1, 1, pki().ca.cert)}, {"deep.example.com"}, now) == "");
    BOOST_TEST(dane_check(chain, {record(2, 1, 1, pki().intermediate.cert)}, {"deep.example.com"}, now) == "");
    // Without the intermediate the leaf does not chain to the root.
    const std::string why = dane_check({pki().deep_leaf.cert, pki().ca.cert}, {record(2, 1, 1, pki().ca.cert)},
                                       {"deep.example.com"}, now);
    BOOST_TEST(why.find("not issued by") != std::string::npos, why);
}

BOOST_AUTO_TEST_CASE(dane_ta_checks_names) {
    const Chain chain{pki().ca_leaf.cert, pki().ca.cert};
    const std::vector<dns::Tlsa> records{record(2, 0, 1, pki().ca.cert)};
    const std::string why = dane_check(chain, records, {"other.example.com"}, now);
    BOOST_TEST(why.find("matches none of the names other.example.com") != std::string::npos, why);
    BOOST_TEST(dane_check(chain, records, {}, now) != "");
    // Any one reference name will do; case and a trailing dot do not matter.
    BOOST_TEST(dane_check(chain, records, {"example.com", "MX.Example.COM."}, now) == "");
    // The wildcard DNS-ID covers one label.
    BOOST_TEST(dane_check(chain, records, {"smtp.mail.example.com"}, now) == "");
    BOOST_TEST(dane_check(chain, records, {"a.b.mail.example.com"}, now) != "");
    BOOST_TEST(dane_check(chain, records, {"mail.example.com"}, now) != "");
}

BOOST_AUTO_TEST_CASE(dane_ta_uses_cn_without_dns_ids) {
    const Chain chain{pki().cn_only_leaf.cert, pki().ca.cert};
    const std::vector<dns::Tlsa> records{record(2, 1, 1, pki().ca.cert)};
    BOOST_TEST(dane_check(chain, records, mx_name, now) == "");
    BOOST_TEST(dane_check(chain, records, {"other.example.com"}, now) != "");
}

BOOST_AUTO_TEST_CASE(dane_ta_checks_dates) {
    const Chain chain{pki().expired_leaf.cert, pki().ca.cert};
    const std::vector<dns::Tlsa> records{record(2, 1, 1, pki().ca.cert)};
    BOOST_TEST(dane_check(chain, records, mx_name, t2020 + 3600) == "");  // still valid then
    const std::string why = dane_check(chain, records, mx_name, now);
    BOOST_TEST(why.find("validity period") != std::string::npos, why);
    // Not yet valid.
    BOOST_TEST(dane_check({pki().ca_leaf.cert, pki().ca.cert}, records, mx_name, t2020 - 1) != "");
}

BOOST_AUTO_TEST_CASE(dane_ta_rejects_other_issuers) {
    const std::vector<dns::Tlsa> records{record(2, 1, 1, pki().ca.cert)};
    // A leaf of another CA, presented with our CA: wrong issuer.
    BOOST_TEST(dane_check({pki().foreign_leaf.cert, pki().ca.cert}, records, mx_name, now) != "");
    // The other CA's own chain does not match the record at all.
    const std::string why = dane_check({pki().foreign_leaf.cert, pki().other_ca.cert}, records, mx_name, now);
    BOOST_TEST(why.find("matches none of the 1 DANE-TA") != std::string::npos, why);
    // The anchor not sent by the server: no match (RFC 7672 3.1.2 requires it in the chain).
    BOOST_TEST(dane_check({pki().ca_leaf.cert}, records, mx_name, now) != "");
}

BOOST_AUTO_TEST_CASE(dane_ta_record_for_the_leaf_itself_does_not_count) {
    const auto& leaf = pki().leaf.cert;  // self-signed
    BOOST_TEST(dane_check({leaf}, {record(2, 0, 1, leaf)}, mx_name, now) != "");
}

BOOST_AUTO_TEST_CASE(signature_forgery_is_caught) {
    // A leaf whose issuer name is "Example CA" but signed by a different key with that name.
    Keyed impostor_ca = make_ca("Example CA");
    Keyed forged = issue(impostor_ca, "mx.example.com", {"mx.example.com"});
    const std::string why =
        dane_check({forged.cert, pki().ca.cert}, {record(2, 1, 1, pki().ca.cert)}, mx_name, now);
    BOOST_TEST(why.find("signature") != std::string::npos, why);
}

BOOST_AUTO_TEST_CASE(unusable_records_never_authenticate) {
    const auto& leaf = pki().leaf.cert;
    const Chain chain{pki().ca_leaf.cert, pki().ca.cert};
    // PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP (RFC 7672 3.1.3), even when they match.
    std::vector<dns::Tlsa> unusable{record(1, 1, 1, leaf), record(0, 1, 1, pki().ca.cert)};
    dns::Tlsa bad_selector = record(3, 1, 1, leaf);
    bad_selector.selector = 2;
    dns::Tlsa bad_matching = record(3, 1, 1, leaf);
    bad_matching.matching = 9;
    unusable.push_back(bad_selector);
    unusable.push_back(bad_matching);
    const std::string why = dane_check({leaf}, unusable, mx_name, now);
    BOOST_TEST(why.find("no usable TLSA record") != std::string::npos, why);
    BOOST_TEST(dane_check(chain, unusable, mx_name, now) != "");
    // Beside a usable record that matches, they do no harm.
    unusable.push_back(record(3, 0, 2, leaf));
    BOOST_TEST(dane_check({leaf}, unusable, mx_name, now) == "");
}

BOOST_AUTO_TEST_CASE(empty_chain_fails) {
    BOOST_TEST(dane_check({}, {record(3, 1, 1, pki().leaf.cert)}, mx_name, now) != "");
}

BOOST_AUTO_TEST_CASE(name_matching_rules) {
    BOOST_TEST(dane_name_matches("mx.example.com", "MX.example.com."));
    BOOST_TEST(dane_name_matches("*.example.com", "a.example.com"));
    BOOST_TEST(!dane_name_matches("*.example.com", "example.com"));
    BOOST_TEST(!dane_name_matches("*.example.com", "a.b.example.com"));
    BOOST_TEST(!dane_name_matches("*.example.com", ".example.com"));
    BOOST_TEST(!dane_name_matches("f*.example.com", "foo.example.com"));
    BOOST_TEST(!dane_name_matches("*", "com"));
    BOOST_TEST(!dane_name_matches("", ""));
    BOOST_TEST(!dane_name_matches("mx.example.com", "mx.example.org"));
}

// ---- one handshake through the channels -----------------------------------------------------

namespace {

struct Outcome {
    bool established = false;
    bool closed = false;
    std::string error;
};

Outcome handshake(const std::shared_ptr<TlsContext>& server_context, CertificateVerifier verifier) {
    TlsServerChannel server(server_context);
    TlsClientChannel client(TlsContext::client_only(), "mx.example.com", std::move(verifier));
    Outcome c;
    auto absorb = [&](TlsOutput out) {
        if (out.established_now) c.established = true;
        if (out.closed) c.closed = true;
        if (!out.error.empty() && c.error.empty()) c.error = out.error;
        return std::move(out.to_peer);
    };
    std::string to_server = absorb(client.start()), to_client;
    for (int rounds = 0; !to_server.empty() || !to_client.empty(); ++rounds) {
        BOOST_REQUIRE(rounds < 50);
        if (!to_server.empty()) to_client += server.received(std::exchange(to_server, {})).to_peer;
        if (!to_client.empty()) to_server += absorb(client.received(std::exchange(to_client, {})));
    }
    return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(handshake_with_dane_verifier) {
    testing::TempDir dir;
    auto context = testing::make_server_context(dir, "mx.example.com");
    const auto& leaf = context->certificate_chain().at(0);

    Outcome good = handshake(context, dane_verifier({record(3, 1, 1, leaf)}, mx_name, now));
    BOOST_TEST(good.established);
    BOOST_TEST(good.error == "");

    Outcome bad = handshake(context, dane_verifier({record(3, 1, 1, pki().stranger.cert)}, mx_name, now));
    BOOST_TEST(!bad.established);
    BOOST_TEST(bad.closed);
    BOOST_TEST(bad.error.find("DANE") != std::string::npos, bad.error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pkix)

namespace {

TrustStore store_of(std::initializer_list<const Botan::X509_Certificate*> certs) {
    TrustStore s;
    for (const auto* c : certs) s.add_certificate(*c);
    return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_chain_to_a_trusted_ca_that_names_the_host_passes) {
    const auto& p = pki();
    const TrustStore cas = store_of({&p.ca.cert});
    BOOST_TEST(pkix_check({p.ca_leaf.cert}, cas, "mx.example.com", now) == "");
    BOOST_TEST(pkix_check({p.ca_leaf.cert}, cas, "a.mail.example.com", now) == "");  // *.mail
    BOOST_TEST(pkix_check({p.deep_leaf.cert, p.intermediate.cert}, cas, "deep.example.com", now) == "");
}

BOOST_AUTO_TEST_CASE(wrong_names_other_cas_expiry_and_missing_links_fail) {
    const auto& p = pki();
    const TrustStore cas = store_of({&p.ca.cert});
    const auto refused = [&](const Chain& chain, const std::string& host, std::int64_t when) {
        const std::string why = pkix_check(chain, cas, host, when);
        BOOST_TEST_MESSAGE(host << ": " << why);
        return !why.empty();
    };
    BOOST_TEST(refused({p.ca_leaf.cert}, "other.example.com", now));
    BOOST_TEST(refused({p.ca_leaf.cert}, "b.a.mail.example.com", now));  // one label only
    BOOST_TEST(refused({p.foreign_leaf.cert}, "mx.example.com", now));
    BOOST_TEST(refused({p.expired_leaf.cert}, "mx.example.com", now));
    BOOST_TEST(refused({p.ca_leaf.cert}, "mx.example.com", t2040 + 86400));
    BOOST_TEST(refused({p.deep_leaf.cert}, "deep.example.com", now));  // intermediate not sent
    BOOST_TEST(refused({p.leaf.cert}, "mx.example.com", now));         // self-signed, not pinned
    BOOST_TEST(pkix_check({}, cas, "mx.example.com", now) == "the server sent no certificate");
}

BOOST_AUTO_TEST_CASE(a_pinned_self_signed_certificate_still_needs_its_name_and_dates) {
    const auto& p = pki();
    const TrustStore pinned = store_of({&p.leaf.cert});
    BOOST_TEST(pkix_check({p.leaf.cert}, pinned, "mx.example.com", now) == "");
    BOOST_TEST(pkix_check({p.leaf.cert}, pinned, "relay.example.com", now).find("does not name") !=
               std::string::npos);
    BOOST_TEST(pkix_check({p.leaf.cert}, pinned, "mx.example.com", t2040 + 86400).find("not valid now") !=
               std::string::npos);
    BOOST_TEST(!pkix_check({p.stranger.cert}, pinned, "mx.example.com", now).empty());  // same name, other key
}

BOOST_AUTO_TEST_CASE(trust_stores_load_from_pem_bundles) {
    const auto& p = pki();
    const testing::TempDir dir;
    const std::string bundle = dir.file("bundle.pem"), empty = dir.file("empty.pem");
    {
        std::ofstream out(bundle);
        out << p.ca.cert.PEM_encode() << p.other_ca.cert.PEM_encode();
        std::ofstream(empty) << "no certificate here\n";
    }
    const auto loaded = load_trust_store(bundle);
    BOOST_REQUIRE(loaded.ok());
    BOOST_TEST(loaded.value()->certificate_known(p.ca.cert));
    BOOST_TEST(loaded.value()->certificate_known(p.other_ca.cert));
    BOOST_TEST(pkix_check({p.foreign_leaf.cert}, *loaded.value(), "mx.example.com", now) == "");
    const auto none = load_trust_store(empty);
    BOOST_REQUIRE(!none.ok());
    BOOST_TEST(none.error().message.find("no certificate") != std::string::npos);
    const auto missing = load_trust_store(dir.file("missing.pem"));
    BOOST_REQUIRE(!missing.ok());
    BOOST_TEST(missing.error().message.find("cannot read") != std::string::npos);
    if (std::ifstream(system_ca_bundle)) {
        const auto system = load_trust_store(system_ca_bundle);
        BOOST_TEST(system.ok());  // Debian's ca-certificates bundle parses whole
    }
}

BOOST_AUTO_TEST_SUITE_END()
