// Unit tests and properties for the DMARC record parser (auth/dmarc/record.hpp).
#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include "auth/dmarc/dmarc_print.hpp"
#include "auth/dmarc/record.hpp"

using namespace pigeon::dmarc;

BOOST_AUTO_TEST_SUITE(dmarc_record)

BOOST_AUTO_TEST_CASE(minimal_and_defaults) {
    auto r = parse_record("v=DMARC1; p=reject");
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r->p == Policy::reject);
    BOOST_TEST(!r->sp.has_value());
    BOOST_TEST(!r->np.has_value());
    BOOST_TEST(r->adkim == AlignMode::relaxed);
    BOOST_TEST(r->aspf == AlignMode::relaxed);
    BOOST_TEST(r->pct == 100u);
    BOOST_TEST(r->fo == "0");
    BOOST_TEST(r->ri == 86400u);
    BOOST_TEST(r->rf.size() == 1u);
    BOOST_TEST(r->warnings.empty());
    BOOST_TEST(!r->p_fallback);
}

BOOST_AUTO_TEST_CASE(every_tag) {
    auto r = parse_record(
        "v=DMARC1 ;p = quarantine; sp=NONE; np=reject; adkim=s; aspf=S; pct=25; fo=1:d:s; "
        "rua=mailto:agg@example.com!10m, mailto:b@example.net; ruf=mailto:f@example.com!500k; "
        "ri=3600; rf=afrf:iodef;");
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r->p == Policy::quarantine);
    BOOST_TEST((r->sp == Policy::none));
    BOOST_TEST((r->np == Policy::reject));
    BOOST_TEST(r->adkim == AlignMode::strict);
    BOOST_TEST(r->aspf == AlignMode::strict);
    BOOST_TEST(r->pct == 25u);
    BOOST_TEST(r->fo == "1:d:s");
    BOOST_REQUIRE(r->rua.size() == 2u);
    BOOST_TEST(r->rua[0].uri == "mailto:agg@example.com");
    BOOST_TEST(r->rua[0].max_bytes == 10ull << 20);
    BOOST_TEST(r->rua[0].mailto);
    BOOST_TEST(r->rua[1].max_bytes == 0u);
    BOOST_REQUIRE(r->ruf.size() == 1u);
    BOOST_TEST(r->ruf[0].max_bytes == 500ull << 10);
    BOOST_TEST(r->ri == 3600u);
    BOOST_TEST(r->rf.size() == 2u);
    BOOST_TEST(r->warnings.empty());
}

BOOST_AUTO_TEST_CASE(version_must_come_first) {
    BOOST_TEST(!parse_record("p=none; v=DMARC1").ok());
    BOOST_TEST(!parse_record("").ok());
    BOOST_TEST(!parse_record("v=DMARC2; p=none").ok());
    BOOST_TEST(!parse_record("v=dmarc1; p=none").ok());  // the value is case-sensitive (%x)
    BOOST_TEST(parse_record("V=DMARC1; p=none").ok());   // the tag name is not
    BOOST_TEST(!parse_record("v=DMARC1x; p=none").ok());
    BOOST_TEST(is_dmarc_record("v=DMARC1"));
    BOOST_TEST(is_dmarc_record("v = DMARC1 ;p=none"));
    BOOST_TEST(!is_dmarc_record("v=spf1 -all"));
    BOOST_TEST(!is_dmarc_record(" x=1; v=DMARC1"));
}

BOOST_AUTO_TEST_CASE(p_required_unless_rua) {
    BOOST_TEST(!parse_record("v=DMARC1").ok());
    BOOST_TEST(!parse_record("v=DMARC1; pct=100").ok());
    BOOST_TEST(!parse_record("v=DMARC1; p=bob").ok());
    BOOST_TEST(!parse_record("v=DMARC1; p=n").ok());
    BOOST_TEST(!parse_record("v=DMARC1; p=none; sp=bob").ok());
    BOOST_TEST(!parse_record("v=DMARC1; p=bogus; rua=not a uri").ok());
    // RFC 7489 6.6.3 step 6.1: a valid rua turns it into p=none.
    auto r = parse_record("v=DMARC1; p=bogus; rua=mailto:r@example.com");
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r->p == Policy::none);
    BOOST_TEST(r->p_fallback);
    auto r2 = parse_record("v=DMARC1; rua=mailto:r@example.com; sp=reject");
    BOOST_REQUIRE(r2.ok());
    BOOST_TEST(r2->p_fallback);
    BOOST_TEST(!r2->sp.has_value());
    BOOST_TEST(parse_record("v=DMARC1; p=REJECT").ok());
}

BOOST_AUTO_TEST_CASE(bad_values_fall_back_to_defaults) {
    auto r = parse_record("v=DMARC1; p=reject; adkim=x; aspf=; pct=101; fo=2; ri=-1; rf=a_b; np=maybe; "
                          "rua=mailto:a@b.example!0, nouri, mailto:c@d.example; ruf=mailto:x@y!99999999999999999999t");
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r->adkim == AlignMode::relaxed);
    BOOST_TEST(r->aspf == AlignMode::relaxed);
    BOOST_TEST(r->pct == 100u);
    BOOST_TEST(r->fo == "0");
    BOOST_TEST(r->ri == 86400u);
    BOOST_TEST(r->rf.front() == "afrf");
    BOOST_TEST(!r->np.has_value());
    BOOST_REQUIRE(r->rua.size() == 1u);
    BOOST_TEST(r->rua[0].uri == "mailto:c@d.example");
    BOOST_TEST(r->ruf.empty());
    BOOST_TEST(r->warnings.size() == 10u);
}

BOOST_AUTO_TEST_CASE(unknown_and_repeated_tags) {
    auto r = parse_record("v=DMARC1; p=none; foo=bar; buzz=happy; p=reject; pct=0");
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r->p == Policy::none);  // the first p wins
    BOOST_TEST(r->pct == 0u);
    BOOST_TEST(r->warnings.size() == 1u);
}

BOOST_AUTO_TEST_CASE(size_suffixes) {
    auto r = parse_record("v=DMARC1; p=none; rua=mailto:a@x!1,mailto:b@x!2k,mailto:c@x!3G,mailto:d@x!4t");
    BOOST_REQUIRE(r.ok());
    BOOST_REQUIRE(r->rua.size() == 4u);
    BOOST_TEST(r->rua[0].max_bytes == 1u);
    BOOST_TEST(r->rua[1].max_bytes == 2048u);
    BOOST_TEST(r->rua[2].max_bytes == 3ull << 30);
    BOOST_TEST(r->rua[3].max_bytes == 4ull << 40);
}

RC_BOOST_PROP(parser_never_throws_and_is_deterministic, (const std::string& tail)) {
    const std::string text = *rc::gen::element(std::string(""), std::string("v=DMARC1;"), std::string("v=DMARC1; p=none;")) + tail;
    auto a = parse_record(text);
    auto b = parse_record(text);
    RC_ASSERT(a.ok() == b.ok());
    if (a.ok()) {
        RC_ASSERT(is_dmarc_record(text));
        RC_ASSERT(a->pct <= max_pct);
        RC_ASSERT(a->warnings == b->warnings);
    } else {
        RC_ASSERT(!a.error().message.empty());
    }
}

RC_BOOST_PROP(parser_survives_tag_soup, ()) {
    const auto tags = *rc::gen::container<std::vector<std::string>>(rc::gen::element<std::string>(
        "p=none", "p=reject", "sp=x", "np=quarantine", "pct=50", "pct=x", "rua=mailto:a@b", "rua=!", "fo=1",
        "adkim=s", "aspf=q", "ri=", "=", "", " ", "rf=", "ruf=mailto:x@y!9t"));
    std::string text = "v=DMARC1";
    for (const auto& t : tags) text += ";" + t;
    auto r = parse_record(text);
    if (r.ok()) RC_ASSERT(r->pct <= max_pct);
}

BOOST_AUTO_TEST_SUITE_END()
