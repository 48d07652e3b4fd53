// Hostile input against the DKIM verifier (issue 13): the h= and field-size caps, linear h=
// selection, RSA key limits, the CPU budget, body hash reuse, and the streaming canonicalizer's
// edge cases. Each limit is tested at the bound and just past it.
#include <boost/test/unit_test.hpp>
#include <botan/auto_rng.h>
#include <botan/bigint.h>
#include <botan/rsa.h>

#include <chrono>
#include <string>

#include "auth/dkim/crypto.hpp"
#include "auth/dkim/dkim.hpp"
#include "auth/dkim/dkim_support.hpp"

using namespace pigeon;
using namespace pigeon::dkim;
using namespace pigeon::dkim::test;

namespace {

constexpr std::int64_t now = 1700000000;
const std::string domain = "example.org";

const GeneratedKey& rsa_key() {
    static GeneratedKey k = generate_key(KeyType::rsa, rng(), 1024).value();
    return k;
}

std::string sign_with(const std::string& message, const GeneratedKey& key, Algorithm a,
                      std::vector<std::string> headers = default_signed_headers(),
                      std::vector<std::string> oversign = default_oversigned_headers(),
                      Canon body_canon = Canon::relaxed) {
    SignOptions o;
    o.domain = domain;
    o.selector = "sel";
    o.private_key = key.private_key_pem;
    o.algorithm = a;
    o.headers = std::move(headers);
    o.oversign = std::move(oversign);
    o.body_canon = body_canon;
    o.now = now;
    auto s = sign(message, o, rng());
    BOOST_TEST_REQUIRE(s.ok(), (s.ok() ? "" : s.error().message));
    return s.value();
}

dns::AnswerCache key_cache(const std::string& record) {
    dns::AnswerCache cache;
    cache.put(key_question("sel", domain), txt_answer("sel._domainkey." + domain, {record}));
    return cache;
}

DkimVerification verify_options(const std::string& message, const dns::AnswerCache& cache, VerifyOptions options) {
    options.now = now;
    DkimEvaluation evaluation(message, options);
    auto step = evaluation.run(cache);
    BOOST_TEST_REQUIRE(std::holds_alternative<DkimVerification>(step));
    return std::get<DkimVerification>(step);
}

const std::string small_message = "From: a@example.org\r\nSubject: hi\r\n\r\nHello.\r\n";

// A body of about `size` octets: lines of text, blank lines and trailing white space.
std::string big_body(std::size_t size) {
    std::string b;
    while (b.size() < size) b += "Some text with  trailing space \t\r\n\r\n";
    return b;
}

// A DER SubjectPublicKeyInfo for an RSA "key" with a modulus of `bits` bits and exponent `e`:
// not a real key pair, which is the point (a hostile publisher needs none).
std::string spki_record(std::size_t bits, const Botan::BigInt& e) {
    Botan::BigInt n = Botan::BigInt::power_of_2(bits - 1) + 1;
    Botan::RSA_PublicKey key(n, e);
    auto der = key.subject_public_key();
    return "v=DKIM1; k=rsa; p=" + base64_encode(std::string(der.begin(), der.end()));
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dkim_limits)

// The review's h= bomb: one signature naming 150,000 fields in about 1 MB of header.
BOOST_AUTO_TEST_CASE(h_bomb_of_150000_names_is_permerror_quickly) {
    std::string h = "from";
    for (int i = 0; i < 150000; ++i) h += ":x-a";
    const std::string field = "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=sel; c=relaxed/relaxed;\r\n"
                              "\th=" + h + ";\r\n\tbh=AAAA; b=AAAA\r\n";
    std::string message = field;
    for (int i = 0; i < 900; ++i) message += "X-A: filler\r\n";
    message += small_message;
    const auto start = std::chrono::steady_clock::now();
    auto v = verify_options(message, key_cache(rsa_key().dns_record), {});
    BOOST_TEST(seconds_since(start) < 5.0);  // was minutes (quadratic) in a debug build
    BOOST_TEST_REQUIRE(v.signatures.size() == 1u);
    BOOST_TEST(v.signatures[0].status == Status::permerror);
    BOOST_TEST(v.signatures[0].reason.find("longer than 65536") != std::string::npos, v.signatures[0].reason);
    // A field this size is not read further, not even for d= and s=.
    BOOST_TEST(v.signatures[0].domain.empty());
}

BOOST_AUTO_TEST_CASE(signature_field_size_cap_is_inclusive) {
    const std::string head = "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=AAAA; b=AAAA; z=";
    std::string at_cap = head + std::string(max_signature_octets - head.size(), 'z');
    BOOST_TEST(at_cap.size() == max_signature_octets);
    auto ok = parse_signature(at_cap);
    BOOST_TEST(ok.ok(), (ok.ok() ? "" : ok.error().message));  // z= is ignored
    auto over = parse_signature(at_cap + "z");
    BOOST_TEST_REQUIRE(!over.ok());
    BOOST_TEST(over.error().message == "DKIM-Signature of 65537 octets is longer than 65536");
}

// 512 names pass (over a 1000-field header: selection at its largest), 513 are refused.
BOOST_AUTO_TEST_CASE(h_cap_at_512_names) {
    std::string message = "From: a@example.org\r\n";
    for (int i = 0; i < 511; ++i) message += "X-A: " + std::to_string(i) + "\r\n";
    for (int i = 0; i < 480; ++i) message += "Received: by hop " + std::to_string(i) + "\r\n";
    message += "\r\nbody\r\n";
    const std::string at_cap = sign_with(message, ed25519_key(), Algorithm::ed25519_sha256, {"from", "x-a"}, {});
    BOOST_TEST(std::count(at_cap.begin(), at_cap.end(), ':') == 512);  // the field's own colon + 511 separators
    auto v = verify_options(at_cap + message, key_cache(ed25519_key().dns_record), {});
    BOOST_TEST_REQUIRE(v.signatures.size() == 1u);
    BOOST_TEST(v.signatures[0].status == Status::pass, v.signatures[0].reason);

    const std::string over = sign_with(message, ed25519_key(), Algorithm::ed25519_sha256, {"from", "x-a"}, {"x-a"});
    auto refused = verify_options(over + message, key_cache(ed25519_key().dns_record), {});
    BOOST_TEST_REQUIRE(refused.signatures.size() == 1u);
    BOOST_TEST(refused.signatures[0].status == Status::permerror);
    BOOST_TEST(refused.signatures[0].reason == "h= names 513 header fields, more than 512");
    BOOST_TEST(refused.signatures[0].domain == domain);  // still named for Authentication-Results
}

BOOST_AUTO_TEST_CASE(rsa_modulus_cap) {
    // 8192 bits is accepted; just over it is refused after a DER decode; far over it (the
    // review's 16384 bits) is refused on the length of p= alone.
    auto at_cap = crypto::load_public_key(KeyType::rsa, base64_decode(spki_record(8192, 65537).substr(18)).value());
    BOOST_TEST(at_cap.key != nullptr, at_cap.error);
    BOOST_TEST(at_cap.bits == 8192u);
    auto just_over = crypto::load_public_key(KeyType::rsa, base64_decode(spki_record(8200, 65537).substr(18)).value());
    BOOST_TEST(just_over.key == nullptr);
    BOOST_TEST(just_over.error == "RSA key of 8200 bits is longer than the maximum of 8192");
    auto huge = crypto::load_public_key(KeyType::rsa, base64_decode(spki_record(16384, 65537).substr(18)).value());
    BOOST_TEST(huge.key == nullptr);
    BOOST_TEST(huge.error.find("longer than a key of at most 8192 bits") != std::string::npos, huge.error);
}

BOOST_AUTO_TEST_CASE(rsa_exponent_must_be_small_and_standard) {
    for (std::uint64_t e : {3u, 5u, 17u, 257u, 65537u}) {
        auto k = crypto::load_public_key(KeyType::rsa, base64_decode(spki_record(2048, e).substr(18)).value());
        BOOST_TEST(k.key != nullptr, e << ": " << k.error);
    }
    auto seven = crypto::load_public_key(KeyType::rsa, base64_decode(spki_record(2048, 7).substr(18)).value());
    BOOST_TEST(seven.error == "RSA public exponent 7 is not one of 3, 5, 17, 257, 65537");
    auto near = crypto::load_public_key(KeyType::rsa, base64_decode(spki_record(2048, 65539).substr(18)).value());
    BOOST_TEST(near.key == nullptr);
    Botan::BigInt big = Botan::BigInt::power_of_2(2046) + 1;
    auto large = crypto::load_public_key(KeyType::rsa, base64_decode(spki_record(2048, big).substr(18)).value());
    BOOST_TEST(large.error == "RSA public exponent of 2047 bits is not one of 3, 5, 17, 257, 65537");
}

// Through the verifier: permerror with the reason, fast, and nothing cached for the refused key.
BOOST_AUTO_TEST_CASE(huge_keys_are_permerror_and_not_cached) {
    const std::string message = sign_with(small_message, rsa_key(), Algorithm::rsa_sha256) + small_message;
    crypto::clear_public_key_cache();
    Botan::BigInt big = Botan::BigInt::power_of_2(4094) + 1;
    for (const std::string& record : {spki_record(16384, 65537), spki_record(4096, big)}) {
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < 10; ++i) {
            auto v = verify_options(message, key_cache(record), {});
            BOOST_TEST_REQUIRE(v.signatures.size() == 1u);
            BOOST_TEST(v.signatures[0].status == Status::permerror);
            const std::string& why = v.signatures[0].reason;
            BOOST_TEST((why.find("at most 8192 bits") != std::string::npos ||
                        why.find("not one of 3, 5, 17, 257, 65537") != std::string::npos),
                       why);
        }
        BOOST_TEST(seconds_since(start) < 5.0);
        BOOST_TEST(crypto::public_key_cache_size() == 0u);
    }
}

BOOST_AUTO_TEST_CASE(budget_exhausted_before_any_work_is_temperror_for_all) {
    const std::string s = sign_with(small_message, ed25519_key(), Algorithm::ed25519_sha256);
    const std::string message = s + s + "DKIM-Signature: garbage\r\n" + small_message;
    VerifyOptions o;
    int polls = 0;
    o.over_budget = [&] {
        ++polls;
        return true;
    };
    auto v = verify_options(message, key_cache(ed25519_key().dns_record), o);
    BOOST_TEST_REQUIRE(v.signatures.size() == 3u);
    for (const auto& r : v.signatures) {
        BOOST_TEST(r.status == Status::temperror);
        BOOST_TEST(r.reason == budget_exhausted_reason);
        BOOST_TEST(r.key_bits == 0u);  // no key was even loaded
    }
    BOOST_TEST(v.signatures[0].domain == domain);
    BOOST_TEST(polls == 1);  // latched: asked once
}

// Exhausted while hashing a large body: that signature and the next are temperror, and the
// callback is not asked again.
BOOST_AUTO_TEST_CASE(budget_exhausted_during_body_hashing) {
    const std::string message = small_message + big_body(1024 * 1024);
    const std::string s = sign_with(message, ed25519_key(), Algorithm::ed25519_sha256);
    const std::string s2 = sign_with(message, ed25519_key(), Algorithm::ed25519_sha256, default_signed_headers(),
                                     default_oversigned_headers(), Canon::simple);
    VerifyOptions o;
    int polls = 0;
    o.over_budget = [&] { return ++polls > 5; };  // the signature, the key, three chunks
    auto v = verify_options(s + s2 + message, key_cache(ed25519_key().dns_record), o);
    BOOST_TEST_REQUIRE(v.signatures.size() == 2u);
    BOOST_TEST(v.signatures[0].status == Status::temperror);
    BOOST_TEST(v.signatures[0].reason == budget_exhausted_reason);
    BOOST_TEST(v.signatures[1].status == Status::temperror);
    BOOST_TEST(polls == 6);

    // Unlimited, and a budget never spent: both pass.
    for (bool with_callback : {false, true}) {
        VerifyOptions unlimited;
        if (with_callback) unlimited.over_budget = [] { return false; };
        auto ok = verify_options(s + s2 + message, key_cache(ed25519_key().dns_record), unlimited);
        BOOST_TEST_REQUIRE(ok.signatures.size() == 2u);
        BOOST_TEST(ok.signatures[0].status == Status::pass, ok.signatures[0].reason);
        BOOST_TEST(ok.signatures[1].status == Status::pass, ok.signatures[1].reason);
    }
}

// Signatures sharing (body canonicalization, hash, l=) hash the body once: the second costs
// no chunk polls. rsa-sha256 and ed25519-sha256 share SHA-256.
BOOST_AUTO_TEST_CASE(body_hash_is_shared_between_signatures) {
    const std::string message = small_message + big_body(1024 * 1024);
    const std::size_t chunks = (message.size() + body_hash_chunk - 1) / body_hash_chunk;
    const std::string ed = sign_with(message, ed25519_key(), Algorithm::ed25519_sha256);
    const std::string rsa = sign_with(message, rsa_key(), Algorithm::rsa_sha256);
    // Both keys at one selector: each signature uses the record of its key type (3.6.2.2).
    dns::Answer both = txt_answer("sel._domainkey." + domain, {ed25519_key().dns_record});
    both.records.push_back(txt_answer("sel._domainkey." + domain, {rsa_key().dns_record}).records.at(0));
    dns::AnswerCache cache;
    cache.put(key_question("sel", domain), both);
    auto count_polls = [&](const std::string& m, std::size_t expect_signatures) {
        VerifyOptions o;
        int polls = 0;
        o.over_budget = [&] {
            ++polls;
            return false;
        };
        auto v = verify_options(m, cache, o);
        BOOST_TEST_REQUIRE(v.signatures.size() == expect_signatures);
        return polls;
    };
    const int one = count_polls(ed + message, 1);
    BOOST_TEST(one >= static_cast<int>(chunks));
    const int two_same = count_polls(ed + ed + message, 2);
    BOOST_TEST(two_same - one == 3);  // the signature, the key, the verification; no chunks
    BOOST_TEST(count_polls(ed + rsa + message, 2) - one == 3);  // SHA-256 for both
    // A different body canonicalization hashes again.
    const std::string simple = sign_with(message, ed25519_key(), Algorithm::ed25519_sha256, default_signed_headers(),
                                         default_oversigned_headers(), Canon::simple);
    BOOST_TEST(count_polls(simple + ed + message, 2) - one >= static_cast<int>(chunks));
}

BOOST_AUTO_TEST_CASE(streaming_canonicalizer_edge_cases) {
    auto whole = [](std::string_view body, Canon c) {
        std::string out;
        BodyCanonicalizer k(c, [&](std::string_view p) { out += p; });
        for (char ch : body) k.put(std::string_view(&ch, 1));  // one octet at a time
        k.finish();
        return out;
    };
    for (Canon c : {Canon::simple, Canon::relaxed})
        for (std::string_view body : {"", "\r", "x\r", "\r\r\n", "a \rb\r\n", " \t\r\n\r\n", "x", "\n\n\nx \n\n"})
            BOOST_TEST(whole(body, c) == canonicalize_body(body, c), canon_name(c) << " [" << body << "]");
    // A million empty lines then text: the sink never gets more than sink_chunk at once.
    std::string many(1000000, '\n');
    many += "end\n";
    std::size_t largest = 0, total = 0;
    BodyCanonicalizer k(Canon::simple, [&](std::string_view p) {
        largest = std::max(largest, p.size());
        total += p.size();
    });
    k.put(many);
    k.finish();
    BOOST_TEST(largest <= BodyCanonicalizer::sink_chunk);
    BOOST_TEST(total == 2000000u + 5u);
}

BOOST_AUTO_TEST_SUITE_END()
