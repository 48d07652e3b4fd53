// Unit tests for the tag-list parser, the header section reader and canonicalization.
#include <boost/test/unit_test.hpp>

#include "auth/dkim/canon.hpp"
#include "auth/dkim/record.hpp"
#include "auth/dkim/tag_list.hpp"
#include "auth/dkim/dkim_support.hpp"

using namespace pigeon::dkim;

BOOST_AUTO_TEST_SUITE(dkim_tag_list)

BOOST_AUTO_TEST_CASE(accepts_rfc_syntax) {
    auto r = parse_tag_list(" v = 1 ;\r\n\ta=rsa-sha256; h=From : To;  ");
    BOOST_TEST_REQUIRE(r.ok());
    BOOST_TEST(r.value().tags.size() == 3u);
    BOOST_TEST(r.value().find("v")->value == "1");
    BOOST_TEST(r.value().find("h")->value == "From : To");
    BOOST_TEST(parse_tag_list("a=b;").ok());
    BOOST_TEST(parse_tag_list("").ok());
    BOOST_TEST(parse_tag_list("a=").value().find("a")->value == "");
    BOOST_TEST(parse_tag_list("a_1=x").ok());
}

BOOST_AUTO_TEST_CASE(rejects_bad_lists) {
    BOOST_TEST(!parse_tag_list("a=1; a=2").ok());       // duplicate
    BOOST_TEST(!parse_tag_list("a=1;;b=2").ok());       // empty tag-spec
    BOOST_TEST(!parse_tag_list("a").ok());              // no '='
    BOOST_TEST(!parse_tag_list("1a=x").ok());           // name starts with a digit
    BOOST_TEST(!parse_tag_list("a-b=x").ok());          // '-' in a name
    BOOST_TEST(!parse_tag_list("a=x\x01y").ok());       // control character in a value
    BOOST_TEST(!parse_tag_list("a=x\r\nb=y").ok());     // a line break that is not a fold
    BOOST_TEST(!parse_tag_list(";").ok());
}

BOOST_AUTO_TEST_CASE(offsets_point_at_values) {
    std::string text = "v=1; b=ab\r\n cd; bh=x";
    auto r = parse_tag_list(text);
    BOOST_TEST_REQUIRE(r.ok());
    const Tag* b = r.value().find("b");
    BOOST_TEST(text.substr(b->value_begin, b->value_end - b->value_begin) == "ab\r\n cd");
    BOOST_TEST(strip_fws(b->value) == "abcd");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dkim_key_record)

BOOST_AUTO_TEST_CASE(good_records) {
    auto k = parse_key_record("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
    BOOST_TEST_REQUIRE(k.ok());
    BOOST_TEST(k.value().key_type == "ed25519");
    BOOST_TEST(k.value().public_key.size() == 32u);
    auto r = parse_key_record("p=; t=y:s; h=sha256; s=email");
    BOOST_TEST_REQUIRE(r.ok());
    BOOST_TEST(r.value().revoked);
    BOOST_TEST(r.value().testing);
    BOOST_TEST(r.value().strict);
    BOOST_TEST(r.value().key_type == "rsa");
    BOOST_TEST(r.value().hashes == std::vector<std::string>{"sha256"});
}

BOOST_AUTO_TEST_CASE(bad_records) {
    BOOST_TEST(!parse_key_record("v=DKIM1; k=rsa").ok());             // no p=
    BOOST_TEST(!parse_key_record("k=rsa; v=DKIM1; p=").ok());         // v= not first
    BOOST_TEST(!parse_key_record("v=DKIM2; p=").ok());                // wrong version
    BOOST_TEST(!parse_key_record("v=DKIM1; p=a; p=b").ok());          // duplicate
    BOOST_TEST(!parse_key_record("v=DKIM1; p=!!!!").ok());            // bad base64
    BOOST_TEST(!parse_key_record("v=DKIM1; p=QUJD=").ok());           // bad padding
}

BOOST_AUTO_TEST_CASE(base64_round_trip) {
    for (std::string s : {"", "a", "ab", "abc", "abcd", "\xff\x00\x10"}) {
        auto d = base64_decode(base64_encode(s));
        BOOST_TEST_REQUIRE(d.has_value());
        BOOST_TEST(*d == s);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dkim_signature_field)

const char* good = "v=1; a=rsa-sha256; d=example.net; s=brisbane; c=relaxed; q=dns/txt; i=@eng.example.net;"
                   " t=1117574938; x=1118006938; h=from:to:subject:date; z=From:foo@eng.example.net;"
                   " l=20; bh=MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=; b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSb";

BOOST_AUTO_TEST_CASE(parses_every_tag) {
    auto s = parse_signature(good);
    BOOST_TEST_REQUIRE(s.ok(), (s.ok() ? "" : s.error().message));
    BOOST_TEST(s.value().header_canon == Canon::relaxed);
    BOOST_TEST(s.value().body_canon == Canon::simple);  // c=relaxed means relaxed/simple
    BOOST_TEST(s.value().headers.size() == 4u);
    BOOST_TEST(*s.value().body_length == 20u);
    BOOST_TEST(*s.value().expiration == 1118006938);
    BOOST_TEST(s.value().identity == "@eng.example.net");
}

BOOST_AUTO_TEST_CASE(rejects_bad_signatures) {
    std::string g = good;
    auto replace = [&](std::string from, std::string to) {
        std::string t = g;
        t.replace(t.find(from), from.size(), to);
        return parse_signature(t).ok();
    };
    BOOST_TEST(!replace("v=1", "v=2"));
    BOOST_TEST(!replace("a=rsa-sha256", "a=rsa-md5"));
    BOOST_TEST(!replace("i=@eng.example.net", "i=@example.com"));      // i= outside d=
    BOOST_TEST(!replace("i=@eng.example.net", "i=@badexample.net"));   // suffix, not subdomain
    BOOST_TEST(!replace("h=from:to", "h=to"));                         // From not signed
    BOOST_TEST(!replace("x=1118006938", "x=1000"));                    // x < t
    BOOST_TEST(!replace("l=20", "l=2x"));
    BOOST_TEST(!replace("q=dns/txt", "q=http"));
    BOOST_TEST(!replace("c=relaxed", "c=fancy"));
    BOOST_TEST(!replace("s=brisbane;", "s=;"));
    BOOST_TEST(!replace("v=1;", "v=1; v=1;"));
    BOOST_TEST(!parse_signature("v=1; a=rsa-sha256; d=x; s=y; h=from; bh=QUJD").ok());  // no b=
    BOOST_TEST(replace("z=From:foo@eng.example.net;", "z=anything|goes;"));  // z= ignored
    BOOST_TEST(replace("i=@eng.example.net", "i=joe@EXAMPLE.net"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dkim_canonicalization)

// RFC 6376 3.4.5.
const std::string example_header = "A: X\r\nB : Y\t\r\n\tZ  \r\n";
const std::string example_body = " C \r\nD \t E\r\n\r\n\r\n";

std::string canon_all(Canon c) {
    const std::string text = example_header + "\r\n" + example_body;  // fields view into it
    auto m = parse_message(text);
    BOOST_TEST_REQUIRE(m.ok());
    std::string out;
    for (const Field& f : m.value().fields) out += canonicalize_header(f, c);
    return out;
}

BOOST_AUTO_TEST_CASE(rfc_3_4_5_relaxed) {
    BOOST_TEST(canon_all(Canon::relaxed) == "a:X\r\nb:Y Z\r\n");
    BOOST_TEST(canonicalize_body(example_body, Canon::relaxed) == " C\r\nD E\r\n");
}

BOOST_AUTO_TEST_CASE(rfc_3_4_5_simple) {
    BOOST_TEST(canon_all(Canon::simple) == example_header);
    BOOST_TEST(canonicalize_body(example_body, Canon::simple) == " C \r\nD \t E\r\n");
}

BOOST_AUTO_TEST_CASE(empty_and_unterminated_bodies) {
    BOOST_TEST(canonicalize_body("", Canon::simple) == "\r\n");
    BOOST_TEST(canonicalize_body("", Canon::relaxed) == "");
    BOOST_TEST(canonicalize_body("\r\n\r\n", Canon::simple) == "\r\n");
    BOOST_TEST(canonicalize_body("\r\n\r\n", Canon::relaxed) == "");
    BOOST_TEST(canonicalize_body("x", Canon::simple) == "x\r\n");
    BOOST_TEST(canonicalize_body("x \t", Canon::relaxed) == "x\r\n");
    BOOST_TEST(canonicalize_body(" \r\n", Canon::relaxed) == "");  // a WSP-only line is empty
    BOOST_TEST(canonicalize_body(" \r\n", Canon::simple) == " \r\n");
}

BOOST_AUTO_TEST_CASE(relaxed_header_keeps_inner_colons) {
    auto m = parse_message("Subject  :  a : b \r\n\r\n");
    BOOST_TEST_REQUIRE(m.ok());  // obsolete WSP before the colon is tolerated
    BOOST_TEST(canonicalize_header(m.value().fields[0], Canon::relaxed) == "subject:a : b\r\n");
}

BOOST_AUTO_TEST_CASE(header_section) {
    auto m = parse_message("A: 1\r\n  2\r\nB:3\r\n\r\nbody\r\n");
    BOOST_TEST_REQUIRE(m.ok());
    BOOST_TEST(m.value().fields.size() == 2u);
    BOOST_TEST(m.value().fields[0].raw == "A: 1\r\n  2\r\n");
    BOOST_TEST(m.value().fields[0].value == " 1\r\n  2");
    BOOST_TEST(m.value().body == "body\r\n");
    BOOST_TEST(parse_message("A: 1\r\n").value().body.empty());  // no body
    BOOST_TEST(!parse_message(" A: 1\r\n\r\n").ok());            // continuation first
    BOOST_TEST(!parse_message("A 1\r\n\r\n").ok());              // no colon
    BOOST_TEST(!parse_message(": 1\r\n\r\n").ok());              // no name
}

BOOST_AUTO_TEST_SUITE_END()
