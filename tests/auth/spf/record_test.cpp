// Unit tests and properties for the SPF record parser (auth/spf/record.hpp).
#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include "auth/spf/record.hpp"

using namespace pigeon::spf;

namespace {

Record parse_ok(std::string_view text) {
    auto r = parse_record(text);
    BOOST_TEST_REQUIRE(r.ok(), "expected to parse: " << text << (r.ok() ? "" : " -- " + r.error().message));
    return r.value();
}

bool rejects(std::string_view text) { return !parse_record(text).ok(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(spf_record)

BOOST_AUTO_TEST_CASE(version_selection) {
    BOOST_TEST(is_spf_record("v=spf1"));
    BOOST_TEST(is_spf_record("V=SpF1 -all"));
    BOOST_TEST(!is_spf_record("v=spf10"));
    BOOST_TEST(!is_spf_record("v=spf1-all"));
    BOOST_TEST(!is_spf_record("spf2.0/pra"));
    BOOST_TEST(parse_ok("v=spf1").mechanisms.empty());
    BOOST_TEST(parse_ok("v=spf1   -all  ").mechanisms.size() == 1u);  // 1*SP and trailing SP
}

BOOST_AUTO_TEST_CASE(every_mechanism_and_qualifier) {
    auto r = parse_ok("v=spf1 +all -include:_spf.example.com ~a ?a:mail.example.com/24//64 mx "
                      "mx:%{d}/16 ptr ptr:example.org ip4:192.0.2.0/24 ip6:2001:db8::/32 "
                      "exists:%{i}.bl.example.net");
    BOOST_TEST_REQUIRE(r.mechanisms.size() == 11u);
    BOOST_TEST((r.mechanisms[0].kind == MechanismKind::all && r.mechanisms[0].qualifier == Qualifier::pass));
    BOOST_TEST((r.mechanisms[1].kind == MechanismKind::include && r.mechanisms[1].qualifier == Qualifier::fail));
    BOOST_TEST(r.mechanisms[1].domain_spec == "_spf.example.com");
    BOOST_TEST((r.mechanisms[2].qualifier == Qualifier::softfail && r.mechanisms[2].domain_spec.empty()));
    BOOST_TEST((r.mechanisms[3].qualifier == Qualifier::neutral));
    BOOST_TEST(r.mechanisms[3].domain_spec == "mail.example.com");
    BOOST_TEST(r.mechanisms[3].cidr4 == 24u);
    BOOST_TEST(r.mechanisms[3].cidr6 == 64u);
    BOOST_TEST((r.mechanisms[4].cidr4 == 32u && r.mechanisms[4].cidr6 == 128u));
    BOOST_TEST(r.mechanisms[5].domain_spec == "%{d}");
    BOOST_TEST(r.mechanisms[5].cidr4 == 16u);
    BOOST_TEST((r.mechanisms[6].kind == MechanismKind::ptr && r.mechanisms[6].domain_spec.empty()));
    BOOST_TEST(r.mechanisms[8].cidr4 == 24u);
    BOOST_TEST(r.mechanisms[9].cidr6 == 32u);
    BOOST_TEST((r.mechanisms[10].kind == MechanismKind::exists));
}

BOOST_AUTO_TEST_CASE(names_are_case_insensitive) {
    auto r = parse_ok("v=spf1 IP4:192.0.2.1 MX -ALL Redirect=example.com");
    BOOST_TEST(r.mechanisms.size() == 3u);
    BOOST_TEST(r.redirect.value() == "example.com");
}

BOOST_AUTO_TEST_CASE(modifiers) {
    auto r = parse_ok("v=spf1 -all exp=explain.%{d} moo.cow-far_out=man:dog/cat default=+ foo=");
    BOOST_TEST(r.exp.value() == "explain.%{d}");
    BOOST_TEST_REQUIRE(r.unknown_modifiers.size() == 3u);
    BOOST_TEST(r.unknown_modifiers[0].name == "moo.cow-far_out");
    BOOST_TEST(r.unknown_modifiers[0].value == "man:dog/cat");
    BOOST_TEST(rejects("v=spf1 exp=a.example.com exp=b.example.com"));        // twice
    BOOST_TEST(rejects("v=spf1 redirect=a.example.com redirect=a.example.com"));
    BOOST_TEST(rejects("v=spf1 exp="));                // empty domain-spec
    BOOST_TEST(rejects("v=spf1 redirect=-all"));       // a known name with a bad value is an error
    BOOST_TEST(rejects("v=spf1 foo=%abc"));            // unknown modifiers need a valid macro-string
    BOOST_TEST(rejects("v=spf1 1up=foo"));             // name must start with ALPHA
    BOOST_TEST(rejects("v=spf1 =all"));
    BOOST_TEST(rejects("v=spf1 moo.cow/far_out=man"));
    BOOST_TEST(rejects("v=spf1 redirect:example.com"));  // redirect is a modifier, not a mechanism
}

BOOST_AUTO_TEST_CASE(errors_name_the_term) {
    auto r = parse_record("v=spf1 ip4:1.2.3.4 -all moo");
    BOOST_TEST_REQUIRE(!r.ok());
    BOOST_TEST(r.error().message.find("\"moo\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(strict_syntax) {
    BOOST_TEST(rejects("v=spf1 -all."));
    BOOST_TEST(rejects("v=spf1 -all:foo"));
    BOOST_TEST(rejects("v=spf1 -all/8"));
    BOOST_TEST(rejects("v=spf1 ptr/0"));
    BOOST_TEST(rejects("v=spf1 ptr:"));
    BOOST_TEST(rejects("v=spf1 a:"));
    BOOST_TEST(rejects("v=spf1 include"));
    BOOST_TEST(rejects("v=spf1 include:example.com/24"));
    BOOST_TEST(rejects("v=spf1 exists"));
    BOOST_TEST(rejects("v=spf1 exists:mail.example.com/24"));
    BOOST_TEST(rejects("v=spf1 a:ctrl.example.com\rptr"));      // SP is the only separator
    BOOST_TEST(rejects("v=spf1 ip4:192.0.2.5\n include:x.example.com"));
    BOOST_TEST(rejects(std::string_view("v=spf1 a:foo.example.com\0", 25)));
    BOOST_TEST(rejects("v=spf1 \x80" "a:example.net -all"));   // 7-bit only
    // domain-end
    BOOST_TEST(rejects("v=spf1 a:foo-bar"));
    BOOST_TEST(rejects("v=spf1 a:museum"));
    BOOST_TEST(rejects("v=spf1 a:museum."));
    BOOST_TEST(rejects("v=spf1 a:111.222.33.44"));
    BOOST_TEST(rejects("v=spf1 a:abc.123"));
    BOOST_TEST(rejects("v=spf1 a:example.-com"));
    BOOST_TEST(rejects("v=spf1 a:example.com:8080"));
    parse_ok("v=spf1 a:foo.example.xn--zckzah");
    parse_ok("v=spf1 a:foo:bar/baz.example.com");
    parse_ok("v=spf1 a:mail.example...com");   // valid domain-spec, not a valid name (evaluation)
    parse_ok("v=spf1 a:%{H}.bar");
    parse_ok("v=spf1 include:o.spf.example.com.");
    // macros
    BOOST_TEST(rejects("v=spf1 exists:%(ir).sbl.example.com"));
    BOOST_TEST(rejects("v=spf1 exists:foo%.sbl.example.com"));
    BOOST_TEST(rejects("v=spf1 a:%{a}.example.com"));
    BOOST_TEST(rejects("v=spf1 -all exp=%{r}.example.com"));  // c r t only in exp text
    BOOST_TEST(rejects("v=spf1 exists:%{d0}.example.com"));   // zero DIGIT
    parse_ok("v=spf1 a:macro%%percent%_%_space%-url-space.example.com");
}

BOOST_AUTO_TEST_CASE(cidr_lengths) {
    BOOST_TEST(rejects("v=spf1 a/33"));
    BOOST_TEST(rejects("v=spf1 a//129"));
    BOOST_TEST(rejects("v=spf1 a/24/64"));
    BOOST_TEST(rejects("v=spf1 mx/33"));
    BOOST_TEST(rejects("v=spf1 ip4:1.2.3.4/33"));
    BOOST_TEST(rejects("v=spf1 ip4:1.2.3.4/032"));  // no leading zeros
    BOOST_TEST(rejects("v=spf1 ip4:1.2.3.4//32"));
    BOOST_TEST(rejects("v=spf1 ip6:::1.1.1.1/129"));
    BOOST_TEST(rejects("v=spf1 ip6:::1.1.1.1//33"));
    BOOST_TEST(parse_ok("v=spf1 a//0").mechanisms[0].cidr6 == 0u);
    BOOST_TEST(parse_ok("v=spf1 ip4:1.1.1.1/0").mechanisms[0].cidr4 == 0u);
    BOOST_TEST(parse_ok("v=spf1 ip6:Cafe:Babe:8000::/33").mechanisms[0].cidr6 == 33u);
}

BOOST_AUTO_TEST_CASE(ip_networks) {
    BOOST_TEST(rejects("v=spf1 ip4"));
    BOOST_TEST(rejects("v=spf1 ip4:1.2.3"));
    BOOST_TEST(rejects("v=spf1 ip4:1.2.3.4:8080"));
    BOOST_TEST(rejects("v=spf1 ip4:01.2.3.4"));
    BOOST_TEST(rejects("v=spf1 ip4:256.2.3.4"));
    BOOST_TEST(rejects("v=spf1 ip6"));
    BOOST_TEST(rejects("v=spf1 ip6::CAFE::BABE"));
    BOOST_TEST(rejects("v=spf1 ip6:1:2:3:4:5:6:7:8:9"));
    parse_ok("v=spf1 ip6:::FFFF:1.2.3.4 ip6:1:2:3:4:5:6:7:8 ip6:::");
}

BOOST_AUTO_TEST_CASE(ip_helpers) {
    BOOST_TEST(ip_text(*parse_ip("2001:DB8:0:0:1:0:0:1")) == "2001:db8::1:0:0:1");
    BOOST_TEST(ip_text(*parse_ip("CAFE:BABE::1")) == "cafe:babe::1");
    BOOST_TEST(ip_text(*parse_ip("::")) == "::");
    BOOST_TEST(ip_text(*parse_ip("1:0:2:0:3:0:4:0")) == "1:0:2:0:3:0:4:0");
    BOOST_TEST(reverse_name(*parse_ip("192.0.2.3")) == "3.2.0.192.in-addr.arpa");
    BOOST_TEST(reverse_name(*parse_ip("2001:db8::cb01")) ==
               "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    BOOST_TEST(is_ipv4(unmap(*parse_ip("::FFFF:1.2.3.4"))));
    BOOST_TEST(!is_ipv4(unmap(*parse_ip("::1.2.3.4"))));
    BOOST_TEST(in_network(*parse_ip("192.0.2.77"), *parse_ip("192.0.2.0"), 25));
    BOOST_TEST(!in_network(*parse_ip("192.0.2.177"), *parse_ip("192.0.2.0"), 25));
    BOOST_TEST(!in_network(*parse_ip("192.0.2.1"), *parse_ip("::"), 0));  // families never mix
}

RC_BOOST_PROP(parser_never_throws_on_arbitrary_text, (const std::string& tail)) {
    // Half the inputs start like a record so that the term parser is reached.
    const std::string text = *rc::gen::element(std::string("v=spf1 "), std::string()) + tail;
    auto r = parse_record(text);
    if (r.ok()) RC_ASSERT(is_spf_record(text));
}

RC_BOOST_PROP(parser_never_throws_on_term_soup, ()) {
    const auto pieces = *rc::gen::container<std::vector<std::string>>(rc::gen::element<std::string>(
        "a", "mx", "ptr", "ip4", "ip6", "all", "include", "exists", "redirect", "exp", ":", "/", "//",
        "=", "%{", "}", "%%", "%", "d", "i", "r", "2", "32", "128", ".", "-", "+", "~", "?", " ",
        "example.com", "1.2.3.4", "::1", "\t", "\0", "\xff"));
    std::string text = "v=spf1 ";
    for (const auto& p : pieces) text += p;
    auto r = parse_record(text);
    if (r.ok()) {
        for (const auto& m : r.value().mechanisms) {
            RC_ASSERT(m.cidr4 <= ip4_max_prefix);
            RC_ASSERT(m.cidr6 <= ip6_max_prefix);
        }
    } else {
        RC_ASSERT(!r.error().message.empty());
    }
}

BOOST_AUTO_TEST_SUITE_END()
