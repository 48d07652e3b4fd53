// Unit tests and properties for check_host() (auth/spf/spf.hpp): results, each limit, each
// error path, the replaying evaluation and its driver.
#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include <deque>
#include <map>
#include <set>

#include "auth/spf/spf.hpp"

using namespace pigeon;
using namespace pigeon::spf;

namespace pigeon::spf {
// Boost.Test prints failed comparisons through this (found by ADL).
inline std::ostream& boost_test_print_type(std::ostream& os, Verdict v) { return os << verdict_name(v); }
}  // namespace pigeon::spf

namespace {

// An in-memory DNS for the tests: names not mentioned are NXDOMAIN, mentioned names without
// records of the asked type are NODATA, and failures can be planted per question.
class TestZone : public dns::Resolver {
public:
    TestZone& txt(const std::string& name, std::vector<std::string> strings) {
        return add(name, dns::RrType::txt, dns::Txt{std::move(strings)});
    }
    TestZone& txt(const std::string& name, const std::string& text) { return txt(name, std::vector{text}); }
    TestZone& a(const std::string& name, const std::string& ip) {
        auto parsed = parse_ip(ip);
        if (is_ipv4(*parsed)) return add(name, dns::RrType::a, std::get<dns::Ipv4>(*parsed));
        return add(name, dns::RrType::aaaa, std::get<dns::Ipv6>(*parsed));
    }
    TestZone& mx(const std::string& name, std::uint16_t pref, const std::string& exchange) {
        return add(name, dns::RrType::mx, dns::Mx{pref, exchange});
    }
    TestZone& ptr(const std::string& ip, const std::string& name) {
        return add(reverse_name(*parse_ip(ip)), dns::RrType::ptr, dns::Name{name});
    }
    TestZone& fail(const std::string& name, dns::RrType type, dns::Rcode rcode) {
        failures_[{name, type}] = rcode;
        names_.insert(name);
        return *this;
    }
    TestZone& exists(const std::string& name) {
        names_.insert(name);
        return *this;
    }

    dns::Answer answer(const dns::Question& q) const {
        asked.push_back(q);
        dns::Answer out;
        out.canonical_name = q.name;
        if (auto f = failures_.find(q); f != failures_.end()) {
            out.rcode = f->second;
            return out;
        }
        if (!names_.count(q.name)) {
            out.rcode = dns::Rcode::nxdomain;
            return out;
        }
        if (auto r = records_.find(q); r != records_.end()) out.records = r->second;
        return out;
    }

    void resolve(const dns::Question& q, std::function<void(dns::Answer)> done) override { done(answer(q)); }

    mutable std::vector<dns::Question> asked;

private:
    TestZone& add(const std::string& name, dns::RrType type, dns::RData data) {
        names_.insert(name);
        records_[{name, type}].push_back(dns::Record{name, type, 300, std::move(data)});
        return *this;
    }
    std::set<std::string> names_;
    std::map<dns::Question, std::vector<dns::Record>> records_;
    std::map<dns::Question, dns::Rcode> failures_;
};

struct Run {
    SpfResult result;
    std::size_t rounds = 0;
    dns::AnswerCache cache;
};

// The driver loop, written out so tests can see the rounds and the final cache.
Run evaluate(const TestZone& zone, const SpfRequest& request, std::size_t max_rounds = 1000) {
    Run run;
    SpfEvaluation evaluation(request);
    while (true) {
        auto step = evaluation.run(run.cache);
        if (auto* r = std::get_if<SpfResult>(&step)) {
            run.result = *r;
            return run;
        }
        const auto& q = std::get<dns::Question>(step);
        BOOST_REQUIRE_MESSAGE(run.cache.find(q) == nullptr, "asked again for " << q.name);
        BOOST_REQUIRE_MESSAGE(++run.rounds <= max_rounds, "evaluation did not finish");
        run.cache.put(q, zone.answer(q));
    }
}

SpfRequest request_for(const std::string& ip, const std::string& mail_from, const std::string& helo = "mail.example.org") {
    return make_request(*parse_ip(ip), mail_from, helo);
}

Verdict verdict(const TestZone& zone, const std::string& ip, const std::string& mail_from) {
    return evaluate(zone, request_for(ip, mail_from)).result.verdict;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spf_evaluator)

BOOST_AUTO_TEST_CASE(basic_results) {
    TestZone zone;
    zone.txt("example.com", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ~all");
    BOOST_TEST(verdict(zone, "192.0.2.9", "a@example.com") == Verdict::pass);
    BOOST_TEST(verdict(zone, "2001:db8::9", "a@example.com") == Verdict::pass);
    BOOST_TEST(verdict(zone, "198.51.100.1", "a@example.com") == Verdict::softfail);
    BOOST_TEST(verdict(zone, "::ffff:192.0.2.9", "a@example.com") == Verdict::pass);  // mapped = IPv4
    zone.txt("neutral.example.com", "v=spf1 ip4:192.0.2.1");
    BOOST_TEST(verdict(zone, "192.0.2.2", "a@neutral.example.com") == Verdict::neutral);
}

BOOST_AUTO_TEST_CASE(none_results) {
    TestZone zone;
    zone.txt("other.example.com", "some site verification");
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@nxdomain.example.com") == Verdict::none);
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@other.example.com") == Verdict::none);
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@localhost") == Verdict::none);        // single label
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@[192.0.2.1]") == Verdict::none);      // address literal
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@b..example.com") == Verdict::none);   // empty label
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@" + std::string(64, 'x') + ".example.com") == Verdict::none);
}

BOOST_AUTO_TEST_CASE(type_spf_is_never_queried) {
    TestZone zone;
    zone.txt("example.com", "v=spf1 a mx ptr -all").a("example.com", "192.0.2.1");
    evaluate(zone, request_for("192.0.2.99", "a@example.com"));
    for (const auto& q : zone.asked) BOOST_TEST((q.type != dns::RrType::spf));
}

BOOST_AUTO_TEST_CASE(record_lookup_errors) {
    TestZone zone;
    zone.fail("timeout.example.com", dns::RrType::txt, dns::Rcode::timeout);
    zone.fail("servfail.example.com", dns::RrType::txt, dns::Rcode::servfail);
    zone.txt("two.example.com", "v=spf1 -all").txt("two.example.com", "v=spf1 +all");
    zone.txt("bad.example.com", "v=spf1 a:foo-bar -all");
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@timeout.example.com") == Verdict::temperror);
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@servfail.example.com") == Verdict::temperror);
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@two.example.com") == Verdict::permerror);
    auto r = evaluate(zone, request_for("192.0.2.1", "a@bad.example.com")).result;
    BOOST_TEST((r.verdict == Verdict::permerror));
    BOOST_TEST(r.problem.find("a:foo-bar") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(multiple_strings_are_joined) {
    TestZone zone;
    zone.txt("example.com", std::vector<std::string>{"v=spf1 ip4:", "192.0.2.5 -all"});
    BOOST_TEST(verdict(zone, "192.0.2.5", "a@example.com") == Verdict::pass);
}

BOOST_AUTO_TEST_CASE(mechanism_dns_errors_are_temperror) {
    TestZone zone;
    zone.txt("a.example.com", "v=spf1 a:host.example.com -all");
    zone.fail("host.example.com", dns::RrType::a, dns::Rcode::timeout);
    zone.txt("mx.example.com", "v=spf1 mx -all");
    zone.fail("mx.example.com", dns::RrType::mx, dns::Rcode::servfail);
    zone.txt("ex.example.com", "v=spf1 exists:host.example.com -all");
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@a.example.com") == Verdict::temperror);
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@mx.example.com") == Verdict::temperror);
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@ex.example.com") == Verdict::temperror);
}

BOOST_AUTO_TEST_CASE(include_semantics) {
    TestZone zone;
    zone.txt("pass.example.net", "v=spf1 ip4:192.0.2.1 -all");
    zone.txt("temp.example.com", "v=spf1 include:slow.example.net -all");
    zone.fail("slow.example.net", dns::RrType::txt, dns::Rcode::timeout);
    zone.txt("perm.example.com", "v=spf1 include:broken.example.net -all");
    zone.txt("broken.example.net", "v=spf1 bogus");
    zone.txt("none.example.com", "v=spf1 include:norecord.example.net -all");
    zone.txt("main.example.com", "v=spf1 include:pass.example.net ~all");
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@main.example.com") == Verdict::pass);       // pass -> match
    BOOST_TEST(verdict(zone, "192.0.2.2", "a@main.example.com") == Verdict::softfail);   // fail -> no match
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@temp.example.com") == Verdict::temperror);
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@perm.example.com") == Verdict::permerror);
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@none.example.com") == Verdict::permerror);
}

BOOST_AUTO_TEST_CASE(redirect_semantics) {
    TestZone zone;
    zone.txt("main.example.com", "v=spf1 ip4:192.0.2.1 redirect=target.example.net exp=main-exp.example.com");
    zone.txt("main-exp.example.com", "main explanation");
    zone.txt("target.example.net", "v=spf1 -all exp=target-exp.example.net");
    zone.txt("target-exp.example.net", "target says %{d}");
    zone.txt("nowhere.example.com", "v=spf1 redirect=norecord.example.net");
    zone.txt("allfirst.example.com", "v=spf1 ?all redirect=target.example.net");
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@main.example.com") == Verdict::pass);  // mechanism first
    auto r = evaluate(zone, request_for("192.0.2.2", "a@main.example.com")).result;
    BOOST_TEST((r.verdict == Verdict::fail));
    BOOST_TEST(r.explanation == "target says target.example.net");  // the target's exp=, not ours
    BOOST_TEST(verdict(zone, "192.0.2.2", "a@nowhere.example.com") == Verdict::permerror);
    BOOST_TEST(verdict(zone, "192.0.2.2", "a@allfirst.example.com") == Verdict::neutral);
}

BOOST_AUTO_TEST_CASE(explanations) {
    TestZone zone;
    zone.txt("example.com", "v=spf1 -all exp=why.example.com");
    zone.txt("why.example.com", "%{i} is not %{d}'s: see http://%{d}/why?s=%{S}");
    auto r = evaluate(zone, request_for("192.0.2.7", "some one@example.com")).result;
    BOOST_TEST(r.explanation == "192.0.2.7 is not example.com's: see http://example.com/why?s=some%20one%40example.com");

    TestZone broken;
    broken.txt("example.com", "v=spf1 -all exp=why.example.com");
    broken.txt("why.example.com", "one").txt("why.example.com", "two");  // more than one: ignored
    SpfRequest req = request_for("192.0.2.7", "a@example.com");
    req.default_explanation = "DEFAULT %{d}";
    BOOST_TEST(evaluate(broken, req).result.explanation == "DEFAULT example.com");
    TestZone timeout;
    timeout.txt("example.com", "v=spf1 -all exp=why.example.com");
    timeout.fail("why.example.com", dns::RrType::txt, dns::Rcode::timeout);
    BOOST_TEST(evaluate(timeout, req).result.explanation == "DEFAULT example.com");
    TestZone syntax;
    syntax.txt("example.com", "v=spf1 -all exp=why.example.com");
    syntax.txt("why.example.com", "The %{x}-files");
    BOOST_TEST(evaluate(syntax, req).result.explanation == "DEFAULT example.com");
    // Not fetched unless the result is fail.
    TestZone soft;
    soft.txt("example.com", "v=spf1 ~all exp=why.example.com");
    auto s = evaluate(soft, req);
    BOOST_TEST(s.result.explanation.empty());
    BOOST_TEST(s.cache.find({"why.example.com", dns::RrType::txt}) == nullptr);
}

BOOST_AUTO_TEST_CASE(dns_term_limit) {
    TestZone zone;
    zone.a("h.example.com", "198.51.100.1");  // an answer, so not a void lookup
    std::string ten = "v=spf1", eleven;
    for (int i = 0; i < 10; ++i) ten += " a:h.example.com";
    eleven = ten + " a:h.example.com";
    zone.txt("ten.example.com", ten + " ip4:192.0.2.1 -all");
    zone.txt("eleven.example.com", eleven + " ip4:192.0.2.1 -all");
    auto ok = evaluate(zone, request_for("192.0.2.1", "a@ten.example.com")).result;
    BOOST_TEST((ok.verdict == Verdict::pass));
    BOOST_TEST(ok.dns_terms == 10u);
    auto over = evaluate(zone, request_for("192.0.2.1", "a@eleven.example.com")).result;
    BOOST_TEST((over.verdict == Verdict::permerror));
    BOOST_TEST(over.dns_terms == 10u);  // the 11th was refused, not evaluated
    // Terms that do not query DNS do not count.
    zone.txt("free.example.com", ten + " ip4:192.0.2.9 ip6:::1 all");
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@free.example.com") == Verdict::pass);
}

BOOST_AUTO_TEST_CASE(include_and_redirect_loops_hit_the_limit) {
    TestZone zone;
    zone.txt("loop1.example.com", "v=spf1 include:loop2.example.com -all");
    zone.txt("loop2.example.com", "v=spf1 include:loop1.example.com -all");
    zone.txt("self.example.com", "v=spf1 ip4:192.0.2.9 redirect=self.example.com");
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@loop1.example.com") == Verdict::permerror);
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@self.example.com") == Verdict::permerror);
}

BOOST_AUTO_TEST_CASE(void_lookup_limit) {
    TestZone zone;
    zone.txt("two.example.com", "v=spf1 a:nx1.example.com mx:nx2.example.com ?all");
    zone.txt("three.example.com", "v=spf1 a:nx1.example.com mx:nx2.example.com exists:nx3.example.com ?all");
    zone.exists("nodata.example.com");
    zone.txt("nodata3.example.com", "v=spf1 a:nodata.example.com a:nx1.example.com a:nodata.example.com ?all");
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@two.example.com") == Verdict::neutral);
    auto r = evaluate(zone, request_for("192.0.2.1", "a@three.example.com")).result;
    BOOST_TEST((r.verdict == Verdict::permerror));
    BOOST_TEST(r.void_lookups == 3u);
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@nodata3.example.com") == Verdict::permerror);  // NODATA counts
    // exp= lookups are not void lookups.
    zone.txt("exp.example.com", "v=spf1 a:nx1.example.com a:nx2.example.com exp=nx3.example.com -all");
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@exp.example.com") == Verdict::fail);
}

BOOST_AUTO_TEST_CASE(mx_record_limit) {
    TestZone zone;
    zone.txt("ten.example.com", "v=spf1 mx -all");
    zone.txt("eleven.example.com", "v=spf1 mx -all");
    for (int i = 0; i < 10; ++i) {
        const std::string host = "mx" + std::to_string(i) + ".example.com";
        zone.a(host, "192.0.2." + std::to_string(i + 1));
        zone.mx("ten.example.com", static_cast<std::uint16_t>(i), host);
        zone.mx("eleven.example.com", static_cast<std::uint16_t>(i), host);
    }
    zone.mx("eleven.example.com", 10, "mx10.example.com");
    BOOST_TEST(verdict(zone, "192.0.2.10", "a@ten.example.com") == Verdict::pass);
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@eleven.example.com") == Verdict::permerror);
}

BOOST_AUTO_TEST_CASE(mx_exchange_nxdomain_skipped) {
    TestZone zone;
    zone.txt("example.com", "v=spf1 mx -all");
    zone.mx("example.com", 1, "gone.example.com").mx("example.com", 2, "here.example.com").mx("example.com", 3, ".");
    zone.a("here.example.com", "192.0.2.3");
    BOOST_TEST(verdict(zone, "192.0.2.3", "a@example.com") == Verdict::pass);
    BOOST_TEST(verdict(zone, "192.0.2.4", "a@example.com") == Verdict::fail);
}

BOOST_AUTO_TEST_CASE(mx_does_not_fall_back_to_a) {
    TestZone zone;
    zone.txt("example.com", "v=spf1 mx").a("example.com", "192.0.2.1");
    BOOST_TEST(verdict(zone, "192.0.2.1", "a@example.com") == Verdict::neutral);
}

BOOST_AUTO_TEST_CASE(ptr_mechanism_and_name_limit) {
    TestZone zone;
    zone.txt("example.com", "v=spf1 ptr -all");
    for (int i = 0; i < 10; ++i) zone.ptr("192.0.2.5", "other" + std::to_string(i) + ".example.net");
    zone.ptr("192.0.2.5", "mail.example.com");  // the 11th name: ignored
    zone.a("mail.example.com", "192.0.2.5");
    BOOST_TEST(verdict(zone, "192.0.2.5", "a@example.com") == Verdict::fail);

    TestZone ok;
    ok.txt("example.com", "v=spf1 ptr -all");
    ok.ptr("192.0.2.5", "liar.example.com");     // does not validate
    ok.ptr("192.0.2.5", "Mail.Example.COM.");   // validates, case-insensitively
    ok.a("mail.example.com", "192.0.2.5").a("liar.example.com", "192.0.2.99");
    BOOST_TEST(verdict(ok, "192.0.2.5", "a@example.com") == Verdict::pass);
    ok.fail(reverse_name(*parse_ip("192.0.2.6")), dns::RrType::ptr, dns::Rcode::servfail);
    BOOST_TEST(verdict(ok, "192.0.2.6", "a@example.com") == Verdict::fail);  // PTR error: no match
}

BOOST_AUTO_TEST_CASE(p_macro_prefers_names_within_the_domain) {
    TestZone zone;
    zone.txt("example.com", "v=spf1 -all exp=why.example.com");
    zone.txt("why.example.com", "from %{p}");
    zone.ptr("192.0.2.5", "mx.example.net").ptr("192.0.2.5", "mx.example.com");
    zone.a("mx.example.net", "192.0.2.5").a("mx.example.com", "192.0.2.5");
    BOOST_TEST(evaluate(zone, request_for("192.0.2.5", "a@example.com")).result.explanation == "from mx.example.com");
    BOOST_TEST(evaluate(zone, request_for("192.0.2.6", "a@example.com")).result.explanation == "from unknown");
}

BOOST_AUTO_TEST_CASE(a_and_exists_families) {
    TestZone zone;
    zone.txt("example.com", "v=spf1 a//64 exists:v6only.example.com -all");
    zone.a("example.com", "2001:db8::1").a("v6only.example.com", "2001:db8::2");
    BOOST_TEST(verdict(zone, "2001:db8::ffff", "a@example.com") == Verdict::pass);  // AAAA for IPv6
    BOOST_TEST(verdict(zone, "2001:db9::1", "a@example.com") == Verdict::fail);     // exists is A only
    BOOST_TEST(verdict(zone, "::ffff:192.0.2.1", "a@example.com") == Verdict::fail);
}

BOOST_AUTO_TEST_CASE(helo_identity_and_null_sender) {
    auto r = make_request(*parse_ip("192.0.2.1"), "", "mail.example.org");
    BOOST_TEST(r.domain == "mail.example.org");
    BOOST_TEST(r.sender == "postmaster@mail.example.org");
    auto n = make_request(*parse_ip("192.0.2.1"), "@example.net", "h");
    BOOST_TEST(n.sender == "postmaster@example.net");
}

BOOST_AUTO_TEST_CASE(trace_names_terms_and_queries) {
    TestZone zone;
    zone.txt("example.com", "v=spf1 a:h.example.com -all").a("h.example.com", "192.0.2.2");
    auto r = evaluate(zone, request_for("192.0.2.1", "a@example.com")).result;
    std::string all;
    for (const auto& line : r.trace) all += line + "\n";
    BOOST_TEST(all.find("query TXT example.com") != std::string::npos);
    BOOST_TEST(all.find("a:h.example.com -> no match") != std::string::npos);
    BOOST_TEST(all.find("-all -> match") != std::string::npos);
    BOOST_TEST(r.matched == "-all");
}

BOOST_AUTO_TEST_CASE(async_driver_with_deferred_answers) {
    // A resolver that answers later, as an event loop would.
    struct Deferred : dns::Resolver {
        TestZone* zone = nullptr;
        std::deque<std::pair<dns::Question, std::function<void(dns::Answer)>>> pending;
        void resolve(const dns::Question& q, std::function<void(dns::Answer)> done) override {
            pending.emplace_back(q, std::move(done));
        }
    };
    TestZone zone;
    zone.txt("example.com", "v=spf1 mx include:_spf.example.net -all");
    zone.mx("example.com", 1, "mx.example.com").a("mx.example.com", "192.0.2.1");
    zone.txt("_spf.example.net", "v=spf1 ip4:198.51.100.0/24 -all");
    Deferred deferred;
    deferred.zone = &zone;
    int calls = 0;
    SpfResult got;
    check_host_async(deferred, request_for("198.51.100.7", "a@example.com"), [&](SpfResult r) {
        ++calls;
        got = std::move(r);
    });
    while (!deferred.pending.empty()) {
        auto [q, done] = std::move(deferred.pending.front());
        deferred.pending.pop_front();
        done(zone.answer(q));
    }
    BOOST_TEST(calls == 1);
    BOOST_TEST((got.verdict == Verdict::pass));

    // And synchronously (TestZone answers inside resolve()).
    calls = 0;
    check_host_async(zone, request_for("198.51.100.7", "a@example.com"), [&](SpfResult r) {
        ++calls;
        got = std::move(r);
    });
    BOOST_TEST(calls == 1);
    BOOST_TEST((got.verdict == Verdict::pass));
}

// ---- Properties -----------------------------------------------------------------------------

namespace {

// Random zones over d0..d5.example.com whose records include, redirect and look each other
// up (loops and self-references included), plus names that do not exist.
TestZone random_zone() {
    constexpr int domains = 6;
    TestZone zone;
    auto name = [](int i) { return "d" + std::to_string(i) + ".example.com"; };
    for (int i = 0; i < domains; ++i) {
        if (*rc::gen::inRange(0, 8) == 0) continue;  // some have no record at all
        const int terms = *rc::gen::inRange(0, 8);
        std::string record = "v=spf1";
        for (int t = 0; t < terms; ++t) {
            const std::string target = name(*rc::gen::inRange(0, domains + 2));  // d6, d7 are NXDOMAIN
            const std::string q = *rc::gen::element<std::string>("", "-", "~", "?", "+");
            switch (*rc::gen::inRange(0, 9)) {
            case 0: record += " " + q + "include:" + target; break;
            case 1: record += " " + q + "a:" + target; break;
            case 2: record += " " + q + "mx:" + target; break;
            case 3: record += " " + q + "exists:%{l}." + target; break;
            case 4: record += " " + q + "ptr:" + target; break;
            case 5: record += " " + q + "ip4:192.0.2." + std::to_string(*rc::gen::inRange(0, 4)); break;
            case 6: record += " " + q + "a"; break;
            case 7: record += " " + q + "all"; break;
            default: record += " " + q + "mx"; break;
            }
        }
        if (*rc::gen::inRange(0, 3) == 0) record += " redirect=" + name(*rc::gen::inRange(0, domains + 2));
        if (*rc::gen::inRange(0, 4) == 0) record += " exp=" + name(*rc::gen::inRange(0, domains));
        zone.txt(name(i), record);
        if (*rc::gen::inRange(0, 2) == 0) zone.a(name(i), "192.0.2." + std::to_string(*rc::gen::inRange(0, 4)));
        if (*rc::gen::inRange(0, 2) == 0) zone.mx(name(i), 1, name(*rc::gen::inRange(0, domains + 2)));
        if (*rc::gen::inRange(0, 6) == 0) zone.fail(name(i), dns::RrType::a, dns::Rcode::timeout);
    }
    zone.ptr("192.0.2.1", name(0)).ptr("192.0.2.1", name(1));
    return zone;
}

}  // namespace

RC_BOOST_PROP(evaluation_terminates_within_the_limits, ()) {
    const TestZone zone = random_zone();
    const auto ip = "192.0.2." + std::to_string(*rc::gen::inRange(0, 4));
    Run run;
    SpfEvaluation evaluation(request_for(ip, "user@d0.example.com"));
    std::optional<SpfResult> result;
    // Far more than any evaluation needs: 10 terms x (1 + 10 addresses) + %{p} + exp.
    for (std::size_t round = 0; round <= max_driver_rounds && !result; ++round) {
        auto step = evaluation.run(run.cache);
        if (auto* r = std::get_if<SpfResult>(&step)) result = *r;
        else run.cache.put(std::get<dns::Question>(step), zone.answer(std::get<dns::Question>(step)));
    }
    RC_ASSERT(result.has_value());
    RC_TAG(std::string(verdict_name(result->verdict)));  // the distribution shows every result is reached
    RC_ASSERT(result->dns_terms <= SpfLimits{}.dns_terms);
    RC_ASSERT(result->void_lookups <= SpfLimits{}.void_lookups + 1);
    if (result->verdict == Verdict::fail) RC_ASSERT(!result->explanation.empty());
}

RC_BOOST_PROP(replay_is_deterministic, ()) {
    const TestZone zone = random_zone();
    const auto request = request_for("192.0.2." + std::to_string(*rc::gen::inRange(0, 4)), "user@d0.example.com");
    Run run = evaluate(zone, request);
    // The same cache gives the same result, trace included, however often it is replayed...
    SpfEvaluation evaluation(request);
    for (int i = 0; i < 2; ++i) {
        auto step = evaluation.run(run.cache);
        RC_ASSERT(std::holds_alternative<SpfResult>(step));
        const auto& again = std::get<SpfResult>(step);
        RC_ASSERT(again.verdict == run.result.verdict);
        RC_ASSERT(again.explanation == run.result.explanation);
        RC_ASSERT(again.trace == run.result.trace);
        RC_ASSERT(again.queries == run.result.queries);
    }
    // ...and a prefix of the cache always asks the same next question.
    dns::AnswerCache partial;
    SpfEvaluation fresh(request);
    for (std::size_t i = 0; i < run.rounds; ++i) {
        auto a = fresh.run(partial);
        auto b = fresh.run(partial);
        RC_ASSERT(std::holds_alternative<dns::Question>(a));
        RC_ASSERT(std::get<dns::Question>(a) == std::get<dns::Question>(b));
        partial.put(std::get<dns::Question>(a), zone.answer(std::get<dns::Question>(a)));
    }
}

BOOST_AUTO_TEST_SUITE_END()
