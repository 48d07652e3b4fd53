// Unit tests for the reuse of parsed keys, verifiers and signers (auth/dkim/crypto.hpp): the
// same verdicts with and without the caches, a changed key record never answered from the
// cache, signing from several threads, and the RNG drawn from exactly as without reuse.
#include <boost/test/unit_test.hpp>
#include <botan/auto_rng.h>
#include <botan/pk_keys.h>

#include <atomic>
#include <thread>

#include "auth/dkim/crypto.hpp"
#include "auth/dkim/dkim.hpp"
#include "auth/dkim/dkim_support.hpp"

using namespace pigeon;
using namespace pigeon::dkim;
using namespace pigeon::dkim::test;

namespace {

constexpr std::int64_t now = 1700000000;

std::string message_number(std::size_t i) {
    return "From: Sender <sender@cache.test>\r\n"
           "To: <rcpt@example.org>\r\n"
           "Subject: message " + std::to_string(i) + "\r\n"
           "\r\n"
           "Body of message " + std::to_string(i) + ",  with   spaces.\r\n\r\n";
}

struct Signer {
    std::string pem;  // private key text
    std::string record;  // DNS TXT
    std::shared_ptr<const Botan::Private_Key> key;
    Algorithm algorithm;
};

Signer make_signer(KeyType type, std::size_t bits = 1024) {
    auto g = generate_key(type, rng(), bits);
    BOOST_REQUIRE(g.ok());
    auto k = load_private_key(g.value().private_key_pem, rng());
    BOOST_REQUIRE(k.ok());
    return Signer{g.value().private_key_pem, g.value().dns_record, k.value(),
                  type == KeyType::rsa ? Algorithm::rsa_sha256 : Algorithm::ed25519_sha256};
}

// The signed message; by the key object (signers reused) or by its text (a fresh signer).
// Empty on failure. No Boost.Test assertion here: called from several threads.
std::string sign_raw(const Signer& s, const std::string& selector, const std::string& message,
                     Botan::RandomNumberGenerator& r, bool by_object = true) {
    SignOptions o;
    o.domain = "cache.test";
    o.selector = selector;
    if (by_object)
        o.key = s.key;
    else
        o.private_key = s.pem;
    o.algorithm = s.algorithm;
    o.now = now;
    auto field = sign(message, o, r);
    return field.ok() ? field.value() + message : std::string();
}

std::string sign_with(const Signer& s, const std::string& selector, const std::string& message,
                      Botan::RandomNumberGenerator& r, bool by_object = true) {
    std::string signed_message = sign_raw(s, selector, message, r, by_object);
    BOOST_REQUIRE(!signed_message.empty());
    return signed_message;
}

// Status of the only signature, from any thread.
Status status_of(const std::string& message, const dns::AnswerCache& cache) {
    DkimVerification v = verify_with(message, cache, now + 1);
    return v.signatures.size() == 1 ? v.signatures[0].status : Status::neutral;
}

dns::AnswerCache zone(const std::string& selector, const std::string& record) {
    dns::AnswerCache cache;
    const std::string name = selector + "._domainkey.cache.test";
    cache.put(key_question(selector, "cache.test"), txt_answer(name, {record}));
    return cache;
}

SignatureResult verify_one(const std::string& message, const dns::AnswerCache& cache) {
    DkimVerification v = verify_with(message, cache, now + 1);
    BOOST_REQUIRE_EQUAL(v.signatures.size(), 1u);
    return v.signatures[0];
}

void check_same(const SignatureResult& a, const SignatureResult& b) {
    BOOST_CHECK_EQUAL(a.status, b.status);
    BOOST_CHECK_EQUAL(a.reason, b.reason);
    BOOST_CHECK_EQUAL(a.key_bits, b.key_bits);
    BOOST_CHECK_EQUAL(a.b_prefix, b.b_prefix);
}

// A deterministic RNG (xorshift) that counts what was drawn, like the simulator's.
class CountingRng final : public Botan::RandomNumberGenerator {
public:
    void randomize(std::uint8_t out[], std::size_t n) override {
        for (std::size_t i = 0; i < n; ++i) {
            state_ ^= state_ << 13;
            state_ ^= state_ >> 7;
            state_ ^= state_ << 17;
            out[i] = static_cast<std::uint8_t>(state_);
        }
        drawn += n;
    }
    bool accepts_input() const override { return false; }
    void add_entropy(const std::uint8_t[], std::size_t) override {}
    std::string name() const override { return "counting"; }
    void clear() override {}
    bool is_seeded() const override { return true; }
    std::uint64_t next() {
        std::uint8_t b[8];
        randomize(b, 8);
        std::uint64_t v = 0;
        for (auto x : b) v = (v << 8) | x;
        return v;
    }
    std::size_t drawn = 0;

private:
    std::uint64_t state_ = 0x9E3779B97F4A7C15ull;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(dkim_cache)

BOOST_AUTO_TEST_CASE(many_keys_give_the_same_verdicts_cached_and_not) {
    // More keys than the cache holds, so entries are dropped and parsed again on the way.
    std::vector<Signer> signers;
    for (int i = 0; i < 2; ++i) signers.push_back(make_signer(KeyType::rsa));
    for (std::size_t i = 0; i < crypto::public_key_cache_capacity + 20; ++i) signers.push_back(make_signer(KeyType::ed25519));
    std::vector<std::string> messages;
    for (std::size_t i = 0; i < signers.size(); ++i) {
        std::string m = sign_with(signers[i], "s", message_number(i), rng());
        if (i % 5 == 0) m.replace(m.find("Body of message"), 4, "BODY");  // body hash fails
        if (i % 7 == 0) m.replace(m.find("To: <"), 5, "To:  \t <");  // relaxed: still passes
        if (i % 11 == 0) m.replace(m.find("Subject: message"), 16, "Subject: massage");  // signature fails
        messages.push_back(std::move(m));
    }
    std::vector<SignatureResult> cold;
    for (std::size_t i = 0; i < signers.size(); ++i) {
        crypto::clear_public_key_cache();
        cold.push_back(verify_one(messages[i], zone("s", signers[i].record)));
        const Status expected = i % 5 == 0 || i % 11 == 0 ? Status::fail : Status::pass;
        BOOST_CHECK_EQUAL(cold.back().status, expected);
    }
    // Warm, in two orders, twice each: the same results every time.
    for (int round = 0; round < 2; ++round) {
        for (std::size_t i = 0; i < signers.size(); ++i)
            check_same(verify_one(messages[i], zone("s", signers[i].record)), cold[i]);
        for (std::size_t i = signers.size(); i-- > 0;)
            check_same(verify_one(messages[i], zone("s", signers[i].record)), cold[i]);
        BOOST_CHECK_LE(crypto::public_key_cache_size(), crypto::public_key_cache_capacity);
        BOOST_CHECK_GT(crypto::public_key_cache_size(), 0u);
    }
}

BOOST_AUTO_TEST_CASE(a_changed_key_record_is_not_answered_from_the_cache) {
    for (KeyType type : {KeyType::rsa, KeyType::ed25519}) {
        const Signer a = make_signer(type), b = make_signer(type);
        const std::string by_a = sign_with(a, "sel", message_number(1), rng());
        const std::string by_b = sign_with(b, "sel", message_number(1), rng());
        for (int round = 0; round < 3; ++round) {  // each record seen (and cached) before
            BOOST_CHECK_EQUAL(verify_one(by_a, zone("sel", a.record)).status, Status::pass);
            auto r = verify_one(by_a, zone("sel", b.record));  // the selector now publishes b
            BOOST_CHECK_EQUAL(r.status, Status::fail);
            BOOST_CHECK_EQUAL(r.reason, "signature did not verify");
            BOOST_CHECK_EQUAL(verify_one(by_b, zone("sel", b.record)).status, Status::pass);
            BOOST_CHECK_EQUAL(verify_one(by_b, zone("sel", a.record)).status, Status::fail);
        }
        // A record one octet away from a cached one: parsed afresh, and its error is the same
        // with a warm cache as with an empty one.
        std::string p = a.record.substr(a.record.find("p=") + 2);
        auto octets = base64_decode(p);
        BOOST_REQUIRE(octets);
        std::string truncated = octets->substr(0, octets->size() - 1);
        const std::string bad = "v=DKIM1; k=" + std::string(type == KeyType::rsa ? "rsa" : "ed25519") +
                                "; p=" + base64_encode(truncated);
        auto warm = verify_one(by_a, zone("sel", bad));
        crypto::clear_public_key_cache();
        auto cold = verify_one(by_a, zone("sel", bad));
        BOOST_CHECK_EQUAL(warm.status, Status::permerror);
        check_same(warm, cold);
        auto again = verify_one(by_a, zone("sel", bad));
        check_same(again, cold);
        BOOST_CHECK_EQUAL(verify_one(by_a, zone("sel", a.record)).status, Status::pass);
    }
}

BOOST_AUTO_TEST_CASE(cached_key_matches_a_fresh_parse) {
    const Signer rsa = make_signer(KeyType::rsa);
    auto p = base64_decode(rsa.record.substr(rsa.record.find("p=") + 2));
    BOOST_REQUIRE(p);
    auto fresh = crypto::load_public_key(KeyType::rsa, *p);
    auto first = crypto::cached_public_key(KeyType::rsa, *p);
    auto second = crypto::cached_public_key(KeyType::rsa, *p);
    BOOST_REQUIRE(fresh.key && first.key && second.key);
    BOOST_CHECK(first.key == second.key);  // the same object, from the cache
    BOOST_CHECK_EQUAL(first.bits, fresh.bits);
    BOOST_CHECK(first.key->public_key_bits() == fresh.key->public_key_bits());
    // The same octets as the other key type are a different entry (and an error here).
    auto as_ed = crypto::cached_public_key(KeyType::ed25519, *p);
    BOOST_CHECK(!as_ed.key);
    BOOST_CHECK_EQUAL(as_ed.error, crypto::load_public_key(KeyType::ed25519, *p).error);
}

BOOST_AUTO_TEST_CASE(concurrent_signing_from_four_threads_gives_valid_signatures) {
    const Signer rsa = make_signer(KeyType::rsa), ed = make_signer(KeyType::ed25519);
    constexpr std::size_t threads = 4, per_thread = 40;
    // Reference: signed one at a time by a fresh signer. PKCS#1 v1.5 and Ed25519 are
    // deterministic, so reused signers must give the very same fields.
    std::vector<std::string> expected_rsa, expected_ed;
    for (std::size_t i = 0; i < threads * per_thread; ++i) {
        expected_rsa.push_back(sign_with(rsa, "r", message_number(i), rng(), false));
        expected_ed.push_back(sign_with(ed, "e", message_number(i), rng(), false));
    }
    std::vector<std::string> got_rsa(threads * per_thread), got_ed(threads * per_thread);
    auto work = [&](std::size_t t) {
        Botan::AutoSeeded_RNG own;  // each thread its own RNG, gone when the thread ends
        for (std::size_t k = 0; k < per_thread; ++k) {
            std::size_t i = t * per_thread + k;
            got_rsa[i] = sign_raw(rsa, "r", message_number(i), own);
            got_ed[i] = sign_raw(ed, "e", message_number(i), own);
        }
    };
    for (int round = 0; round < 2; ++round) {  // the second round reuses signers built in the first
        std::vector<std::thread> pool;
        for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(work, t);
        for (auto& th : pool) th.join();
        for (std::size_t i = 0; i < threads * per_thread; ++i) {
            BOOST_CHECK(got_rsa[i] == expected_rsa[i]);
            BOOST_CHECK(got_ed[i] == expected_ed[i]);
        }
    }
    // Every one verifies (a sample, verified from four threads at once).
    std::atomic<std::size_t> passed{0};
    std::vector<std::thread> verifiers;
    for (std::size_t t = 0; t < threads; ++t)
        verifiers.emplace_back([&, t] {
            for (std::size_t i = t; i < threads * per_thread; i += 8) {
                if (status_of(got_rsa[i], zone("r", rsa.record)) == Status::pass) ++passed;
                if (status_of(got_ed[i], zone("e", ed.record)) == Status::pass) ++passed;
            }
        });
    for (auto& th : verifiers) th.join();
    BOOST_CHECK_EQUAL(passed.load(), 2 * threads * (threads * per_thread / 8));  // 4 of every 8, both keys
    BOOST_CHECK_GE(crypto::signer_cache_size(), 2u);
    BOOST_CHECK_LE(crypto::signer_cache_size(), crypto::signer_cache_keys);
}

BOOST_AUTO_TEST_CASE(reused_signers_draw_from_the_rng_as_fresh_ones_do) {
    // The simulator's traces depend on its RNG stream: a reused signer must take from the
    // caller's RNG exactly what a fresh one would, across a blinding re-initialization (Botan
    // re-blinds every 64 signatures).
    for (KeyType type : {KeyType::rsa, KeyType::ed25519}) {
        const Signer s = make_signer(type);
        CountingRng reused, fresh;
        for (std::size_t i = 0; i < 140; ++i) {
            const std::size_t before_reused = reused.drawn, before_fresh = fresh.drawn;
            std::string a = sign_with(s, "x", message_number(i), reused, true);
            std::string b = sign_with(s, "x", message_number(i), fresh, false);
            BOOST_CHECK(a == b);
            BOOST_CHECK_EQUAL(reused.drawn - before_reused, fresh.drawn - before_fresh);
        }
        BOOST_CHECK_EQUAL(reused.next(), fresh.next());
        if (type == KeyType::rsa) BOOST_CHECK_GT(fresh.drawn, 0u);  // RSA blinding draws
    }
}

BOOST_AUTO_TEST_CASE(a_freed_key_is_not_confused_with_a_new_one) {
    // Keys made and dropped one after another may reuse an address: each signature must
    // still verify with its own key.
    for (int i = 0; i < 6; ++i) {
        Signer s = make_signer(i % 2 == 0 ? KeyType::ed25519 : KeyType::rsa);
        std::string m = sign_with(s, "f", message_number(i), rng());
        BOOST_CHECK_EQUAL(verify_one(m, zone("f", s.record)).status, Status::pass);
    }
    BOOST_CHECK_LE(crypto::signer_cache_size(), crypto::signer_cache_keys);
}

BOOST_AUTO_TEST_SUITE_END()
