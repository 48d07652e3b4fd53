// fuzz/dkim_verify.cpp: libFuzzer target for whole DKIM verification (auth/dkim/dkim.hpp) of
// arbitrary messages against a fixed key set, as the server runs it on port 25.
//
// The key set (an in-memory AnswerCache; every other question is NXDOMAIN):
//   brisbane._domainkey.football.example.com  ed25519 (RFC 8463 A.2)
//   test._domainkey.football.example.com      rsa-1024 (RFC 8463 A.2)
//   brisbane._domainkey.example.com           rsa-1024 (RFC 6376 Appendix C)
//   rsa2048._domainkey.example.com            rsa-2048
//   revoked._domainkey.example.com            p= empty
//   malformed._domainkey.example.com          p= that is not a key
//   huge._domainkey.example.com               a 16384-bit modulus (over crypto::max_rsa_bits)
//   bigexp._domainkey.example.com             a 4096-bit modulus with a 4095-bit exponent
//   fail._domainkey.example.com               SERVFAIL
// Seeds (fuzz/corpus/dkim_verify/) are messages the keys really sign, so mutations reach the
// body hash and the public-key code.
//
// Checked on every input:
//   - nothing crashes, throws or hangs; the evaluation asks only for key questions and, once
//     answered, returns a result whose signatures are at most max_signatures;
//   - every non-pass signature has a reason, every pass none;
//   - verify() is a function of the message and the cache (run twice, same statuses);
//   - with a budget spent after N polls (N: the input's first octet), signatures finished
//     before it ran out have their unlimited verdict, every later one is temperror for the
//     budget, and the callback is not asked again after it said true.
#include <botan/bigint.h>
#include <botan/rsa.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/dkim/dkim.hpp"

namespace {

using namespace pigeon;
using namespace pigeon::dkim;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

const char* const rsa2048 =
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA58QH/I6dV3OLfQiQuS5/iyNfiPN/5WeY7+BsdKpbXtq5RL/N4Wxu7H3BQej77GW47Hl"
    "SNrCXTJD7p1c4sx0zF5fQElVF9XHyfS8IkD98tvWEQWC9HA4M4PSlIGuMQInSOOhZ//08bBat4h13ylKeyCMV8PzPdrjQdgb8+GPU/fsnVXgVg5"
    "TjDVuxQ9istn39kIClb0E/Pt4lPmFnuDJblpQwhexkqkrmhnbaNf4BsmjujiMvWzfV1lqaIb/RKs9201GW8WbtCZTKwS4mBGL+MUxQY4AjypyioxL"
    "zSP21JSZJ+lxlNJB9bfBo9eZm4/4rcpkELg8YkL5F8ApjwkaytQIDAQAB";

// An RSA SubjectPublicKeyInfo record for a modulus of `bits` bits and exponent `e` (no key pair
// behind it: what a hostile publisher would put in DNS).
std::string fake_rsa_record(std::size_t bits, const Botan::BigInt& e) {
    Botan::RSA_PublicKey key(Botan::BigInt::power_of_2(bits - 1) + 1, e);
    auto der = key.subject_public_key();
    return "v=DKIM1; k=rsa; p=" + base64_encode(std::string(der.begin(), der.end()));
}

void add(dns::AnswerCache& cache, const std::string& name, const std::string& text) {
    dns::Answer a;
    a.canonical_name = name;
    a.records.push_back(dns::Record{name, dns::RrType::txt, 300, dns::Txt{{text}}});
    cache.put(dns::make_question(name, dns::RrType::txt), std::move(a));
}

const dns::AnswerCache& keys() {
    static const dns::AnswerCache cache = [] {
        dns::AnswerCache c;
        add(c, "brisbane._domainkey.football.example.com",
            "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
        add(c, "test._domainkey.football.example.com",
            "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/"
            "J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+"
            "2kryOTIKT+l/K4w3QIDAQAB");
        add(c, "brisbane._domainkey.example.com",
            "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4"
            "jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ"
            "2QIDAQAB");
        add(c, "rsa2048._domainkey.example.com", std::string("v=DKIM1; k=rsa; p=") + rsa2048);
        add(c, "revoked._domainkey.example.com", "v=DKIM1; p=");
        add(c, "malformed._domainkey.example.com", "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQ==");
        add(c, "huge._domainkey.example.com", fake_rsa_record(16384, 65537));
        add(c, "bigexp._domainkey.example.com", fake_rsa_record(4096, Botan::BigInt::power_of_2(4094) + 1));
        dns::Answer servfail;
        servfail.rcode = dns::Rcode::servfail;
        c.put(dns::make_question("fail._domainkey.example.com", dns::RrType::txt), servfail);
        return c;
    }();
    return cache;
}

// The evaluation run to its end over the key set: unknown names are NXDOMAIN.
DkimVerification run(const std::string& message, const VerifyOptions& options) {
    DkimEvaluation evaluation(message, options);
    dns::AnswerCache cache = keys();
    for (std::size_t round = 0;; ++round) {
        check(round <= options.max_signatures);  // one question per signature at most
        auto step = evaluation.run(cache);
        if (auto* done = std::get_if<DkimVerification>(&step)) return std::move(*done);
        const dns::Question q = std::get<dns::Question>(step);
        check(q.type == dns::RrType::txt && q.name.find("._domainkey.") != std::string::npos);
        check(cache.find(q) == nullptr);
        dns::Answer nx;
        nx.rcode = dns::Rcode::nxdomain;
        cache.put(q, nx);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t budget_polls = data[0];  // the first octet: polls before the budget is spent
    const std::string message(reinterpret_cast<const char*>(data) + 1, size - 1);
    VerifyOptions options;
    options.now = 1528637909;  // RFC 8463's example time: its signatures are neither old nor new

    const DkimVerification v = run(message, options);
    check(v.signatures.size() <= options.max_signatures);
    if (!v.problem.empty()) check(v.signatures.empty() || v.problem.rfind("internal error", 0) == 0);
    for (const SignatureResult& s : v.signatures) check((s.status == Status::pass) == s.reason.empty());
    const DkimVerification again = run(message, options);
    check(again.signatures.size() == v.signatures.size());
    for (std::size_t i = 0; i < v.signatures.size(); ++i) check(again.signatures[i].status == v.signatures[i].status);

    std::size_t polls = 0;
    bool said_true = false;
    options.over_budget = [&] {
        check(!said_true);  // latched: never asked again
        said_true = ++polls > budget_polls;
        return said_true;
    };
    const DkimVerification limited = run(message, options);
    check(limited.signatures.size() == v.signatures.size());
    bool exhausted = false;
    for (std::size_t i = 0; i < limited.signatures.size(); ++i) {
        const SignatureResult& s = limited.signatures[i];
        if (exhausted)
            check(s.status == Status::temperror && s.reason == budget_exhausted_reason);
        else if (s.reason == budget_exhausted_reason)
            exhausted = true;
        else
            check(s.status == v.signatures[i].status);  // finished within the budget: same verdict
    }
    check(exhausted == said_true || limited.signatures.empty());
    return 0;
}
