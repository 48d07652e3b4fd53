// pigeon srs forward|reverse (app/srs_cmd.cpp): postsrsd's secret file, one result a line, the
// refusals named on stderr, and exit codes 0, 1 and 2. The vectors are postsrsd 1.10's (see
// tests/policy/srs_test.cpp).
#include <boost/test/unit_test.hpp>
#include <sstream>

#include "app/auth_commands.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace pigeon::app;

struct Out {
    int status;
    std::string out, err;
};

Out srs(SrsArgs args) {
    std::ostringstream out, err;
    const int status = run_srs(args, out, err);
    return {status, out.str(), err.str()};
}

SrsArgs args(const pigeon::test::TempDir& dir, bool reverse, std::vector<std::string> addresses) {
    SrsArgs a;
    a.reverse = reverse;
    a.domain = "forwarder.example";
    a.secret_file = dir.write("srs.secret", "topsecret\nanother\n");
    a.addresses = std::move(addresses);
    a.day = 20794;
    return a;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(srs_command)

BOOST_AUTO_TEST_CASE(forward_prints_one_address_a_line) {
    pigeon::test::TempDir dir;
    const Out o = srs(args(dir, false, {"alice@origin.example", "", "bob@forwarder.example"}));
    BOOST_TEST(o.status == 0);
    BOOST_TEST(o.out == "SRS0=pwI5=J2=origin.example=alice@forwarder.example\n\nbob@forwarder.example\n");
    BOOST_TEST(o.err.empty());
}

BOOST_AUTO_TEST_CASE(reverse_decodes_and_names_each_refusal) {
    pigeon::test::TempDir dir;
    const Out o = srs(args(dir, true, {"SRS0=pwI5=J2=origin.example=alice@forwarder.example",
                                       "SRS0=xxxx=J2=origin.example=alice@forwarder.example"}));
    BOOST_TEST(o.status == 1);
    BOOST_TEST(o.out == "alice@origin.example\n");
    BOOST_TEST(o.err == "SRS0=xxxx=J2=origin.example=alice@forwarder.example: the SRS0 hash does not match\n");
}

BOOST_AUTO_TEST_CASE(an_address_that_cannot_be_rewritten_exits_1) {
    pigeon::test::TempDir dir;
    const Out o = srs(args(dir, false, {"nodomain"}));
    BOOST_TEST(o.status == 1);
    BOOST_TEST(o.out == "nodomain\n");
    BOOST_TEST(o.err.find("nodomain: not rewritten") == 0u);
}

BOOST_AUTO_TEST_CASE(a_missing_or_empty_secret_file_exits_2) {
    pigeon::test::TempDir dir;
    SrsArgs a = args(dir, false, {"alice@origin.example"});
    a.secret_file = dir.file("missing");
    Out o = srs(a);
    BOOST_TEST(o.status == 2);
    BOOST_TEST(o.err.find("--secret-file " + a.secret_file + ": cannot be read") != std::string::npos);
    a.secret_file = dir.write("empty", "\n\r\n");
    o = srs(a);
    BOOST_TEST(o.status == 2);
    BOOST_TEST(o.err.find(a.secret_file + ": no secret") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(secret_lines_are_verbatim_and_crlf_is_dropped) {
    const auto s = parse_srs_secrets("first\r\n\n second \nlast", "f");
    BOOST_TEST_REQUIRE(s.ok());
    BOOST_TEST((*s == std::vector<std::string>{"first", " second ", "last"}));
}

BOOST_AUTO_TEST_SUITE_END()
