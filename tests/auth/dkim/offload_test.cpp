// check_dkim_async's offload contract: every key question first, then all the verification
// work in exactly one task handed to the offload, with `done` called once from inside it.
#include <boost/test/unit_test.hpp>
#include <botan/auto_rng.h>

#include <deque>
#include <memory>

#include "auth/dkim/dkim.hpp"
#include "auth/dkim/dkim_support.hpp"
#include "dns/zone_resolver.hpp"

using namespace pigeon;
using namespace pigeon::dkim;
using namespace pigeon::dkim::test;

namespace {

constexpr std::int64_t now = 1700000000;
const std::string message_text = "From: a@example.org\r\nSubject: hi\r\n\r\nHello.\r\n";

std::string signed_by(const std::string& selector) {
    SignOptions o;
    o.domain = "example.org";
    o.selector = selector;
    o.private_key = ed25519_key().private_key_pem;
    o.algorithm = Algorithm::ed25519_sha256;
    o.now = now;
    return sign(message_text, o, rng()).value();
}

// A resolver that keeps the questions and answers them when told, as libunbound does later.
class LaterResolver : public dns::Resolver {
public:
    void resolve(const dns::Question& q, std::function<void(dns::Answer)> done) override {
        pending.emplace_back(q, std::move(done));
    }
    void answer_all(dns::ZoneResolver& zone) {
        while (!pending.empty()) {
            auto [q, done] = std::move(pending.front());
            pending.pop_front();
            zone.resolve(q, std::move(done));
        }
    }
    std::deque<std::pair<dns::Question, std::function<void(dns::Answer)>>> pending;
};

struct Probe {
    int polls = 0;           // over_budget calls: any verification work polls first
    int done_calls = 0;
    bool inside_task = false;
    bool done_inside_task = false;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(dkim_offload)

BOOST_AUTO_TEST_CASE(questions_first_then_one_task_that_calls_done) {
    dns::ZoneResolver zone;
    for (const char* s : {"one", "two"})
        zone.add(dns::Record{std::string(s) + "._domainkey.example.org", dns::RrType::txt, 300,
                             dns::Txt{{ed25519_key().dns_record}}});
    LaterResolver resolver;
    auto probe = std::make_shared<Probe>();
    VerifyOptions o;
    o.now = now;
    o.over_budget = [probe] {
        ++probe->polls;
        return false;
    };
    std::deque<std::function<void()>> tasks;
    auto message = std::make_shared<const std::string>(signed_by("one") + signed_by("two") + message_text);
    check_dkim_async(
        resolver, message, o, [&](std::function<void()> task) { tasks.push_back(std::move(task)); },
        [probe](DkimVerification v) {
            ++probe->done_calls;
            probe->done_inside_task = probe->inside_task;
            BOOST_TEST_REQUIRE(v.signatures.size() == 2u);
            for (const auto& s : v.signatures) BOOST_TEST(s.status == Status::pass, s.reason);
        });
    // Two questions, one at a time; no work and no task until both are answered.
    BOOST_TEST(resolver.pending.size() == 1u);
    resolver.answer_all(zone);
    BOOST_TEST(resolver.pending.empty());
    BOOST_TEST(probe->polls == 0);
    BOOST_TEST(probe->done_calls == 0);
    BOOST_TEST_REQUIRE(tasks.size() == 1u);
    probe->inside_task = true;
    tasks.front()();
    probe->inside_task = false;
    BOOST_TEST(probe->polls > 0);
    BOOST_TEST(probe->done_calls == 1);
    BOOST_TEST(probe->done_inside_task);
}

BOOST_AUTO_TEST_CASE(nothing_to_verify_is_answered_inline) {
    dns::ZoneResolver zone;
    bool offloaded = false;
    for (const std::string& text : {message_text, "DKIM-Signature: v=2\r\n" + message_text, std::string(" bad\r\n")}) {
        int calls = 0;
        check_dkim_async(
            zone, std::make_shared<const std::string>(text), VerifyOptions{},
            [&](std::function<void()> task) {
                offloaded = true;
                task();
            },
            [&](DkimVerification) { ++calls; });
        BOOST_TEST(calls == 1);
    }
    BOOST_TEST(!offloaded);
}

BOOST_AUTO_TEST_CASE(null_offload_runs_inline_and_string_overload_still_works) {
    dns::ZoneResolver zone;
    zone.add(dns::Record{"one._domainkey.example.org", dns::RrType::txt, 300, dns::Txt{{ed25519_key().dns_record}}});
    const std::string text = signed_by("one") + message_text;
    VerifyOptions o;
    o.now = now;
    int calls = 0;
    check_dkim_async(zone, std::make_shared<const std::string>(text), o, nullptr, [&](DkimVerification v) {
        ++calls;
        BOOST_TEST_REQUIRE(v.signatures.size() == 1u);
        BOOST_TEST(v.signatures[0].status == Status::pass);
    });
    check_dkim_async(zone, text, o, [&](DkimVerification v) {
        ++calls;
        BOOST_TEST_REQUIRE(v.signatures.size() == 1u);
        BOOST_TEST(v.signatures[0].status == Status::pass);
    });
    BOOST_TEST(calls == 2);
}

// verify() on its own with a cache that lacks a key: temperror, not a crash or a question.
BOOST_AUTO_TEST_CASE(verify_without_the_answer_is_temperror) {
    VerifyOptions o;
    o.now = now;
    DkimEvaluation evaluation(signed_by("one") + message_text, o);
    BOOST_TEST(evaluation.needs_crypto());
    BOOST_TEST(evaluation.next_question(dns::AnswerCache{}).has_value());
    auto v = evaluation.verify(dns::AnswerCache{});
    BOOST_TEST_REQUIRE(v.signatures.size() == 1u);
    BOOST_TEST(v.signatures[0].status == Status::temperror);
    BOOST_TEST(v.signatures[0].reason == "key lookup for one._domainkey.example.org: not answered");
}

BOOST_AUTO_TEST_SUITE_END()
