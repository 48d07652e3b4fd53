// Unit tests and properties for Authentication-Results (auth/dmarc/auth_results.hpp): exact
// output, quoting, folding, and finding fields that carry our authserv-id.
#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include "auth/dmarc/auth_results.hpp"
#include "core/header.hpp"

using namespace pigeon;
using namespace pigeon::dmarc;

namespace {

DmarcResult pass_result() {
    DmarcResult r;
    r.verdict = Verdict::pass;
    r.from_domain = "example.com";
    r.record = *parse_record("v=DMARC1; p=reject");
    r.policy = Policy::reject;
    r.reason = DispositionReason::pass;
    return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(authentication_results)

BOOST_AUTO_TEST_CASE(short_field_on_one_line) {
    const auto h = build_authentication_results("mx.example.org", {spf_resinfo({spf::Verdict::pass, "example.com", false})});
    BOOST_TEST(h == "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=example.com\r\n");
    BOOST_TEST(build_authentication_results("mx.example.org", {}) == "Authentication-Results: mx.example.org; none\r\n");
}

BOOST_AUTO_TEST_CASE(full_field_folded_per_method) {
    const auto h = build_authentication_results(
        "mx.example.org", {spf_resinfo({spf::Verdict::pass, "example.com", false}),
                           dkim_resinfo({"example.com", "sel", DkimResult::pass, ""}), dmarc_resinfo(pass_result())});
    BOOST_TEST(h ==
               "Authentication-Results: mx.example.org;\r\n"
               "\tspf=pass smtp.mailfrom=example.com;\r\n"
               "\tdkim=pass header.d=example.com header.s=sel;\r\n"
               "\tdmarc=pass (p=reject) header.from=example.com\r\n");
}

BOOST_AUTO_TEST_CASE(property_quoting) {
    BOOST_TEST(quote_value("example.com") == "example.com");
    BOOST_TEST(quote_value("a b") == "\"a b\"");
    BOOST_TEST(quote_value("x\"y\\z") == "\"x\\\"y\\\\z\"");
    BOOST_TEST(quote_value("bad\r\nid") == "badid");
    // header.b holds base64: '/' and '=' are tspecials, so it is a quoted-string.
    const auto dkim = build_authentication_results("mx", {dkim_resinfo({"ex.com", "", DkimResult::fail, "ab/c+d=="})});
    BOOST_TEST(dkim == "Authentication-Results: mx; dkim=fail header.d=ex.com header.b=\"ab/c+d==\"\r\n");
    // local@domain is the pvalue form; a local-part that is not a dot-atom is quoted.
    SpfInput spf{spf::Verdict::softfail, "bounce+x@example.com", false};
    BOOST_TEST(build_authentication_results("mx", {spf_resinfo(spf)}) ==
               "Authentication-Results: mx; spf=softfail smtp.mailfrom=bounce+x@example.com\r\n");
    spf.domain = "a b@example.com";
    BOOST_TEST(build_authentication_results("mx", {spf_resinfo(spf)}) ==
               "Authentication-Results: mx; spf=softfail smtp.mailfrom=\"a b\"@example.com\r\n");
    spf.domain = "helo.example.net";
    spf.helo = true;
    BOOST_TEST(build_authentication_results("mx", {spf_resinfo(spf)}) ==
               "Authentication-Results: mx; spf=softfail smtp.helo=helo.example.net\r\n");
    // Comments escape parentheses.
    ResInfo r{"x-test", "pass", "a (b) \\ c", {}};
    BOOST_TEST(build_authentication_results("mx", {r}) == "Authentication-Results: mx; x-test=pass (a \\(b\\) \\\\ c)\r\n");
    // An authserv-id that is not a token is quoted.
    BOOST_TEST(build_authentication_results("my host", {}) == "Authentication-Results: \"my host\"; none\r\n");
}

BOOST_AUTO_TEST_CASE(dmarc_comments) {
    DmarcResult r = pass_result();
    r.verdict = Verdict::fail;
    r.record = *parse_record("v=DMARC1; p=reject; sp=none; pct=10");
    r.policy_source = PolicySource::sp;
    r.policy = Policy::none;
    r.reason = DispositionReason::policy;
    BOOST_TEST(build_authentication_results("mx", {dmarc_resinfo(r)}) ==
               "Authentication-Results: mx;\r\n\tdmarc=fail (p=reject sp=none) header.from=example.com\r\n");
    r.policy_source = PolicySource::p;
    r.policy = Policy::reject;
    r.reason = DispositionReason::sampled_out;
    r.disposition = Disposition::quarantine;
    BOOST_TEST(build_authentication_results("mx", {dmarc_resinfo(r)}) ==
               "Authentication-Results: mx;\r\n\tdmarc=fail (p=reject dis=quarantine) header.from=example.com\r\n");
    DmarcResult none;
    none.from_domain = "example.com";
    BOOST_TEST(build_authentication_results("mx", {dmarc_resinfo(none)}) ==
               "Authentication-Results: mx; dmarc=none header.from=example.com\r\n");
}

BOOST_AUTO_TEST_CASE(overlong_resinfo_folds_between_properties) {
    DkimInput d{"a-very-long-signing-domain-name.subdomain.example.com", "selector-2024-rotation-b", DkimResult::pass,
                "abcdefgh"};
    const auto h = build_authentication_results("mx.example.org", {dkim_resinfo(d)});
    BOOST_TEST(h ==
               "Authentication-Results: mx.example.org;\r\n"
               "\tdkim=pass header.d=a-very-long-signing-domain-name.subdomain.example.com\r\n"
               "\t\theader.s=selector-2024-rotation-b header.b=abcdefgh\r\n");
}

BOOST_AUTO_TEST_CASE(find_and_strip_our_results) {
    const std::string ours = build_authentication_results(
        "MX.Example.ORG", {spf_resinfo({spf::Verdict::pass, "example.com", false}),
                           dkim_resinfo({"example.com", "sel", DkimResult::pass, ""}), dmarc_resinfo(pass_result())});
    const std::string message = "Received: from x\r\n" + ours +
                                "Authentication-Results: other.example; spf=fail smtp.mailfrom=x\r\n"
                                "Authentication-Results: (comment) \"mx.example.org\"; dkim=pass\r\n"
                                "Authentication-Results: mx.example.org.evil; none\r\n"
                                "Subject: hi\r\n\r\nAuthentication-Results: mx.example.org; body\r\n";
    BOOST_TEST(authserv_id_of(" (c (nested)) host.example ; x") == "host.example");
    BOOST_TEST(authserv_id_of("\"q\\\"id\"; x") == "q\"id");
    BOOST_TEST(authserv_id_of("  ") == "");
    auto found = find_our_results(message, "mx.example.org");
    BOOST_REQUIRE(found.ok());
    BOOST_REQUIRE(found->size() == 2u);
    BOOST_TEST((*found)[0].index == 1u);
    BOOST_TEST(message.substr((*found)[0].offset, (*found)[0].length) == ours);
    BOOST_TEST((*found)[1].index == 3u);

    auto stripped = strip_our_results(message, "mx.example.org");
    BOOST_REQUIRE(stripped.ok());
    BOOST_TEST(stripped.value() ==
               "Received: from x\r\n"
               "Authentication-Results: other.example; spf=fail smtp.mailfrom=x\r\n"
               "Authentication-Results: mx.example.org.evil; none\r\n"
               "Subject: hi\r\n\r\nAuthentication-Results: mx.example.org; body\r\n");
    auto renamed = strip_our_results("Authentication-Results: mx; none\r\n\r\n", "mx", "X-Original-Authentication-Results");
    BOOST_REQUIRE(renamed.ok());
    BOOST_TEST(renamed.value() == "X-Original-Authentication-Results: mx; none\r\n\r\n");
    BOOST_TEST(find_our_results("bad line\r\n", "mx").ok());
    BOOST_TEST(find_our_results("bad line\r\n", "mx")->empty());
}

// RFC 8601 5: removed always, also when the header does not parse as a whole: a line without
// a colon, a continuation of nothing or a bad name character must not hide our forged field,
// and neither may white space before the colon.
BOOST_AUTO_TEST_CASE(our_results_found_in_a_malformed_header) {
    const std::string message =
        "  continuation of nothing\r\n"
        "Received: from x\r\n"
        "this line has no colon\r\n"
        "Authentication-Results: mx.example.org; dmarc=pass\r\n"
        "\theader.from=bank.example\r\n"
        "Bad Name\x01: y\r\n"
        "Authentication-Results : MX.example.org; dkim=pass\r\n"
        "Authentication-Results: other.example; dkim=fail\r\n"
        "Subject: hi\r\n"
        "\r\n"
        "Authentication-Results: mx.example.org; body stays\r\n";
    BOOST_TEST(!core::parse_header(message).ok());
    auto found = find_our_results(message, "mx.example.org");
    BOOST_REQUIRE(found.ok());
    BOOST_REQUIRE(found->size() == 2u);
    BOOST_TEST(message.substr((*found)[0].offset, (*found)[0].length) ==
               "Authentication-Results: mx.example.org; dmarc=pass\r\n\theader.from=bank.example\r\n");
    auto renamed = strip_our_results(message, "mx.example.org", "X-Original-Authentication-Results");
    BOOST_REQUIRE(renamed.ok());
    BOOST_TEST(renamed.value() ==
               "  continuation of nothing\r\n"
               "Received: from x\r\n"
               "this line has no colon\r\n"
               "X-Original-Authentication-Results: mx.example.org; dmarc=pass\r\n"
               "\theader.from=bank.example\r\n"
               "Bad Name\x01: y\r\n"
               "X-Original-Authentication-Results: MX.example.org; dkim=pass\r\n"
               "Authentication-Results: other.example; dkim=fail\r\n"
               "Subject: hi\r\n"
               "\r\n"
               "Authentication-Results: mx.example.org; body stays\r\n");
    // A message with no header end and a final field without CRLF.
    auto last = strip_our_results("Authentication-Results: mx.example.org; none", "mx.example.org");
    BOOST_REQUIRE(last.ok());
    BOOST_TEST(last.value() == "");
}

// Our output always parses back as one field: name, value, no bare CR or LF, our id found.
RC_BOOST_PROP(output_is_one_well_formed_field, (const std::string& id, const std::string& domain,
                                                 const std::string& selector, const std::string& b)) {
    const std::string authserv = id.empty() ? "mx" : id;
    const auto h = build_authentication_results(
        authserv, {spf_resinfo({spf::Verdict::pass, domain, false}), dkim_resinfo({domain, selector, DkimResult::pass, b}),
                   dmarc_resinfo(pass_result())});
    RC_ASSERT(h.size() >= 2u);
    RC_ASSERT(h.substr(h.size() - 2) == "\r\n");
    for (std::size_t i = 0; i < h.size(); ++i) {
        if (h[i] == '\r') RC_ASSERT(i + 1 < h.size() && h[i + 1] == '\n');
        if (h[i] == '\n') RC_ASSERT(i > 0 && h[i - 1] == '\r');
        // A line break is a fold (followed by WSP) or the end.
        if (h[i] == '\n' && i + 1 < h.size()) RC_ASSERT(h[i + 1] == '\t' || h[i + 1] == ' ');
    }
    auto fields = core::parse_header(h);
    RC_ASSERT(fields.ok());
    RC_ASSERT(fields->size() == 1u);
    RC_ASSERT(core::field_is(fields->front(), "Authentication-Results"));
    // The id reads back unless it had only control characters (then it is empty, quoted).
    std::string clean;
    for (char c : authserv)
        if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) clean += c;
    auto found = find_our_results(h, clean);
    RC_ASSERT(found.ok());
    RC_ASSERT(found->size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
