// pigeon/bench/dkim_bench.cpp: DKIM signing and verification speed against Botan's raw
// signature speed for the same key.
//
// Contract: for rsa-2048 (rsa-sha256) and ed25519 (ed25519-sha256) it times
//   - dkim::sign of a typical message (headers + about 2 KB of body, relaxed/relaxed);
//   - dkim::DkimEvaluation::run of the signed message with the key record already in the
//     answer cache (so no DNS: canonicalisation, two hashes and one signature check);
//   - Botan's PK_Signer / PK_Verifier with the padding DKIM uses ("EMSA3(SHA-256)" for RSA,
//     "Pure" over a 32-octet SHA-256 digest for Ed25519, as RFC 8463 3 does), on a 32-octet
//     input: the raw cost of one signature.
// and prints one CSV line per (key, operation): key,op,dkim_per_s,raw_per_s,raw_fresh_per_s,ratio
// where raw_per_s reuses one PK_Signer/PK_Verifier, raw_fresh_per_s constructs one per
// operation (as a per-message caller does), and ratio is dkim time / raw (reused) time
// (1.0 = DKIM adds nothing to the signature itself). Every DKIM
// verification must pass, or the program exits 1. `--seconds S` sets the time per measurement
// (default 1.0). Reads no file and no network.
#include <botan/auto_rng.h>
#include <botan/hash.h>
#include <botan/pk_keys.h>
#include <botan/pubkey.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "auth/dkim/dkim.hpp"

using namespace pigeon;

namespace {

using Clock = std::chrono::steady_clock;

// Runs f repeatedly for about `seconds` (after one warm-up call); returns calls per second.
double rate(double seconds, const std::function<void()>& f) {
    f();
    std::size_t n = 0;
    auto start = Clock::now();
    auto deadline = start + std::chrono::duration<double>(seconds);
    auto now = start;
    do {
        for (int i = 0; i < 4; ++i) f();
        n += 4;
        now = Clock::now();
    } while (now < deadline);
    return static_cast<double>(n) / std::chrono::duration<double>(now - start).count();
}

std::string typical_message() {
    std::string m =
        "From: Alice Example <alice@bench.test>\r\n"
        "To: Bob Example <bob@example.org>\r\n"
        "Subject: Quarterly figures, second draft\r\n"
        "Date: Sat, 22 Nov 2025 07:00:00 +0000\r\n"
        "Message-ID: <20251122070000.12345@bench.test>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n";
    for (int i = 0; i < 30; ++i)
        m += "Line " + std::to_string(i) + " of a typical body: some words   with  spaces, and more words.\r\n";
    return m;
}

[[noreturn]] void die(const std::string& why) {
    std::fprintf(stderr, "dkim_bench: %s\n", why.c_str());
    std::exit(1);
}

void run_key(const char* label, dkim::KeyType type, dkim::Algorithm algorithm, double seconds,
             Botan::RandomNumberGenerator& rng) {
    auto generated = dkim::generate_key(type, rng, 2048);
    if (!generated.ok()) die("generate_key failed");
    auto loaded = dkim::load_private_key(generated.value().private_key_pem, rng);
    if (!loaded.ok()) die("load_private_key failed");
    std::shared_ptr<const Botan::Private_Key> key = loaded.value();

    const std::string message = typical_message();
    dkim::SignOptions options;
    options.domain = "bench.test";
    options.selector = "sel";
    options.key = key;
    options.algorithm = algorithm;
    options.now = 1763794800;

    auto first = dkim::sign(message, options, rng);
    if (!first.ok()) die(std::string(label) + ": sign failed: " + first.error().message);
    const std::string signed_message = first.value() + message;

    dns::AnswerCache cache;
    const std::string name = "sel._domainkey.bench.test";
    dns::Answer answer;
    answer.records.push_back(dns::Record{name, dns::RrType::txt, 300, dns::Txt{{generated.value().dns_record}}});
    answer.canonical_name = name;
    cache.put(dkim::key_question("sel", "bench.test"), answer);
    dkim::VerifyOptions verify_options;
    verify_options.now = options.now + 10;
    dkim::DkimEvaluation evaluation(signed_message, verify_options);
    auto check = [&] {
        auto step = evaluation.run(cache);
        const auto* v = std::get_if<dkim::DkimVerification>(&step);
        if (v == nullptr || v->signatures.size() != 1 || v->signatures[0].status != dkim::Status::pass)
            die(std::string(label) + ": DKIM verification did not pass");
    };
    check();

    // Raw Botan on a 32-octet input with DKIM's padding.
    const std::string padding = type == dkim::KeyType::rsa ? "EMSA3(SHA-256)" : "Pure";
    auto hash = Botan::HashFunction::create_or_throw("SHA-256");
    auto digest = hash->process(message);
    Botan::PK_Signer signer(*key, rng, padding);
    auto raw_signature = signer.sign_message(digest, rng);
    Botan::PK_Verifier verifier(*key, padding);  // a Botan 2 Private_Key is a Public_Key
    if (!verifier.verify_message(digest, raw_signature)) die(std::string(label) + ": raw verify failed");

    double dkim_sign = rate(seconds, [&] {
        auto s = dkim::sign(message, options, rng);
        if (!s.ok()) die("sign failed");
    });
    double raw_sign = rate(seconds, [&] { (void)signer.sign_message(digest, rng); });
    double fresh_sign = rate(seconds, [&] {
        Botan::PK_Signer s(*key, rng, padding);
        (void)s.sign_message(digest, rng);
    });
    double dkim_verify = rate(seconds, check);
    double raw_verify = rate(seconds, [&] {
        if (!verifier.verify_message(digest, raw_signature)) die("raw verify failed");
    });
    double fresh_verify = rate(seconds, [&] {
        Botan::PK_Verifier v(*key, padding);
        if (!v.verify_message(digest, raw_signature)) die("raw verify failed");
    });
    std::printf("%s,sign,%.1f,%.1f,%.1f,%.3f\n", label, dkim_sign, raw_sign, fresh_sign, raw_sign / dkim_sign);
    std::printf("%s,verify,%.1f,%.1f,%.1f,%.3f\n", label, dkim_verify, raw_verify, fresh_verify,
                raw_verify / dkim_verify);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 1.0;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = std::atof(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: %s [--seconds S]\n", argv[0]);
            return 64;
        }
    }
    if (!(seconds > 0)) seconds = 1.0;
    try {
        Botan::AutoSeeded_RNG rng;
        std::printf("key,op,dkim_per_s,raw_per_s,raw_fresh_per_s,ratio\n");
        run_key("rsa-2048", dkim::KeyType::rsa, dkim::Algorithm::rsa_sha256, seconds, rng);
        run_key("ed25519", dkim::KeyType::ed25519, dkim::Algorithm::ed25519_sha256, seconds, rng);
    } catch (const std::exception& e) {
        die(std::string("exception: ") + e.what());
    }
    return 0;
}
