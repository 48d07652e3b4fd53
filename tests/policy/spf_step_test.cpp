// policy/spf_step.hpp: which identity SPF checks, what each result does to the reply, and the
// Received-SPF field (RFC 7208 2.4, 8, 9.1; RFC 7372 for 5.7.23).
#include "policy/spf_step.hpp"

#include <boost/test/unit_test.hpp>

using namespace pigeon;
using spf::Verdict;

namespace {

smtp::CheckSender mail_from(const std::string& path, const std::string& helo = "mail.example.org",
                            const std::string& ip = "192.0.2.10") {
    core::Envelope e;
    e.reverse_path = core::parse_reverse_path(path).value();
    e.helo = helo;
    e.client_address = ip;
    return smtp::CheckSender{e};
}

spf::SpfResult result(Verdict v, std::string explanation = {}, std::string problem = {}) {
    spf::SpfResult r;
    r.verdict = v;
    r.explanation = std::move(explanation);
    r.problem = std::move(problem);
    return r;
}

std::string reply_of(const smtp::Verdict& v) {
    return v.reply ? core::format_reply(*v.reply) : std::string("(default)");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spf_step)

BOOST_AUTO_TEST_CASE(mail_from_domain_is_the_identity) {
    auto c = policy::spf_check_for(mail_from("<Alice@Example.ORG>"), "mx.test.example", 1795000000);
    BOOST_REQUIRE(c.has_value());
    BOOST_TEST(c->request.domain == "example.org");
    BOOST_TEST(c->request.sender == "Alice@Example.ORG");
    BOOST_TEST(c->request.helo == "mail.example.org");
    BOOST_TEST(c->request.receiver == "mx.test.example");
    BOOST_TEST(c->request.now == 1795000000);
    BOOST_TEST(!c->helo_identity);
}

BOOST_AUTO_TEST_CASE(null_reverse_path_checks_the_helo_name) {
    auto c = policy::spf_check_for(mail_from("<>", "Relay.Example.NET"), "mx", 0);
    BOOST_REQUIRE(c.has_value());
    BOOST_TEST(c->request.domain == "relay.example.net");
    BOOST_TEST(c->request.sender == "postmaster@relay.example.net");
    BOOST_TEST(c->helo_identity);
}

BOOST_AUTO_TEST_CASE(no_identity_or_no_address_means_no_check) {
    BOOST_TEST(!policy::spf_check_for(mail_from("<>", "[192.0.2.1]"), "mx", 0).has_value());
    BOOST_TEST(!policy::spf_check_for(mail_from("<a@[192.0.2.1]>"), "mx", 0).has_value());
    BOOST_TEST(!policy::spf_check_for(mail_from("<a@example.org>", "h.example", "not-an-ip"), "mx", 0)
                    .has_value());
}

BOOST_AUTO_TEST_CASE(fail_is_refused_with_5_7_23_when_configured) {
    config::SpfSettings s;
    auto c = *policy::spf_check_for(mail_from("<a@example.org>"), "mx.test.example", 0);
    auto v = policy::spf_verdict(s, c, result(Verdict::fail, "192.0.2.10 is not permitted"));
    BOOST_TEST(!v.accept);
    BOOST_TEST(reply_of(v) == "550 5.7.23 SPF validation failed: 192.0.2.10 is not permitted\r\n");
    s.reject_fail = false;
    v = policy::spf_verdict(s, c, result(Verdict::fail));
    BOOST_TEST(v.accept);
    BOOST_TEST(v.prepend.rfind("Received-SPF: fail (", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(temperror_defers_with_4_4_3_or_is_recorded) {
    config::SpfSettings s;
    auto c = *policy::spf_check_for(mail_from("<a@example.org>"), "mx.test.example", 0);
    auto v = policy::spf_verdict(s, c, result(Verdict::temperror, {}, "DNS timeout"));
    BOOST_TEST(!v.accept);
    BOOST_TEST(reply_of(v) ==
               "451 4.4.3 SPF check of example.org failed temporarily (DNS); try again later\r\n");
    s.temperror = config::SpfTempErrorAction::accept;
    v = policy::spf_verdict(s, c, result(Verdict::temperror, {}, "DNS timeout"));
    BOOST_TEST(v.accept);
    BOOST_TEST(v.prepend.find("problem=\"DNS timeout\";") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(other_results_are_accepted_and_recorded) {
    config::SpfSettings s;
    auto c = *policy::spf_check_for(mail_from("<a@example.org>"), "mx.test.example", 0);
    for (auto verdict : {Verdict::pass, Verdict::none, Verdict::neutral, Verdict::softfail,
                         Verdict::permerror}) {
        auto v = policy::spf_verdict(s, c, result(verdict));
        BOOST_TEST(v.accept);
        BOOST_TEST(v.prepend.rfind(std::string("Received-SPF: ") + spf::verdict_name(verdict), 0) == 0u);
    }
}

BOOST_AUTO_TEST_CASE(received_spf_field_follows_rfc7208_9_1) {
    auto c = *policy::spf_check_for(mail_from("<a@example.org>"), "mx.test.example", 0);
    BOOST_TEST(policy::received_spf_field(c, result(Verdict::pass)) ==
               "Received-SPF: pass (mx.test.example: domain of a@example.org designates "
               "192.0.2.10 as permitted sender)\r\n"
               "\tclient-ip=192.0.2.10; envelope-from=\"a@example.org\"; helo=mail.example.org;\r\n"
               "\treceiver=mx.test.example; identity=mailfrom;\r\n");
    auto h = *policy::spf_check_for(mail_from("<>", "relay.example.net"), "mx.test.example", 0);
    BOOST_TEST(policy::received_spf_field(h, result(Verdict::none)).find("identity=helo;") !=
               std::string::npos);
    // Values that are not dot-atoms are quoted.
    auto q = *policy::spf_check_for(mail_from("<\"odd local\"@example.org>"), "mx", 0);
    BOOST_TEST(policy::received_spf_field(q, result(Verdict::pass))
                   .find("envelope-from=\"\\\"odd local\\\"@example.org\";") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
