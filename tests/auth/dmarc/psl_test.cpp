// The libpsl-backed Organizational Domain (auth/dmarc/psl_org_domain.hpp) against the Public
// Suffix List's own test cases (conformance/dmarc/psl-tests.txt, CC0), over Debian's list.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>

#include "auth/dmarc/psl_org_domain.hpp"

using namespace pigeon::dmarc;

BOOST_AUTO_TEST_SUITE(dmarc_psl)

BOOST_AUTO_TEST_CASE(public_suffix_list_tests) {
    PslOrganizationalDomain psl;
    BOOST_REQUIRE(psl.loaded());
    std::ifstream in(PIGEON_SOURCE_DIR "/conformance/dmarc/psl-tests.txt");
    BOOST_REQUIRE(in);
    std::string line;
    int cases = 0, passed = 0;
    while (std::getline(in, line)) {
        if (line.empty() || line.rfind("//", 0) == 0) continue;
        std::istringstream words(line);
        std::string input, expected;
        words >> input >> expected;
        if (input == "null") continue;  // a null pointer: nothing to pass through string_view
        ++cases;
        const auto got = psl.registrable_domain(input);
        const std::string shown = got ? *got : "null";
        BOOST_TEST(shown == expected, input << ": got " << shown << ", expected " << expected);
        if (shown == expected) ++passed;
    }
    BOOST_TEST_MESSAGE("PSL tests: " << passed << "/" << cases << " passed");
    BOOST_TEST(cases == 77);
}

BOOST_AUTO_TEST_CASE(organizational_domain_of_a_suffix_is_itself) {
    PslOrganizationalDomain psl;
    BOOST_TEST(psl.organizational_domain("co.uk") == "co.uk");
    BOOST_TEST(psl.organizational_domain("Mail.Example.COM.") == "example.com");
    const auto f = psl.function();
    BOOST_TEST(f("a.b.bbc.co.uk") == "bbc.co.uk");
    BOOST_TEST(!PslOrganizationalDomain("/nonexistent/psl.dafsa").loaded());
}

BOOST_AUTO_TEST_SUITE_END()
