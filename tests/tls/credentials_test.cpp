// Tests for tls/credentials.hpp: generating, loading and rejecting certificates and keys.
#include "tls/credentials.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <string>

#include "tls/tls_test_support.hpp"

using namespace pigeon::tls;
using pigeon::tls::testing::TempDir;

namespace {

void write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The message of the TlsError `load` throws, or "" when it does not throw.
template <class F>
std::string error_of(F&& load) {
    try {
        load();
    } catch (const TlsError& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tls_credentials)

BOOST_AUTO_TEST_CASE(generates_a_loadable_self_signed_ecdsa_certificate) {
    TempDir dir;
    const std::string cert = dir.file("cert.pem"), key = dir.file("key.pem");
    generate_self_signed("mx.example.test", cert, key);

    struct stat st {};
    BOOST_TEST_REQUIRE(::stat(key.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0600u);
    BOOST_TEST(contains(read(key), "-----BEGIN PRIVATE KEY-----"));
    BOOST_TEST(contains(read(cert), "-----BEGIN CERTIFICATE-----"));

    const auto context = TlsContext::from_pem_files(cert, key);
    BOOST_TEST(context->has_certificate());
    BOOST_TEST_REQUIRE(context->certificate_chain().size() == 1u);
    const Botan::X509_Certificate& leaf = context->certificate_chain()[0];
    BOOST_TEST(leaf.matches_dns_name("mx.example.test"));
    BOOST_TEST(!leaf.matches_dns_name("other.example.test"));
    BOOST_TEST(leaf.subject_info("X520.CommonName").at(0) == "mx.example.test");
    BOOST_TEST(leaf.subject_info("DNS").at(0) == "mx.example.test");
    BOOST_TEST(leaf.load_subject_public_key()->algo_name() == "ECDSA");
    BOOST_TEST(!leaf.is_CA_cert());

    // Valid now and for about a year.
    const auto now = std::chrono::system_clock::now();
    const auto until = leaf.not_after().to_std_timepoint();
    BOOST_TEST((leaf.not_before().to_std_timepoint() < now));
    BOOST_TEST((until > now + std::chrono::hours(24 * 364)));
    BOOST_TEST((until < now + std::chrono::hours(24 * 366)));

    // The key is handed out only for our own certificate and only to a server handshake.
    BOOST_TEST(context->private_key_for(leaf, "tls-server", "") != nullptr);
    BOOST_TEST(context->cert_chain({"ECDSA"}, "tls-server", "").size() == 1u);
    BOOST_TEST(context->cert_chain({"RSA"}, "tls-server", "").empty());
    BOOST_TEST(context->cert_chain({"ECDSA"}, "tls-client", "").empty());
}

BOOST_AUTO_TEST_CASE(expiry_warning_within_fourteen_days_and_after) {
    TempDir dir;
    const std::string cert = dir.file("cert.pem"), key = dir.file("key.pem");
    generate_self_signed("mx.example.test", cert, key);
    const auto context = TlsContext::from_pem_files(cert, key);
    const auto end = context->certificate_chain().front().not_after().to_std_timepoint();
    using std::chrono::hours;
    BOOST_TEST(!pigeon::tls::expiry_warning(*context, end - hours(24 * 30)).has_value());
    BOOST_TEST(!pigeon::tls::expiry_warning(*context, end - hours(24 * 14 + 1)).has_value());
    const auto soon = pigeon::tls::expiry_warning(*context, end - hours(24 * 3 + 2));
    BOOST_TEST_REQUIRE(soon.has_value());
    BOOST_TEST(contains(*soon, "the certificate for mx.example.test expires on "));
    BOOST_TEST(contains(*soon, "in 3 day(s)"));
    const auto gone = pigeon::tls::expiry_warning(*context, end + hours(1));
    BOOST_TEST_REQUIRE(gone.has_value());
    BOOST_TEST(contains(*gone, "expired on "));
    BOOST_TEST(!pigeon::tls::expiry_warning(*TlsContext::client_only(), end).has_value());
}

BOOST_AUTO_TEST_CASE(regenerating_replaces_both_files) {
    TempDir dir;
    const std::string cert = dir.file("cert.pem"), key = dir.file("key.pem");
    generate_self_signed("a.example.test", cert, key);
    const std::string first = read(cert);
    generate_self_signed("b.example.test", cert, key);
    BOOST_TEST(read(cert) != first);
    const auto context = TlsContext::from_pem_files(cert, key);  // still a matching pair
    BOOST_TEST(context->certificate_chain()[0].matches_dns_name("b.example.test"));
}

BOOST_AUTO_TEST_CASE(client_only_context_has_no_certificate) {
    const auto context = TlsContext::client_only();
    BOOST_TEST(!context->has_certificate());
    BOOST_TEST(context->certificate_chain().empty());
    BOOST_TEST(context->cert_chain({"ECDSA", "RSA"}, "tls-server", "").empty());
}

BOOST_AUTO_TEST_CASE(generation_errors_name_the_file) {
    TempDir dir;
    const std::string missing_dir = dir.file("no/such/dir/key.pem");
    const std::string e = error_of([&] {
        generate_self_signed("mx.example.test", dir.file("cert.pem"), missing_dir);
    });
    BOOST_TEST(contains(e, missing_dir), e);
    BOOST_TEST(!error_of([&] { generate_self_signed("", dir.file("c"), dir.file("k")); }).empty());
}

BOOST_AUTO_TEST_CASE(missing_files_are_named_in_the_error) {
    TempDir dir;
    generate_self_signed("mx.example.test", dir.file("cert.pem"), dir.file("key.pem"));
    const std::string no_cert = dir.file("absent-cert.pem");
    const std::string no_key = dir.file("absent-key.pem");

    std::string e = error_of([&] { TlsContext::from_pem_files(no_cert, dir.file("key.pem")); });
    BOOST_TEST(contains(e, no_cert), e);
    BOOST_TEST(contains(e, "certificate"), e);
    BOOST_TEST(contains(e, "No such file"), e);
    BOOST_TEST_MESSAGE(e);

    e = error_of([&] { TlsContext::from_pem_files(dir.file("cert.pem"), no_key); });
    BOOST_TEST(contains(e, no_key), e);
    BOOST_TEST(contains(e, "private key"), e);
}

BOOST_AUTO_TEST_CASE(garbage_files_are_named_in_the_error) {
    TempDir dir;
    generate_self_signed("mx.example.test", dir.file("cert.pem"), dir.file("key.pem"));
    const std::string junk = dir.file("junk.pem");
    write(junk, "this is not PEM\n");

    std::string e = error_of([&] { TlsContext::from_pem_files(junk, dir.file("key.pem")); });
    BOOST_TEST(contains(e, junk), e);
    BOOST_TEST(contains(e, "no PEM certificate"), e);

    BOOST_TEST_MESSAGE(e);
    e = error_of([&] { TlsContext::from_pem_files(dir.file("cert.pem"), junk); });
    BOOST_TEST_MESSAGE(e);
    BOOST_TEST(contains(e, junk), e);
    BOOST_TEST(contains(e, "does not parse"), e);

    const std::string bad_block = dir.file("bad-block.pem");
    write(bad_block, "-----BEGIN CERTIFICATE-----\nAAAA!!!!\n-----END CERTIFICATE-----\n");
    e = error_of([&] { TlsContext::from_pem_files(bad_block, dir.file("key.pem")); });
    BOOST_TEST(contains(e, bad_block), e);
    BOOST_TEST(contains(e, "certificate 1 does not parse"), e);
    BOOST_TEST_MESSAGE(e);

    const std::string unterminated = dir.file("unterminated.pem");
    write(unterminated, read(dir.file("cert.pem")).substr(0, 100));
    e = error_of([&] { TlsContext::from_pem_files(unterminated, dir.file("key.pem")); });
    BOOST_TEST(contains(e, unterminated), e);

    const std::string empty = dir.file("empty.pem");
    write(empty, "");
    e = error_of([&] { TlsContext::from_pem_files(empty, dir.file("key.pem")); });
    BOOST_TEST(contains(e, "empty"), e);
}

BOOST_AUTO_TEST_CASE(a_key_that_does_not_match_the_certificate_is_refused) {
    TempDir dir;
    generate_self_signed("a.example.test", dir.file("a-cert.pem"), dir.file("a-key.pem"));
    generate_self_signed("b.example.test", dir.file("b-cert.pem"), dir.file("b-key.pem"));
    const std::string e = error_of(
        [&] { TlsContext::from_pem_files(dir.file("a-cert.pem"), dir.file("b-key.pem")); });
    BOOST_TEST(contains(e, "does not match"), e);
    BOOST_TEST(contains(e, dir.file("b-key.pem")), e);
}

BOOST_AUTO_TEST_CASE(a_chain_file_loads_every_certificate_in_order) {
    TempDir dir;
    generate_self_signed("leaf.example.test", dir.file("leaf.pem"), dir.file("leaf-key.pem"));
    generate_self_signed("ca.example.test", dir.file("ca.pem"), dir.file("ca-key.pem"));
    // openssl-style annotations between blocks are ignored.
    write(dir.file("chain.pem"), "subject=CN = leaf\n" + read(dir.file("leaf.pem")) +
                                     "\nsubject=CN = ca\n" + read(dir.file("ca.pem")));
    const auto context = TlsContext::from_pem_files(dir.file("chain.pem"), dir.file("leaf-key.pem"));
    BOOST_TEST_REQUIRE(context->certificate_chain().size() == 2u);
    BOOST_TEST(context->certificate_chain()[0].matches_dns_name("leaf.example.test"));
    BOOST_TEST(context->certificate_chain()[1].matches_dns_name("ca.example.test"));
}

// from_pem: the same checks on text in memory (what the files' loader and fuzz/pem_load.cpp
// call), with errors naming the names given.
BOOST_AUTO_TEST_CASE(from_pem_loads_text_and_names_it_in_errors) {
    TempDir dir;
    generate_self_signed("mem.example.test", dir.file("cert.pem"), dir.file("key.pem"));
    const std::string cert = read(dir.file("cert.pem")), key = read(dir.file("key.pem"));
    const auto context = TlsContext::from_pem(cert, key, "cert text", "key text");
    BOOST_TEST(context->has_certificate());
    BOOST_TEST(context->certificate_chain().at(0).matches_dns_name("mem.example.test"));

    std::string e = error_of([&] { TlsContext::from_pem("junk", key, "cert text", "key text"); });
    BOOST_TEST(contains(e, "'cert text' contains no PEM certificate"), e);
    e = error_of([&] { TlsContext::from_pem(cert, "junk", "cert text", "key text"); });
    BOOST_TEST(contains(e, "'key text' does not parse"), e);
    e = error_of([&] { TlsContext::from_pem(cert, cert, "cert text", "key text"); });  // a certificate as key
    BOOST_TEST(contains(e, "'key text'"), e);
}

BOOST_AUTO_TEST_SUITE_END()
