// pigeon spf check (app/spf_cmd.cpp) over a zone file: the RFC 8601 first line, --explain,
// and exit code 2 for bad arguments.
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/commands.hpp"

namespace {

struct Zone {
    std::filesystem::path path;
    explicit Zone(const std::string& text) {
        char dir[] = "/tmp/pigeon-spf-cmd-XXXXXX";
        BOOST_REQUIRE(::mkdtemp(dir) != nullptr);
        path = std::filesystem::path(dir) / "zone.db";
        std::ofstream(path) << text;
    }
    ~Zone() { std::filesystem::remove_all(path.parent_path()); }
};

const char* zone_text =
    "example.com.       IN TXT \"v=spf1 ip4:192.0.2.0/24 include:_spf.example.com -all\"\n"
    "_spf.example.com.  IN TXT \"v=spf1 ip6:2001:db8::/32 ~all\"\n"
    "helo.example.com.  IN TXT \"v=spf1 a -all\"\n"
    "helo.example.com.  IN A 198.51.100.7\n";

struct Out {
    int status;
    std::string out, err;
};

Out check(pigeon::app::SpfCheckArgs args) {
    std::ostringstream out, err;
    int status = pigeon::app::run_spf_check(args, out, err);
    return {status, out.str(), err.str()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spf_cmd)

BOOST_AUTO_TEST_CASE(first_line_is_an_authentication_results_entry) {
    Zone z(zone_text);
    auto r = check({"192.0.2.9", "user@example.com", "mail.example.com", z.path.string(), false});
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out == "spf=pass smtp.mailfrom=example.com\n");
    r = check({"203.0.113.1", "user@example.com", "", z.path.string(), false});
    BOOST_TEST(r.out == "spf=fail smtp.mailfrom=example.com\n");
    r = check({"2001:db8::5", "user@example.com", "", z.path.string(), false});
    BOOST_TEST(r.out == "spf=pass smtp.mailfrom=example.com\n");  // through the include
    r = check({"192.0.2.9", "user@nowhere.example", "", z.path.string(), false});
    BOOST_TEST(r.out == "spf=none smtp.mailfrom=nowhere.example\n");
}

BOOST_AUTO_TEST_CASE(null_sender_checks_the_helo_identity) {
    Zone z(zone_text);
    auto r = check({"198.51.100.7", "<>", "helo.example.com", z.path.string(), false});
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out == "spf=pass smtp.helo=helo.example.com\n");
}

BOOST_AUTO_TEST_CASE(explain_shows_terms_queries_and_counts) {
    Zone z(zone_text);
    auto r = check({"203.0.113.1", "user@example.com", "", z.path.string(), true});
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out.rfind("spf=fail smtp.mailfrom=example.com\n", 0) == 0u);
    BOOST_TEST(r.out.find("DNS-querying terms: 1 of 10") != std::string::npos, r.out);
    BOOST_TEST(r.out.find("queries sent to the zone (in order):\n  example.com TXT\n"
                          "  _spf.example.com TXT\n") != std::string::npos,
               r.out);
    BOOST_TEST(r.out.find("explanation: ") != std::string::npos, r.out);
}

BOOST_AUTO_TEST_CASE(bad_arguments_exit_2_with_a_clear_message) {
    Zone z(zone_text);
    auto r = check({"300.1.1.1", "a@example.com", "", z.path.string(), false});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err == "pigeon spf check: --ip: \"300.1.1.1\" is not an IPv4 or IPv6 address\n");
    r = check({"192.0.2.1", "no-at-sign", "", z.path.string(), false});
    BOOST_TEST(r.status == 2);
    r = check({"192.0.2.1", "<>", "", z.path.string(), false});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err == "pigeon spf check: the null sender checks the HELO name: give --helo\n");
    r = check({"192.0.2.1", "a@example.com", "", "/nonexistent/zone.db", false});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.rfind("pigeon spf check: --zone: ", 0) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
