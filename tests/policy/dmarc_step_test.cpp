// policy/dmarc_step.hpp: the end-of-DATA verdict from a DMARC result, and the inputs it is
// built from (SPF's typed outcome at MAIL FROM, DKIM's signatures).
#include "policy/dmarc_step.hpp"
#include "policy/spf_step.hpp"

#include <boost/test/unit_test.hpp>

using namespace pigeon;

namespace {

dmarc::DmarcResult result(dmarc::Verdict verdict, dmarc::Disposition disposition,
                          std::string domain = "example.com") {
    dmarc::DmarcResult r;
    r.verdict = verdict;
    r.disposition = disposition;
    r.from_domain = domain;
    r.policy = disposition == dmarc::Disposition::reject       ? dmarc::Policy::reject
               : disposition == dmarc::Disposition::quarantine ? dmarc::Policy::quarantine
                                                               : dmarc::Policy::none;
    r.reason = verdict == dmarc::Verdict::pass ? dmarc::DispositionReason::pass
                                               : dmarc::DispositionReason::policy;
    return r;
}

std::string reply_of(const smtp::Verdict& v) {
    return v.reply ? core::format_reply(*v.reply) : std::string("(default)");
}

const dmarc::SpfInput spf_pass{spf::Verdict::pass, "example.com", false};

}  // namespace

BOOST_AUTO_TEST_SUITE(dmarc_step)

BOOST_AUTO_TEST_CASE(spf_input_comes_from_the_mail_from_outcome) {
    core::Envelope e;
    e.sender_facts = policy::SpfOutcome{spf::Verdict::softfail, "example.org", true};
    auto in = policy::spf_input_from(e);
    BOOST_TEST((in.verdict == spf::Verdict::softfail));
    BOOST_TEST(in.domain == "example.org");
    BOOST_TEST(in.helo);
    auto none = policy::spf_input_from(core::Envelope{});
    BOOST_TEST((none.verdict == spf::Verdict::none));
    BOOST_TEST(none.domain.empty());
    // Facts of another type (not the policy's) are not mistaken for an SPF outcome.
    core::Envelope other;
    other.sender_facts = std::string("spf.result=pass");
    BOOST_TEST((policy::spf_input_from(other).verdict == spf::Verdict::none));
}

// The MAIL FROM verdict's facts, carried by the session into the envelope, are DMARC's input.
BOOST_AUTO_TEST_CASE(spf_verdict_feeds_dmarc_input) {
    core::Envelope e;
    e.client_address = "192.0.2.1";
    e.helo = "client.example.org";
    e.reverse_path = core::parse_reverse_path("<bob@Example.ORG>").value();
    auto check = policy::spf_check_for(pigeon::smtp::CheckSender{e}, "mx.example", 0);
    BOOST_REQUIRE(check.has_value());
    spf::SpfResult r;
    r.verdict = spf::Verdict::pass;
    auto v = policy::spf_verdict(config::SpfSettings{}, *check, r);
    e.sender_facts = v.sender_facts;
    auto in = policy::spf_input_from(e);
    BOOST_TEST((in.verdict == spf::Verdict::pass));
    BOOST_TEST(in.domain == "example.org");
    BOOST_TEST(!in.helo);
}

BOOST_AUTO_TEST_CASE(dkim_inputs_keep_domain_selector_result_and_b) {
    dkim::DkimVerification v;
    dkim::SignatureResult s;
    s.status = dkim::Status::fail;
    s.domain = "example.com";
    s.selector = "sel";
    s.b_prefix = "abcd1234";
    v.signatures = {s};
    auto in = policy::dkim_inputs_from(v);
    BOOST_REQUIRE(in.size() == 1u);
    BOOST_TEST((in[0].result == dmarc::DkimResult::fail));
    BOOST_TEST(in[0].domain == "example.com");
    BOOST_TEST(in[0].selector == "sel");
    BOOST_TEST(in[0].header_b == "abcd1234");
}

BOOST_AUTO_TEST_CASE(reject_is_refused_with_the_rfc_text) {
    config::DmarcSettings s;
    auto v = policy::dmarc_verdict(s, "mx.test.example", spf_pass, {},
                                result(dmarc::Verdict::fail, dmarc::Disposition::reject));
    BOOST_TEST(!v.accept);
    BOOST_TEST(reply_of(v) == "550 5.7.1 Unauthenticated email from example.com is not accepted "
                              "due to domain's DMARC policy\r\n");
}

BOOST_AUTO_TEST_CASE(never_reject_and_quarantine_go_to_junk_with_authentication_results) {
    config::DmarcSettings s;
    s.never_reject = {"Example.COM"};
    auto v = policy::dmarc_verdict(s, "mx.test.example", spf_pass, {},
                                result(dmarc::Verdict::fail, dmarc::Disposition::reject));
    BOOST_TEST(v.accept);
    BOOST_TEST(v.folder == "Junk");
    BOOST_TEST(v.prepend.rfind("Authentication-Results: mx.test.example;", 0) == 0u);
    v = policy::dmarc_verdict(config::DmarcSettings{}, "mx", spf_pass, {},
                           result(dmarc::Verdict::fail, dmarc::Disposition::quarantine));
    BOOST_TEST(v.accept);
    BOOST_TEST(v.folder == "Junk");
}

BOOST_AUTO_TEST_CASE(not_enforcing_only_records) {
    config::DmarcSettings s;
    s.enforce = false;
    auto v = policy::dmarc_verdict(s, "mx", spf_pass, {},
                                result(dmarc::Verdict::fail, dmarc::Disposition::reject));
    BOOST_TEST(v.accept);
    BOOST_TEST(v.folder.empty());
    BOOST_TEST(v.prepend.find("dmarc=fail") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(temperror_defers_with_4_7_5_or_is_recorded) {
    config::DmarcSettings s;
    auto v = policy::dmarc_verdict(s, "mx", spf_pass, {},
                                result(dmarc::Verdict::temperror, dmarc::Disposition::none));
    BOOST_TEST(reply_of(v) ==
               "451 4.7.5 DMARC check of example.com failed temporarily (DNS); try again later\r\n");
    s.temperror = config::SpfTempErrorAction::accept;
    v = policy::dmarc_verdict(s, "mx", spf_pass, {},
                           result(dmarc::Verdict::temperror, dmarc::Disposition::none));
    BOOST_TEST(v.accept);
}

BOOST_AUTO_TEST_CASE(a_message_without_one_from_domain_is_refused) {
    auto r = result(dmarc::Verdict::permerror, dmarc::Disposition::reject, "");
    r.reason = dmarc::DispositionReason::malformed_from;
    r.problem = "no From field";
    auto v = policy::dmarc_verdict(config::DmarcSettings{}, "mx", spf_pass, {}, r);
    BOOST_TEST(reply_of(v) ==
               "550 5.7.1 Message must have exactly one From: domain (RFC 7489 6.6.1): no From "
               "field\r\n");
}

BOOST_AUTO_TEST_CASE(pass_is_delivered_with_every_method_recorded) {
    std::vector<dmarc::DkimInput> dkim{{"example.com", "sel", dmarc::DkimResult::pass, "abcd1234"}};
    auto v = policy::dmarc_verdict(config::DmarcSettings{}, "mx.test.example", spf_pass, dkim,
                                result(dmarc::Verdict::pass, dmarc::Disposition::none));
    BOOST_TEST(v.accept);
    BOOST_TEST(v.folder.empty());
    BOOST_TEST(v.prepend.find("spf=pass smtp.mailfrom=example.com") != std::string::npos, v.prepend);
    BOOST_TEST(v.prepend.find("dkim=pass header.d=example.com header.s=sel") != std::string::npos,
               v.prepend);
    BOOST_TEST(v.prepend.find("dmarc=pass") != std::string::npos, v.prepend);
    BOOST_TEST(v.prepend.substr(v.prepend.size() - 2) == "\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
