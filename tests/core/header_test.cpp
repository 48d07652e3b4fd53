#include "core/header.hpp"

#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

using namespace pigeon::core;

BOOST_AUTO_TEST_SUITE(header)

BOOST_AUTO_TEST_CASE(fields_end_at_the_blank_line) {
    auto r = parse_header("From: a@b.example\r\nSubject: hi\r\n\r\nBody: not a field\r\n");
    BOOST_REQUIRE(r.ok());
    BOOST_REQUIRE(r->size() == 2u);
    BOOST_TEST(r.value()[0].name == "From");
    BOOST_TEST(r.value()[0].value == " a@b.example");
    BOOST_TEST(r.value()[1].name == "Subject");
}

BOOST_AUTO_TEST_CASE(folded_fields_keep_their_continuation_lines) {
    auto r = parse_header("Subject: one\r\n two\r\n\tthree\r\nTo: x@y.example\r\n");
    BOOST_REQUIRE(r.ok());
    BOOST_REQUIRE(r->size() == 2u);
    BOOST_TEST(r.value()[0].value == " one\r\n two\r\n\tthree");
    BOOST_TEST(unfold(r.value()[0].value) == " one two\tthree");
}

BOOST_AUTO_TEST_CASE(a_message_without_body_or_header_parses) {
    BOOST_TEST(parse_header("").ok());
    BOOST_TEST(parse_header("\r\nbody\r\n")->empty());
    BOOST_TEST(parse_header("X: 1")->size() == 1u);  // no final CRLF
}

BOOST_AUTO_TEST_CASE(malformed_lines_are_errors_naming_the_line) {
    auto r = parse_header("From: a@b.example\r\nthis is not a field\r\n\r\n");
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST(r.error().message == "header line 2 is not a field (no name and colon)");
    BOOST_TEST(!parse_header(" leading continuation\r\n").ok());
    BOOST_TEST(!parse_header(": no name\r\n").ok());
    BOOST_TEST(!parse_header("Bad Name: x\r\n").ok());
}

BOOST_AUTO_TEST_CASE(field_names_compare_case_insensitively) {
    HeaderField f{"message-ID", "<x@y>"};
    BOOST_TEST(field_is(f, "Message-Id"));
    BOOST_TEST(!field_is(f, "Message-Ids"));
}

BOOST_AUTO_TEST_CASE(addresses_in_mailbox_lists) {
    using V = std::vector<std::string>;
    BOOST_TEST(addresses_in(" a@b.example") == V{"a@b.example"});
    BOOST_TEST(addresses_in(" Alice <alice@b.example>") == V{"alice@b.example"});
    BOOST_TEST(addresses_in(" \"Doe, John\" <jd@b.example>, x@y.example (comment, with comma)") ==
               (V{"jd@b.example", "x@y.example"}));
    BOOST_TEST(addresses_in(" Friends: a@b.example, <c@d.example>;, e@f.example") ==
               (V{"a@b.example", "c@d.example", "e@f.example"}));
    BOOST_TEST(addresses_in(" undisclosed-recipients:;").empty());
    BOOST_TEST(addresses_in(" <\"odd,local\"@b.example>") == V{"\"odd,local\"@b.example"});
    BOOST_TEST(addresses_in(" (only (nested) comment)").empty());
    BOOST_TEST(addresses_in(" Bob\r\n <bob@b.example>") == V{"bob@b.example"});
}

// Law: a header built from fields parses back to the same names and values.
RC_BOOST_PROP(header_of_generated_fields_round_trips, ()) {
    auto name_char = rc::gen::suchThat(rc::gen::inRange<char>(33, 127), [](char c) { return c != ':'; });
    auto names = *rc::gen::container<std::vector<std::string>>(
        rc::gen::nonEmpty(rc::gen::container<std::string>(name_char)));
    std::string text;
    std::vector<std::string> values;
    for (const auto& n : names) {
        auto v = *rc::gen::container<std::string>(rc::gen::inRange<char>(32, 127));
        values.push_back(v);
        text += n + ":" + v + "\r\n";
    }
    text += "\r\nbody: x\r\n";
    auto r = parse_header(text);
    RC_ASSERT(r.ok());
    RC_ASSERT(r->size() == names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
        RC_ASSERT(std::string(r.value()[i].name) == names[i]);
        RC_ASSERT(std::string(r.value()[i].value) == values[i]);
    }
}

RC_BOOST_PROP(header_parser_never_throws_on_arbitrary_bytes, (const std::string& bytes)) {
    auto r = parse_header(bytes);
    if (r.ok())
        for (const auto& f : r.value()) {
            RC_ASSERT(!f.name.empty());
            (void)addresses_in(f.value);
            (void)unfold(f.value);
        }
}

BOOST_AUTO_TEST_SUITE_END()
