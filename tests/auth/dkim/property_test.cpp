// RapidCheck properties of DKIM canonicalization, signing and verification.
#include <boost/test/unit_test.hpp>
#include <botan/auto_rng.h>
#include <rapidcheck/boost_test.h>

#include "auth/dkim/dkim.hpp"
#include "auth/dkim/dkim_support.hpp"

using namespace pigeon;
using namespace pigeon::dkim;

namespace {

Botan::RandomNumberGenerator& rng() {
    static Botan::AutoSeeded_RNG r;
    return r;
}

const GeneratedKey& key_for(Algorithm a) {
    static GeneratedKey rsa = generate_key(KeyType::rsa, rng(), 1024).value();
    static GeneratedKey ed = generate_key(KeyType::ed25519, rng()).value();
    return a == Algorithm::ed25519_sha256 ? ed : rsa;
}

const std::string value_chars = "abcXYZ019 <>@.,;:\t\"()";
const std::string body_chars = "abcXYZ019 .\t-=";

// A header value: visible text, white space and folds (CRLF + WSP).
rc::Gen<std::string> gen_value() {
    return rc::gen::map(rc::gen::container<std::vector<std::string>>(
                            rc::gen::oneOf(rc::gen::container<std::string>(rc::gen::elementOf(value_chars)),
                                           rc::gen::element<std::string>("\r\n ", "\r\n\t"))),
                        [](const std::vector<std::string>& parts) {
                            std::string v = " x";  // never empty, never a bare fold
                            for (const auto& p : parts) v += p;
                            if (v.size() >= 2 && v.substr(v.size() - 2) == "\r\n") v += " ";  // fold, not an end
                            return v;
                        });
}

rc::Gen<std::string> gen_body() {
    return rc::gen::map(rc::gen::container<std::vector<std::string>>(
                            rc::gen::container<std::string>(rc::gen::elementOf(body_chars))),
                        [](const std::vector<std::string>& lines) {
                            std::string b;
                            for (const auto& l : lines) b += l + "\r\n";
                            return b;
                        });
}

struct TestMessage {
    std::string text;
    std::vector<std::string> names;  // header names, in order
};

rc::Gen<TestMessage> gen_message() {
    return rc::gen::exec([] {
        static const std::vector<std::string> pool = {"From", "To", "Subject", "Date", "X-Other", "cc", "SUBJECT", "Received"};
        auto names = *rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(pool));
        names.insert(names.begin() + *rc::gen::inRange<std::size_t>(0, names.size() + 1), "From");
        TestMessage m;
        m.names = names;
        for (const auto& n : names) m.text += n + ":" + *gen_value() + "\r\n";
        m.text += "\r\n" + *gen_body();
        return m;
    });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dkim_properties)

RC_BOOST_PROP(relaxed_body_is_idempotent, ()) {
    std::string body = *gen_body();
    if (*rc::gen::arbitrary<bool>()) body += *rc::gen::container<std::string>(rc::gen::elementOf(body_chars));
    const std::string once = canonicalize_body(body, Canon::relaxed);
    RC_ASSERT(canonicalize_body(once, Canon::relaxed) == once);
    const std::string simple = canonicalize_body(body, Canon::simple);
    RC_ASSERT(canonicalize_body(simple, Canon::simple) == simple);
}

RC_BOOST_PROP(relaxed_header_is_idempotent, ()) {
    const std::string text = "Name-" + *rc::gen::container<std::string>(rc::gen::elementOf(std::string("aZ9"))) +
                             " :" + *gen_value() + "\r\n\r\n";
    auto m = parse_message(text);
    RC_ASSERT(m.ok());
    const std::string once = canonicalize_header(m.value().fields.at(0), Canon::relaxed);
    const std::string again_text = once + "\r\n";
    auto again = parse_message(again_text);
    RC_ASSERT(again.ok());
    RC_ASSERT(canonicalize_header(again.value().fields.at(0), Canon::relaxed) == once);
}

RC_BOOST_PROP(sign_then_verify_passes_and_tampering_fails, ()) {
    const TestMessage m = *gen_message();
    const Algorithm a = *rc::gen::element(Algorithm::rsa_sha256, Algorithm::ed25519_sha256);
    SignOptions o;
    o.domain = "example.org";
    o.selector = "prop";
    o.private_key = key_for(a).private_key_pem;
    o.algorithm = a;
    o.header_canon = *rc::gen::element(Canon::simple, Canon::relaxed);
    o.body_canon = *rc::gen::element(Canon::simple, Canon::relaxed);
    o.now = 1700000000;
    auto s = sign(m.text, o, rng());
    RC_ASSERT(s.ok());
    const std::string signed_message = s.value() + m.text;
    dns::AnswerCache cache;
    cache.put(key_question("prop", "example.org"),
              test::txt_answer("prop._domainkey.example.org", {key_for(a).dns_record}));
    auto v = test::verify_with(signed_message, cache, o.now);
    RC_ASSERT(v.signatures.size() == 1u);
    RC_ASSERT(v.signatures[0].status == Status::pass);

    // One changed visible byte in a signed field (every field named in the default list is
    // signed; X-Other and Received are not), or in the body.
    auto parsed = parse_message(signed_message);
    RC_ASSERT(parsed.ok());
    std::vector<std::size_t> positions;
    const std::size_t sig_len = s.value().size();
    for (const Field& f : parsed.value().fields) {
        bool signed_field = false;
        for (const auto& n : default_signed_headers()) signed_field |= name_equals(n, f.name);
        if (!signed_field) continue;
        std::size_t start = static_cast<std::size_t>(f.value.data() - signed_message.data());
        for (std::size_t k = 0; k < f.value.size(); ++k)
            if (std::isalnum(static_cast<unsigned char>(f.value[k]))) positions.push_back(start + k);
    }
    const std::size_t body_start = static_cast<std::size_t>(parsed.value().body.data() - signed_message.data());
    for (std::size_t k = body_start; k < signed_message.size(); ++k)
        if (std::isalnum(static_cast<unsigned char>(signed_message[k]))) positions.push_back(k);
    RC_PRE(!positions.empty());
    const std::size_t at = *rc::gen::elementOf(positions);
    RC_ASSERT(at >= sig_len);
    std::string tampered = signed_message;
    tampered[at] = tampered[at] == 'q' ? 'w' : 'q';
    auto t = test::verify_with(tampered, cache, o.now);
    RC_ASSERT(t.signatures.size() == 1u);
    RC_ASSERT(t.signatures[0].status == Status::fail);
}

BOOST_AUTO_TEST_SUITE_END()
