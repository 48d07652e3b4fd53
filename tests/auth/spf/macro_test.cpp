// Unit tests and properties for SPF macro expansion (auth/spf/macro.hpp), including every
// example of RFC 7208 section 7.4 verbatim.
#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include "auth/spf/macro.hpp"

using namespace pigeon::spf;

namespace {

// RFC 7208 7.4: "The <sender> is strong-bad@email.example.com. The IPv4 SMTP client IP is
// 192.0.2.3. The IPv6 SMTP client IP is 2001:db8::cb01. The PTR domain name of the client
// IP is mx.example.org."
MacroContext rfc_context(const char* ip = "192.0.2.3") {
    MacroContext c;
    c.sender = "strong-bad@email.example.com";
    c.local_part = "strong-bad";
    c.sender_domain = "email.example.com";
    c.domain = "email.example.com";
    c.ip = *parse_ip(ip);
    c.helo = "mx.example.org";
    c.receiver = "mx.example.net";
    c.timestamp = 1700000000;
    c.validated_name = [] { return std::string("mx.example.org"); };
    return c;
}

std::string expand(std::string_view text, const MacroContext& c = rfc_context(),
                   MacroMode mode = MacroMode::domain_spec) {
    auto r = expand_macros(text, mode, c);
    BOOST_TEST_REQUIRE(r.ok(), "failed to expand " << text);
    return r.value();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spf_macro)

BOOST_AUTO_TEST_CASE(rfc7208_section_7_4_examples) {
    BOOST_TEST(expand("%{s}") == "strong-bad@email.example.com");
    BOOST_TEST(expand("%{o}") == "email.example.com");
    BOOST_TEST(expand("%{d}") == "email.example.com");
    BOOST_TEST(expand("%{d4}") == "email.example.com");
    BOOST_TEST(expand("%{d3}") == "email.example.com");
    BOOST_TEST(expand("%{d2}") == "example.com");
    BOOST_TEST(expand("%{d1}") == "com");
    BOOST_TEST(expand("%{dr}") == "com.example.email");
    BOOST_TEST(expand("%{d2r}") == "example.email");
    BOOST_TEST(expand("%{l}") == "strong-bad");
    BOOST_TEST(expand("%{l-}") == "strong.bad");
    BOOST_TEST(expand("%{lr}") == "strong-bad");
    BOOST_TEST(expand("%{lr-}") == "bad.strong");
    BOOST_TEST(expand("%{l1r-}") == "strong");

    BOOST_TEST(expand("%{ir}.%{v}._spf.%{d2}") == "3.2.0.192.in-addr._spf.example.com");
    BOOST_TEST(expand("%{lr-}.lp._spf.%{d2}") == "bad.strong.lp._spf.example.com");
    BOOST_TEST(expand("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}") ==
               "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
    BOOST_TEST(expand("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}") ==
               "3.2.0.192.in-addr.strong.lp._spf.example.com");
    BOOST_TEST(expand("%{d2}.trusted-domains.example.net") == "example.com.trusted-domains.example.net");

    const auto v6 = rfc_context("2001:db8::cb01");
    BOOST_TEST(expand("%{ir}.%{v}._spf.%{d2}", v6) ==
               "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

BOOST_AUTO_TEST_CASE(escapes_and_url_encoding) {
    BOOST_TEST(expand("macro%%percent%_%_space%-url-space") == "macro%percent  space%20url-space");
    MacroContext c = rfc_context();
    c.local_part = "~jack&jill=up-a_b3.c";
    BOOST_TEST(expand("http://example.com/why.html?l=%{L}", c, MacroMode::explanation) ==
               "http://example.com/why.html?l=~jack%26jill%3Dup-a_b3.c");
    BOOST_TEST(expand("%{S}") == "strong-bad%40email.example.com");
    BOOST_TEST(url_escape("a b/\xff") == "a%20b%2F%FF");
}

BOOST_AUTO_TEST_CASE(explanation_only_letters) {
    const auto c = rfc_context();
    BOOST_TEST(expand("%{c} %{r} %{t}", c, MacroMode::explanation) == "192.0.2.3 mx.example.net 1700000000");
    BOOST_TEST(expand("%{c}", rfc_context("2001:db8::cb01"), MacroMode::explanation) == "2001:db8::cb01");
    BOOST_TEST(check_macro_string("%{c}", MacroMode::domain_spec).has_value());
    BOOST_TEST(check_macro_string("%{r}", MacroMode::domain_spec).has_value());
    BOOST_TEST(check_macro_string("%{t}", MacroMode::domain_spec).has_value());
    // SP is literal text in explanations only.
    BOOST_TEST(check_macro_string("a b", MacroMode::domain_spec).has_value());
    BOOST_TEST(!check_macro_string("a b", MacroMode::explanation).has_value());
}

BOOST_AUTO_TEST_CASE(p_and_v_and_h) {
    BOOST_TEST(expand("%{p}") == "mx.example.org");
    MacroContext c = rfc_context();
    c.validated_name = nullptr;
    BOOST_TEST(expand("%{p}", c) == "unknown");
    BOOST_TEST(expand("%{v}") == "in-addr");
    BOOST_TEST(expand("%{v}", rfc_context("2001:db8::cb01")) == "ip6");
    BOOST_TEST(expand("%{h}") == "mx.example.org");
    BOOST_TEST(expand("%{H}") == "mx.example.org");
}

BOOST_AUTO_TEST_CASE(transformers_and_delimiters) {
    MacroContext c = rfc_context();
    c.local_part = "foo-bar+zip+quux";
    BOOST_TEST(expand("%{l2r+-}", c) == "bar.foo");
    BOOST_TEST(expand("%{l=+,/_-}", c) == "foo.bar.zip.quux");
    BOOST_TEST(expand("%{d999999999999999999999}") == "email.example.com");  // more parts than exist
    BOOST_TEST(expand("%{DR}") == "com.example.email");
}

BOOST_AUTO_TEST_CASE(syntax_errors) {
    for (const char* bad : {"%", "%x", "%{", "%{d", "%{}", "%{a}", "%{d0}", "%{d2rr}", "%{d!}", "%(ir)",
                            "a\tb", "\x80"}) {
        BOOST_TEST(check_macro_string(bad, MacroMode::explanation).has_value(), bad);
        BOOST_TEST(!expand_macros(bad, MacroMode::explanation, rfc_context()).ok(), bad);
    }
    BOOST_TEST(!check_macro_string("", MacroMode::domain_spec).has_value());
}

BOOST_AUTO_TEST_CASE(truncation_removes_labels_from_the_left) {
    // 6 + 7 + 4 * 59 + 11 = 260 octets: "first." leaves 254, still too long, so "second." goes too.
    const std::string label(58, 'x');
    const std::string name = "first.second." + label + "." + label + "." + label + "." + label + ".example.com";
    BOOST_TEST_REQUIRE(name.size() > max_domain_octets);
    const std::string t = truncate_domain(name);
    BOOST_TEST(t.size() <= max_domain_octets);
    BOOST_TEST(t == label + "." + label + "." + label + "." + label + ".example.com");
    BOOST_TEST(truncate_domain("example.com.") == "example.com");
}

RC_BOOST_PROP(check_and_expand_agree_and_never_throw, (const std::string& text)) {
    for (auto mode : {MacroMode::domain_spec, MacroMode::explanation}) {
        const bool valid = !check_macro_string(text, mode).has_value();
        auto r = expand_macros(text, mode, rfc_context());
        RC_ASSERT(valid == r.ok());
    }
}

RC_BOOST_PROP(macro_soup_expands_within_bounds, ()) {
    const auto pieces = *rc::gen::container<std::vector<std::string>>(rc::gen::element<std::string>(
        "%{", "}", "s", "l", "o", "d", "i", "p", "h", "v", "c", "r", "t", "S", "I", "1", "2", "9", "R",
        ".", "-", "+", ",", "/", "_", "=", "%%", "%_", "%-", "x", "%"));
    std::string text;
    for (const auto& p : pieces) text += p;
    auto r = expand_macros(text, MacroMode::explanation, rfc_context("2001:db8::cb01"));
    if (r.ok()) {
        // Each macro adds at most its value URL-encoded (3x) plus separators: loosely bounded.
        RC_ASSERT(r.value().size() <= 300 * (text.size() + 1));
    }
}

BOOST_AUTO_TEST_CASE(asks_for_validated_name_only_when_a_p_macro_is_reached) {
    BOOST_TEST(asks_for_validated_name("%{p}.example.com", MacroMode::domain_spec));
    BOOST_TEST(asks_for_validated_name("%{d}.%{P2r}", MacroMode::domain_spec));
    BOOST_TEST(!asks_for_validated_name("%{d}.%{i}", MacroMode::domain_spec));
    BOOST_TEST(!asks_for_validated_name("%%{p}", MacroMode::domain_spec));    // an escaped '%'
    BOOST_TEST(!asks_for_validated_name("%{x}.%{p}", MacroMode::domain_spec));  // error first
    BOOST_TEST(asks_for_validated_name("%{p} %{x}", MacroMode::explanation));   // p first
}

// The evaluator looks %{p} up beforehand exactly when the expander would ask for it.
RC_BOOST_PROP(asks_for_validated_name_matches_what_expansion_reads, ()) {
    const auto pieces = *rc::gen::container<std::vector<std::string>>(rc::gen::element<std::string>(
        "%{", "}", "p", "P", "d", "t", "1", "r", ".", "%%", "%", "x", " "));
    std::string text;
    for (const auto& p : pieces) text += p;
    const auto mode = *rc::gen::element(MacroMode::domain_spec, MacroMode::explanation);
    bool called = false;
    MacroContext c = rfc_context();
    c.validated_name = [&called] {
        called = true;
        return std::string("mx.example.org");
    };
    (void)expand_macros(text, mode, c);
    RC_ASSERT(asks_for_validated_name(text, mode) == called);
}

BOOST_AUTO_TEST_SUITE_END()
