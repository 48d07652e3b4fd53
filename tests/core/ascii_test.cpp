// core/ascii.hpp: ASCII case folding and trimming, shared by every parser that compares
// keywords, tag names and domain names.
#include "core/ascii.hpp"

#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include <cctype>
#include <string>

using namespace pigeon::core;

BOOST_AUTO_TEST_SUITE(ascii)

BOOST_AUTO_TEST_CASE(iequals_folds_ascii_letters_only) {
    BOOST_TEST(iequals("MAIL", "mail"));
    BOOST_TEST(iequals("Authentication-Results", "authentication-RESULTS"));
    BOOST_TEST(iequals("", ""));
    BOOST_TEST(!iequals("mail", "mai"));
    BOOST_TEST(!iequals("mail", "maim"));
    // Bytes outside A-Z are compared as they are: '@' (0x40) and '`' (0x60) differ from
    // letters by the same 0x20 but are not letters; UTF-8 is not folded.
    BOOST_TEST(!iequals("@", "`"));
    BOOST_TEST(!iequals("[", "{"));
    BOOST_TEST(!iequals("\xC3\xA9", "\xC3\x89"));  // é / É
}

BOOST_AUTO_TEST_CASE(istarts_with_is_a_folded_prefix) {
    BOOST_TEST(istarts_with("SIZE=1000", "size="));
    BOOST_TEST(istarts_with("x", ""));
    BOOST_TEST(!istarts_with("SIZ", "size"));
    BOOST_TEST(!istarts_with("BODY=8BITMIME", "size"));
}

BOOST_AUTO_TEST_CASE(trim_wsp_removes_space_and_tab_only) {
    BOOST_TEST(trim_wsp(" \t p=reject \t") == "p=reject");
    BOOST_TEST(trim_wsp("\r\nx\r\n") == "\r\nx\r\n");  // CR and LF are not WSP
    BOOST_TEST(trim_wsp("   ").empty());
    BOOST_TEST(trim_wsp("").empty());
    BOOST_TEST(trim_wsp("a b") == "a b");  // inside: kept
}

BOOST_AUTO_TEST_CASE(trim_if_takes_any_set) {
    const auto digit = [](char c) { return c >= '0' && c <= '9'; };
    BOOST_TEST(trim_if("12ab34", digit) == "ab");
    BOOST_TEST(trim_if("1234", digit).empty());
}

RC_BOOST_PROP(iequals_is_equality_of_the_lowercase_forms, (const std::string& a, const std::string& b)) {
    RC_ASSERT(iequals(a, b) == (ascii_lower(a) == ascii_lower(b)));
    RC_ASSERT(iequals(a, b) == iequals(b, a));
    std::string upper = a;
    for (char& c : upper)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    RC_ASSERT(iequals(a, upper));
}

RC_BOOST_PROP(trimming_is_idempotent_and_leaves_no_wsp_at_the_ends, (const std::string& s)) {
    const std::string_view t = trim_wsp(s);
    RC_ASSERT(trim_wsp(t) == t);
    RC_ASSERT(t.empty() || (!is_wsp(t.front()) && !is_wsp(t.back())));
    RC_ASSERT(std::string_view(s).find(t) != std::string_view::npos);
}

BOOST_AUTO_TEST_SUITE_END()
