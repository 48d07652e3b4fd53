// smtp/server/sasl.hpp: base64 (RFC 4648), PLAIN (RFC 4616) and LOGIN steps.
#include "smtp/server/sasl.hpp"

#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

using namespace pigeon::smtp;
using Outcome = SaslStep::Outcome;

namespace {
Auth auth(std::string mechanism, std::optional<std::string> ir = std::nullopt) {
    return Auth{std::move(mechanism), std::move(ir)};
}
}  // namespace

BOOST_AUTO_TEST_SUITE(sasl)

// RFC 4648 section 10 test vectors.
BOOST_AUTO_TEST_CASE(base64_rfc4648_vectors) {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    for (auto [plain, encoded] : vectors) {
        BOOST_TEST(base64_encode(plain) == encoded);
        BOOST_TEST(base64_decode(encoded).value() == plain);
    }
}

BOOST_AUTO_TEST_CASE(base64_rejects_what_rfc4648_does_not_allow) {
    for (const char* bad : {"Zg=", "Z", "Z===", "=Zg=", "Zg==Zg==", "Zm9v!", "Zm 9v", "Zh==", "Zm9=",
                            "Zg=\n", "\xc3\xa9\xc3\xa9"})
        BOOST_TEST(!base64_decode(bad).has_value(), bad);
}

RC_BOOST_PROP(base64_round_trips_both_ways, (const std::string& bytes)) {
    const auto text = base64_encode(bytes);
    RC_ASSERT(base64_decode(text).value() == bytes);
    RC_ASSERT(base64_encode(*base64_decode(text)) == text);
}

RC_BOOST_PROP(base64_decode_accepts_only_canonical_text, (const std::string& text)) {
    if (auto decoded = base64_decode(text)) RC_ASSERT(base64_encode(*decoded) == text);
}

// RFC 4616 section 4 examples.
BOOST_AUTO_TEST_CASE(plain_rfc4616_examples) {
    auto step = sasl_begin(auth("PLAIN", base64_encode(std::string("\0tim\0tanstaaftanstaaf", 21))));
    BOOST_TEST((step.outcome == Outcome::complete));
    BOOST_TEST(step.authzid.empty());
    BOOST_TEST(step.authcid == "tim");
    BOOST_TEST(step.password == "tanstaaftanstaaf");
    step = sasl_begin(auth("PLAIN", base64_encode(std::string("Ursel\0Kurt\0xipj3plmq", 20))));
    BOOST_TEST((step.outcome == Outcome::complete));
    BOOST_TEST(step.authzid == "Ursel");
    BOOST_TEST(step.authcid == "Kurt");
    BOOST_TEST(step.password == "xipj3plmq");
}

BOOST_AUTO_TEST_CASE(plain_malformed_messages) {
    for (std::string bad : {std::string("no nul at all"), std::string("\0only-one", 9),
                            std::string("a\0b\0c\0d", 7), std::string("\0\0password", 10),
                            std::string("\0user\0", 6)})
        BOOST_TEST((sasl_begin(auth("PLAIN", base64_encode(bad))).outcome == Outcome::malformed));
    BOOST_TEST((sasl_begin(auth("PLAIN", "not!base64")).outcome == Outcome::malformed));
    BOOST_TEST((sasl_begin(auth("PLAIN", "=")).outcome == Outcome::malformed));  // empty message
}

BOOST_AUTO_TEST_CASE(plain_without_initial_response_sends_an_empty_challenge) {
    auto step = sasl_begin(auth("PLAIN"));
    BOOST_TEST((step.outcome == Outcome::challenge));
    BOOST_TEST(step.challenge.empty());
    auto done = sasl_continue(step.next, base64_encode(std::string("\0u\0p", 4)));
    BOOST_TEST((done.outcome == Outcome::complete));
    BOOST_TEST(done.authcid == "u");
}

BOOST_AUTO_TEST_CASE(login_asks_user_then_password) {
    auto step = sasl_begin(auth("LOGIN"));
    BOOST_TEST((step.outcome == Outcome::challenge));
    BOOST_TEST(base64_decode(step.challenge).value() == "Username:");
    step = sasl_continue(step.next, base64_encode("alice"));
    BOOST_TEST((step.outcome == Outcome::challenge));
    BOOST_TEST(base64_decode(step.challenge).value() == "Password:");
    step = sasl_continue(step.next, base64_encode("secret"));
    BOOST_TEST((step.outcome == Outcome::complete));
    BOOST_TEST(step.authcid == "alice");
    BOOST_TEST(step.password == "secret");
    // LOGIN with the user name as initial response (common client behaviour).
    step = sasl_begin(auth("LOGIN", base64_encode("bob")));
    BOOST_TEST(base64_decode(step.challenge).value() == "Password:");
    BOOST_TEST(step.next.authcid == "bob");
}

BOOST_AUTO_TEST_CASE(cancel_too_long_and_unknown_mechanisms) {
    BOOST_TEST((sasl_continue(sasl_begin(auth("LOGIN")).next, "*").outcome == Outcome::cancelled));
    BOOST_TEST((sasl_continue(sasl_begin(auth("PLAIN")).next, std::string(12290, 'A')).outcome ==
                Outcome::too_long));
    BOOST_TEST((sasl_begin(auth("CRAM-MD5")).outcome == Outcome::unknown_mechanism));
    BOOST_TEST((sasl_continue(sasl_begin(auth("LOGIN")).next, base64_encode(std::string("a\0b", 3)))
                    .outcome == Outcome::malformed));
}

BOOST_AUTO_TEST_SUITE_END()
