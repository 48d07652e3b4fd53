// Unit tests and properties for the DMARC evaluation (auth/dmarc/dmarc.hpp): the From rule,
// discovery with fallback, alignment, sp/np, pct, errors, the restartable design.
#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include <map>
#include <set>

#include "auth/dmarc/dmarc.hpp"
#include "auth/dmarc/dmarc_print.hpp"

using namespace pigeon;
using namespace pigeon::dmarc;


namespace {

// Names not mentioned are NXDOMAIN; mentioned names lacking the type are NODATA.
class Zone : public dns::Resolver {
public:
    Zone& txt(const std::string& name, const std::string& text) {
        names_.insert(name);
        records_[{name, dns::RrType::txt}].push_back({name, dns::RrType::txt, 300, dns::Txt{{text}}});
        return *this;
    }
    Zone& a(const std::string& name) {
        names_.insert(name);
        records_[{name, dns::RrType::a}].push_back({name, dns::RrType::a, 300, dns::Ipv4{{192, 0, 2, 1}}});
        return *this;
    }
    Zone& exists(const std::string& name) {
        names_.insert(name);
        return *this;
    }
    Zone& fail(const std::string& name, dns::RrType type, dns::Rcode rcode) {
        failures_[{name, type}] = rcode;
        return *this;
    }
    void resolve(const dns::Question& q, std::function<void(dns::Answer)> done) override {
        asked.push_back(q);
        dns::Answer out;
        out.canonical_name = q.name;
        if (auto f = failures_.find(q); f != failures_.end()) out.rcode = f->second;
        else if (!names_.count(q.name)) out.rcode = dns::Rcode::nxdomain;
        else if (auto r = records_.find(q); r != records_.end()) out.records = r->second;
        done(std::move(out));
    }
    std::vector<dns::Question> asked;

private:
    std::set<std::string> names_;
    std::map<dns::Question, std::vector<dns::Record>> records_;
    std::map<dns::Question, dns::Rcode> failures_;
};

const SuffixList& psl() {
    static const SuffixList list({"com", "org", "net", "uk", "co.uk", "example", "*.ck", "!www.ck"});
    return list;
}

AuthorDomain from(const std::string& domain) {
    AuthorDomain a;
    a.status = FromStatus::ok;
    a.domain = domain;
    a.addresses = {"user@" + domain};
    return a;
}

DmarcRequest request(const std::string& from_domain, spf::Verdict spf, const std::string& mail_from,
                     std::vector<DkimInput> dkim = {}, double sample = 0.0) {
    DmarcRequest r;
    r.from = from(from_domain);
    r.spf = SpfInput{spf, mail_from, false};
    r.dkim = std::move(dkim);
    r.pct_sample = sample;
    return r;
}

DmarcResult evaluate(Zone& zone, DmarcRequest req) {
    std::optional<DmarcResult> out;
    evaluate_async(zone, std::move(req), psl().function(), [&](DmarcResult r) { out = std::move(r); });
    BOOST_REQUIRE(out);
    return *out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dmarc_evaluation)

BOOST_AUTO_TEST_CASE(in_memory_suffix_list) {
    const auto& l = psl();
    BOOST_TEST(l.organizational_domain("a.b.Example.COM.") == "example.com");
    BOOST_TEST(l.organizational_domain("mail.bbc.co.uk") == "bbc.co.uk");
    BOOST_TEST(l.organizational_domain("co.uk") == "co.uk");  // a suffix is its own organization
    BOOST_TEST(!l.registrable_domain("co.uk").has_value());
    BOOST_TEST(*l.registrable_domain("a.b.foo.ck") == "b.foo.ck");
    BOOST_TEST(*l.registrable_domain("www.ck") == "www.ck");
    BOOST_TEST(!l.registrable_domain(".com").has_value());
    BOOST_TEST(*l.registrable_domain("a.b.unlisted") == "b.unlisted");
}

BOOST_AUTO_TEST_CASE(from_rule) {
    auto one = author_domain("From: Joe <joe@Example.COM>\r\nTo: x@y\r\n");
    BOOST_TEST(one.status == FromStatus::ok);
    BOOST_TEST(one.domain == "example.com");
    auto same = author_domain("From: a@example.com, b@EXAMPLE.com\r\n");
    BOOST_TEST(same.status == FromStatus::ok);
    BOOST_TEST(author_domain("From: a@example.com, b@example.net\r\n").status == FromStatus::multiple_domains);
    BOOST_TEST(author_domain("From: a@example.com\r\nFrom: a@example.com\r\n").status ==
               FromStatus::multiple_from_fields);
    BOOST_TEST(author_domain("To: a@example.com\r\n").status == FromStatus::no_from);
    BOOST_TEST(author_domain("From: undisclosed\r\n").status == FromStatus::no_domain);
    // Regression (fuzz/dmarc_eval.cpp): a domain normalize_domain() cannot make a name of was
    // `ok`, with "" or "example.org." as the domain to look up.
    for (const char* from : {"From: a@.\r\n", "From: >a@example.org..\r\n", "From: a@.example.org\r\n",
                             "From: a@example..org\r\n", "From: a@exa\x01mple.org\r\n",
                             "From: a@example.org, b@.\r\n"}) {
        const auto bad = author_domain(from);
        BOOST_TEST((bad.status == FromStatus::no_domain), from);
        BOOST_TEST(bad.domain.empty(), from);
        BOOST_TEST(!bad.problem.empty(), from);
    }
    BOOST_TEST(author_domain("From: a@Example.ORG.\r\n").domain == "example.org");  // one root dot is fine
    BOOST_TEST(author_domain("From:\r\n").status == FromStatus::no_from);
    BOOST_TEST(author_domain("not a header line\r\n").status == FromStatus::malformed_header);

    // The evaluation makes the outcome explicit: permerror, reject-worthy, no DNS asked.
    DmarcRequest req;
    req.from = author_domain("From: a@example.com, b@example.net\r\n");
    DmarcEvaluation e(req, psl().function());
    auto step = e.run(dns::AnswerCache{});
    auto* r = std::get_if<DmarcResult>(&step);
    BOOST_REQUIRE(r);
    BOOST_TEST(r->verdict == Verdict::permerror);
    BOOST_TEST(r->disposition == Disposition::reject);
    BOOST_TEST(r->reason == DispositionReason::malformed_from);
}

BOOST_AUTO_TEST_CASE(restartable_discovery_with_fallback) {
    DmarcEvaluation e(request("mail.example.com", spf::Verdict::pass, "example.com"), psl().function());
    dns::AnswerCache cache;
    auto s1 = e.run(cache);
    BOOST_REQUIRE(std::holds_alternative<dns::Question>(s1));
    BOOST_TEST(std::get<dns::Question>(s1).name == "_dmarc.mail.example.com");
    cache.put(std::get<dns::Question>(s1), dns::Answer{dns::Rcode::nxdomain, {}, {}, {}, {}});
    auto s2 = e.run(cache);
    BOOST_REQUIRE(std::holds_alternative<dns::Question>(s2));
    BOOST_TEST(std::get<dns::Question>(s2).name == "_dmarc.example.com");
    dns::Answer a;
    a.records.push_back({"_dmarc.example.com", dns::RrType::txt, 60, dns::Txt{{"v=DMARC1; ", "p=reject"}}});
    a.records.push_back({"_dmarc.example.com", dns::RrType::txt, 60, dns::Txt{{"unrelated"}}});
    cache.put(std::get<dns::Question>(s2), a);
    auto s3 = e.run(cache);
    auto* r = std::get_if<DmarcResult>(&s3);
    BOOST_REQUIRE(r);
    BOOST_TEST(r->verdict == Verdict::pass);
    BOOST_TEST(r->policy_domain == "example.com");
    BOOST_TEST(r->spf_aligned);
    // Same cache, same step.
    BOOST_TEST(std::get<DmarcResult>(e.run(cache)).explanation == r->explanation);
}

BOOST_AUTO_TEST_CASE(record_at_from_domain_wins) {
    Zone z;
    z.txt("_dmarc.sub.example.com", "v=DMARC1; p=none").txt("_dmarc.example.com", "v=DMARC1; p=reject");
    auto r = evaluate(z, request("sub.example.com", spf::Verdict::fail, "sub.example.com"));
    BOOST_TEST(r.verdict == Verdict::fail);
    BOOST_TEST(r.policy == Policy::none);
    BOOST_TEST(r.policy_domain == "sub.example.com");
    BOOST_TEST(z.asked.size() == 1u);
}

BOOST_AUTO_TEST_CASE(no_record_multiple_records_errors) {
    Zone z;
    auto none = evaluate(z, request("example.com", spf::Verdict::pass, "example.com"));
    BOOST_TEST(none.verdict == Verdict::none);
    BOOST_TEST(z.asked.size() == 1u);  // the From domain is its own organizational domain

    Zone multi;
    multi.txt("_dmarc.example.com", "v=DMARC1; p=reject").txt("_dmarc.example.com", "v=DMARC1; p=none");
    BOOST_TEST(evaluate(multi, request("example.com", spf::Verdict::pass, "example.com")).verdict == Verdict::none);

    Zone broken;
    broken.txt("_dmarc.example.com", "v=DMARC1; p=maybe");
    auto b = evaluate(broken, request("example.com", spf::Verdict::pass, "example.com"));
    BOOST_TEST(b.verdict == Verdict::none);
    BOOST_TEST(!b.problem.empty());

    Zone err;
    err.fail("_dmarc.a.example.com", dns::RrType::txt, dns::Rcode::servfail);
    BOOST_TEST(evaluate(err, request("a.example.com", spf::Verdict::pass, "example.com")).verdict ==
               Verdict::temperror);
    Zone err2;
    err2.fail("_dmarc.example.com", dns::RrType::txt, dns::Rcode::timeout);
    BOOST_TEST(evaluate(err2, request("a.example.com", spf::Verdict::pass, "example.com")).verdict ==
               Verdict::temperror);
}

// The matrix: strict/relaxed x spf/dkim x exact/subdomain/foreign.
BOOST_AUTO_TEST_CASE(alignment_matrix) {
    struct Case {
        const char* record;
        const char* spf_domain;  // "" = SPF did not pass
        const char* dkim_domain; // "" = no passing signature
        Verdict expected;
    };
    const Case cases[] = {
        {"v=DMARC1; p=reject", "example.com", "", Verdict::pass},
        {"v=DMARC1; p=reject", "bounce.example.com", "", Verdict::pass},
        {"v=DMARC1; p=reject; aspf=s", "bounce.example.com", "", Verdict::fail},
        {"v=DMARC1; p=reject; aspf=s", "example.com", "", Verdict::pass},
        {"v=DMARC1; p=reject", "example.net", "", Verdict::fail},
        {"v=DMARC1; p=reject", "", "example.com", Verdict::pass},
        {"v=DMARC1; p=reject", "", "sig.example.com", Verdict::pass},
        {"v=DMARC1; p=reject; adkim=s", "", "sig.example.com", Verdict::fail},
        {"v=DMARC1; p=reject; adkim=s", "", "example.com", Verdict::pass},
        {"v=DMARC1; p=reject; adkim=s; aspf=s", "bounce.example.com", "sig.example.com", Verdict::fail},
        {"v=DMARC1; p=reject; adkim=s", "bounce.example.com", "sig.example.com", Verdict::pass},
        {"v=DMARC1; p=reject", "", "example.org", Verdict::fail},
        {"v=DMARC1; p=reject", "", "", Verdict::fail},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.record << " spf=" << c.spf_domain << " dkim=" << c.dkim_domain) {
            Zone z;
            z.txt("_dmarc.example.com", c.record);
            std::vector<DkimInput> dkim;
            if (*c.dkim_domain) dkim.push_back({c.dkim_domain, "sel", DkimResult::pass, ""});
            auto r = evaluate(z, request("example.com", *c.spf_domain ? spf::Verdict::pass : spf::Verdict::fail,
                                         *c.spf_domain ? c.spf_domain : "example.com", dkim));
            BOOST_TEST(r.verdict == c.expected);
        }
    }
    // A failed signature or an SPF softfail never aligns, whatever the domain.
    Zone z;
    z.txt("_dmarc.example.com", "v=DMARC1; p=quarantine");
    auto r = evaluate(z, request("example.com", spf::Verdict::softfail, "example.com",
                                 {{"example.com", "s", DkimResult::fail, ""}}));
    BOOST_TEST(r.verdict == Verdict::fail);
    BOOST_TEST(r.disposition == Disposition::quarantine);
    // The HELO identity is not aligned even when it passes.
    DmarcRequest helo = request("example.com", spf::Verdict::pass, "example.com");
    helo.spf.helo = true;
    BOOST_TEST(evaluate(z, helo).verdict == Verdict::fail);
    // Several signatures: the aligned one is reported.
    auto two = evaluate(z, request("example.com", spf::Verdict::none, "",
                                   {{"esp.net", "a", DkimResult::pass, ""}, {"Example.COM", "b", DkimResult::pass, ""}}));
    BOOST_TEST(two.verdict == Verdict::pass);
    BOOST_TEST(two.dkim_domain == "example.com");
}

BOOST_AUTO_TEST_CASE(sp_and_np) {
    Zone z;
    z.txt("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine; np=none").a("exists.example.com");
    auto at_org = evaluate(z, request("example.com", spf::Verdict::fail, "x.org"));
    BOOST_TEST(at_org.policy == Policy::reject);
    BOOST_TEST(at_org.disposition == Disposition::reject);

    auto sub = evaluate(z, request("exists.example.com", spf::Verdict::fail, "x.org"));
    BOOST_TEST(sub.policy == Policy::quarantine);
    BOOST_TEST(sub.disposition == Disposition::quarantine);

    Zone z2;
    z2.txt("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine; np=none");
    auto missing = evaluate(z2, request("ghost.example.com", spf::Verdict::fail, "x.org"));
    BOOST_TEST(missing.policy == Policy::none);
    BOOST_TEST(missing.disposition == Disposition::none);
    BOOST_TEST(z2.asked.size() == 5u);  // 2 TXT + A, AAAA, MX

    // No sp: subdomains get p; no np: non-existent ones get sp; no DNS for existence.
    Zone z3;
    z3.txt("_dmarc.example.com", "v=DMARC1; p=quarantine");
    auto p_only = evaluate(z3, request("ghost.example.com", spf::Verdict::fail, "x.org"));
    BOOST_TEST(p_only.policy == Policy::quarantine);
    BOOST_TEST(z3.asked.size() == 2u);

    // An error while checking existence: np is not applied.
    Zone z4;
    z4.txt("_dmarc.example.com", "v=DMARC1; p=reject; np=none").fail("ghost.example.com", dns::RrType::aaaa, dns::Rcode::servfail);
    BOOST_TEST(evaluate(z4, request("ghost.example.com", spf::Verdict::fail, "x.org")).policy == Policy::reject);
}

BOOST_AUTO_TEST_CASE(pct_sampling) {
    Zone z;
    z.txt("_dmarc.example.com", "v=DMARC1; p=reject; pct=30");
    auto in = evaluate(z, request("example.com", spf::Verdict::fail, "x.org", {}, 0.29));
    BOOST_TEST(in.sampled);
    BOOST_TEST(in.disposition == Disposition::reject);
    BOOST_TEST(in.reason == DispositionReason::policy);
    auto out = evaluate(z, request("example.com", spf::Verdict::fail, "x.org", {}, 0.30));
    BOOST_TEST(!out.sampled);
    BOOST_TEST(out.disposition == Disposition::quarantine);
    BOOST_TEST(out.reason == DispositionReason::sampled_out);

    Zone q;
    q.txt("_dmarc.example.com", "v=DMARC1; p=quarantine; pct=0");
    BOOST_TEST(evaluate(q, request("example.com", spf::Verdict::fail, "x.org", {}, 0.0)).disposition ==
               Disposition::none);
    Zone full;
    full.txt("_dmarc.example.com", "v=DMARC1; p=quarantine");
    BOOST_TEST(evaluate(full, request("example.com", spf::Verdict::fail, "x.org", {}, 0.999)).disposition ==
               Disposition::quarantine);
}

RC_BOOST_PROP(relaxed_alignment_is_symmetric_under_one_org_domain, ()) {
    auto label = [] {
        const auto n = static_cast<std::size_t>(*rc::gen::inRange(1, 6));
        return *rc::gen::container<std::string>(n, rc::gen::elementOf(std::string("abcxyz09")));
    };
    auto labels = [&] {
        std::string out;
        const int k = *rc::gen::inRange(0, 4);
        for (int i = 0; i < k; ++i) out += label() + ".";
        return out;
    };
    const std::string org = *rc::gen::element<std::string>("example.com", "bbc.co.uk", "x.example");
    const std::string a = labels() + org;
    const std::string b = labels() + org;
    const auto f = psl().function();
    RC_ASSERT(aligned(a, b, AlignMode::relaxed, f));
    RC_ASSERT(aligned(b, a, AlignMode::relaxed, f));
    RC_ASSERT(aligned(a, b, AlignMode::strict, f) == aligned(b, a, AlignMode::strict, f));
    RC_ASSERT(aligned(a, b, AlignMode::strict, f) == (a == b));
    RC_ASSERT(!aligned(a, "other.net", AlignMode::relaxed, f));
}

BOOST_AUTO_TEST_SUITE_END()
