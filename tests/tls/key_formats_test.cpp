// Tests for tls/credentials.hpp: private keys in the forms other tools write.
//
// The fixtures are throwaway keys made for these tests with OpenSSL 3.0 (they protect
// nothing): `openssl ecparam -name prime256v1 -genkey` (SEC 1, with its EC PARAMETERS block)
// and `openssl genrsa -traditional 2048` (PKCS#1), each with a self-signed certificate from
// `openssl req -x509 -new -days 36500`. Botan alone cannot write these forms.
#include "tls/credentials.hpp"

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <string>

#include "tls/tls_channel.hpp"
#include "tls/tls_test_support.hpp"

using namespace pigeon::tls;
using pigeon::tls::testing::TempDir;

namespace {

const char* const kSec1Key = R"PEM(-----BEGIN EC PARAMETERS-----
BggqhkjOPQMBBw==
-----END EC PARAMETERS-----
-----BEGIN EC PRIVATE KEY-----
MHcCAQEEILfKbhtufBZhza51HgB9Gu1fUPY5BGDL7Ffvos2Wz9p6oAoGCCqGSM49
AwEHoUQDQgAEynN7izBfsBuR2CzisvN0pHdKUjjWcFtuWXRVYzAGOvk0TN6IsFTq
4vbEkGB3GQnKhxZ5eQqKH//L0Yc56g+UNg==
-----END EC PRIVATE KEY-----
)PEM";

const char* const kSec1Cert = R"PEM(-----BEGIN CERTIFICATE-----
MIIBjzCCATWgAwIBAgIUUxqtX+etKaBPSlnHclwYcw5TWOowCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRc2VjMS5leGFtcGxlLnRlc3QwIBcNMjYxMTIyMDUxMzEzWhgP
MjEyNjEwMjkwNTEzMTNaMBwxGjAYBgNVBAMMEXNlYzEuZXhhbXBsZS50ZXN0MFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEynN7izBfsBuR2CzisvN0pHdKUjjWcFtu
WXRVYzAGOvk0TN6IsFTq4vbEkGB3GQnKhxZ5eQqKH//L0Yc56g+UNqNTMFEwHQYD
VR0OBBYEFC8IyoEpM7tXMA3F2OJiHC97ihsUMB8GA1UdIwQYMBaAFC8IyoEpM7tX
MA3F2OJiHC97ihsUMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIh
AIUopOvVbUNcdsl0Uok5euHDkEKvaY14OAqWMU9qEleDAiAYreKHZofKBaE5LDGL
6p+afMKqXh58QPAPBGIu4M5jDg==
-----END CERTIFICATE-----
)PEM";

const char* const kPkcs1Key = R"PEM(-----BEGIN RSA PRIVATE KEY-----
MIIEpAIBAAKCAQEAzzHiPG/WX9mjI9ldmDwcu/7q8dqByXvaAv8gkpdYark8/QrT
k5kBudmxIckMpJEueuQoeEQDdqstN2YnNCz1OKwkcgGmzFEiX4uFq7F5nlyXGJcI
w/yS+8udiX8uglPemeGQUr2p4ieKJyvrX8rXin/Zs1vGSwx6B/zUQFwkApVDTbsI
LdlyeYb+nDKH6vRhKv+Ec7Qt5yCAhVUtrYZOWgX8C1vGByGzyYPW/gwrN2zzzttc
+9kFp8K1XByyLhrUtPbqyjC+vTwG2F5dQPXjGyBjgoFR41cT4k3dcrEUDki1vNb6
6eVHeko1ikiBHEZM6CAjMRBAFu4h9gpoY4QT6QIDAQABAoIBAAGuHuBQJL7G5urE
8s4gq/76uBt1v192V8JZy4EL7HkR+CSHYkeeA+gfk68kHo/LEnxrEzpFjLL5UX3+
SqCmPgO3FE+wzi6uoxUNtZaQD8GiqXdzeE+6Gn6VVRzt/aY6BBrfH3/uC1vZIK3I
atYZBjcYhom+lHEtzNVPFP9R8bzPnDJlFqcdLrgRSaCRqjkqMVcYIh6pYD6QfUja
hV5hSXLGrQwHz+2kwU9pwk/ysoAWlfErKKdqOVNCeSqaA70lci6Ys95Ri/dW0Qwl
bvpShZvTGlEePLxlFCTaN+3ULRpQM2t3o407JSu1RJ17jF/iEXYWAQXdHmIslO/V
lahNiZ0CgYEA9r7DeOJfWWE8OBKDi2pG9PGkKmJP2a1zzzzJh1uk5sRrVoXFYelc
GMl96dLf/CgXhOl5s4VkBRLYCNWUjj9Lz25CKRSgelmkByebHEDF48Dlt86XCijo
pZTQx8xcMsgNNaWvcBDU8yD80yNJ+SWQ9VZiHP3jL/E7P+9QtIAJ5ZMCgYEA1vdc
GzaTR9xKLFqabTJjGpIHwMUmjipxFlR3vTjImWJE70HXfqh+w2+VxIZ6YP437W95
ucdIKw9d+JlWkyEjYAfRmHyFsWqoB67s43QJtVLtsK5ZdsqhjaWSwnPPDVsDe8Ed
atmxBpjj5Udj+Oc9to08f/mEZn/LZX39p2seDhMCgYEAxUrPHW9T8jGvZt5W1DjM
N7qnG0S0uEbanM/sDBEZD3Pqp6oaoylmfGNQDJCSjBq6g4nzx7lWuj/RAW9Vc0/l
HBz7RcG6d1oJr7bZbYPVN0Db7VaAqpz/OLZ/IeKjre8LsOOkHaU3wJeV0HUdBtwk
xiamGKxg5cqrJ3oBO/JM94UCgYAeAZE9yzRrx3gjENKVg38J6nBinCJxncMDVu8P
3qlBn9H3g71M1MA9D4pcUFksyM+NuQ3IvOR5/j8jwGOxTeLeOLktC9StmzGxQN2Y
Mk5YnSbIjs22IzrBxubhdcDlIFswHxi4HYL0ZMsK6hguWjjnDnfvdSjiFdySYi/R
+sXLOQKBgQDiE5/td7KapICXV0VfV4BdacpU7OyoxwektVM67DMY6GomAxRYgaG9
uZd1LI0HP5jAK0VtC0qCVeTOK5giyAhUOX3q3woCYfgI1n19onG47N8UAfzWNnHQ
CYewFzDRs9NteVHbdO0tCnMOl7nQabFaJImAdbZ/II2WfU2WWsQstQ==
-----END RSA PRIVATE KEY-----
)PEM";

const char* const kPkcs1Cert = R"PEM(-----BEGIN CERTIFICATE-----
MIIDHTCCAgWgAwIBAgIUMAF2HHK6bvbXViMl3uMpmGqw7BMwDQYJKoZIhvcNAQEL
BQAwHTEbMBkGA1UEAwwScGtjczEuZXhhbXBsZS50ZXN0MCAXDTI2MTEyMjA1MTMx
M1oYDzIxMjYxMDI5MDUxMzEzWjAdMRswGQYDVQQDDBJwa2NzMS5leGFtcGxlLnRl
c3QwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDPMeI8b9Zf2aMj2V2Y
PBy7/urx2oHJe9oC/yCSl1hquTz9CtOTmQG52bEhyQykkS565Ch4RAN2qy03Zic0
LPU4rCRyAabMUSJfi4WrsXmeXJcYlwjD/JL7y52Jfy6CU96Z4ZBSvaniJ4onK+tf
yteKf9mzW8ZLDHoH/NRAXCQClUNNuwgt2XJ5hv6cMofq9GEq/4RztC3nIICFVS2t
hk5aBfwLW8YHIbPJg9b+DCs3bPPO21z72QWnwrVcHLIuGtS09urKML69PAbYXl1A
9eMbIGOCgVHjVxPiTd1ysRQOSLW81vrp5Ud6SjWKSIEcRkzoICMxEEAW7iH2Cmhj
hBPpAgMBAAGjUzBRMB0GA1UdDgQWBBQaMUdWhC3XvOP6qyiKwVL6QJK/XjAfBgNV
HSMEGDAWgBQaMUdWhC3XvOP6qyiKwVL6QJK/XjAPBgNVHRMBAf8EBTADAQH/MA0G
CSqGSIb3DQEBCwUAA4IBAQCwvRy8ZBTwH0nmoEU2C5+/dZPP9uNF7tFbAWlNEK7z
rVUEpaSfdimFdWl1VebwggdMn863y3UsHBt8MWxq89QWVr9jiG1bJc6EdKJ2zNlF
cU2rU8AFwWG5Ye7PMq8YPgeaT8j+/idmYL33C7YMf5kKxhBNfxxLinaL/T8p9G7Y
F7td7/71Qkwmq2zD1fHeJFujWg5ROmDLbCTQaFoc7RLbNWrkdvf8u0B2vaAH/qgb
ieB5+3cackIahmqVW0Im5vs3TNdJwj5L6PMpEzOVdMTCofucLIQNnbi4+mLAFLEb
1besN7urX4X4uSGrfSZTO/607Lrd0AGTURk7xDHKWwIL
-----END CERTIFICATE-----
)PEM";

std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
    const std::string path = dir.file(name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

// Does a server with this context complete a handshake with our client?
bool handshakes(const std::shared_ptr<TlsContext>& context) {
    TlsServerChannel server(context);
    TlsClientChannel client(TlsContext::client_only(), "example.test");
    std::string to_server = client.start().to_peer;
    for (int i = 0; i < 5 && !to_server.empty(); ++i) {
        to_server = client.received(server.received(to_server).to_peer).to_peer;
    }
    return server.established() && client.established();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tls_key_formats)

BOOST_AUTO_TEST_CASE(loads_a_sec1_ec_private_key) {
    TempDir dir;
    const auto context = TlsContext::from_pem_files(write(dir, "cert.pem", kSec1Cert),
                                                    write(dir, "key.pem", kSec1Key));
    BOOST_TEST(context->has_certificate());
    BOOST_TEST(handshakes(context));
}

BOOST_AUTO_TEST_CASE(loads_a_pkcs1_rsa_private_key) {
    TempDir dir;
    const auto context = TlsContext::from_pem_files(write(dir, "cert.pem", kPkcs1Cert),
                                                    write(dir, "key.pem", kPkcs1Key));
    BOOST_TEST(handshakes(context));
}

BOOST_AUTO_TEST_CASE(an_rsa_key_against_an_ec_certificate_is_refused) {
    TempDir dir;
    const std::string key = write(dir, "key.pem", kPkcs1Key);
    try {
        TlsContext::from_pem_files(write(dir, "cert.pem", kSec1Cert), key);
        BOOST_FAIL("loaded a mismatched pair");
    } catch (const TlsError& e) {
        BOOST_TEST(std::string(e.what()).find("does not match") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_CASE(an_encrypted_key_gets_its_own_message) {
    TempDir dir;
    const std::string key = write(dir, "key.pem",
                                  "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n"
                                  "-----END ENCRYPTED PRIVATE KEY-----\n");
    try {
        TlsContext::from_pem_files(write(dir, "cert.pem", kSec1Cert), key);
        BOOST_FAIL("loaded an encrypted key");
    } catch (const TlsError& e) {
        const std::string what = e.what();
        BOOST_TEST(what.find(key) != std::string::npos, what);
        BOOST_TEST(what.find("encrypted") != std::string::npos, what);
    }
}

BOOST_AUTO_TEST_CASE(a_corrupt_sec1_key_is_a_clean_error) {
    TempDir dir;
    std::string broken = kSec1Key;
    broken.replace(broken.find("MHc"), 10, "MHcAAAAAAA");
    try {
        TlsContext::from_pem_files(write(dir, "cert.pem", kSec1Cert),
                                   write(dir, "key.pem", broken));
        BOOST_FAIL("loaded a corrupt key");
    } catch (const TlsError& e) {
        BOOST_TEST_MESSAGE(e.what());
        BOOST_TEST(std::string(e.what()).find("key.pem") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_SUITE_END()
