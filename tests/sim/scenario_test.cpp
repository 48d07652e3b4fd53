// Tests for sim/scenario.hpp: the scenario reader's errors name the file, the line and the key.
#include <boost/test/unit_test.hpp>

#include <string>

#include "sim/scenario.hpp"

using pigeon::sim::parse_scenario;

namespace {

// The error message for `text`, or "(loaded)" when it loads.
std::string error_of(const std::string& text) {
    auto s = parse_scenario(text, "dir/bad.toml");
    return s.ok() ? std::string("(loaded)") : s.error().message;
}

const char* const host = R"(
[[hosts]]
name = "mx"
addresses = ["192.0.2.2"]
)";

}  // namespace

BOOST_AUTO_TEST_SUITE(sim_scenario_loader)

BOOST_AUTO_TEST_CASE(a_good_scenario_loads) {
    auto s = parse_scenario(std::string("seed = 9\nduration = 1.5\n") + host +
                                "[[actions]]\nat = 0.25\nserver = \"mx\"\nuser = \"a@b.test\"\nto = [\"c@d.test\"]\n",
                            "dir/good.toml");
    BOOST_REQUIRE(s.ok());
    BOOST_TEST(s->name == "good");
    BOOST_TEST(s->seed == 9u);
    BOOST_TEST(s->duration_ms == 1500);
    BOOST_TEST(s->actions.at(0).at_ms == 250);
    BOOST_TEST(s->actions.at(0).from == "a@b.test");  // default: the user
    BOOST_TEST(s->hosts.at(0).hostname == "mx");      // default: the name
}

BOOST_AUTO_TEST_CASE(unknown_key) {
    BOOST_TEST(error_of(std::string("seed = 1\n") + host + "colour = \"blue\"\n") ==
               "dir/bad.toml:6: hosts[0].colour: unknown key");
    BOOST_TEST(error_of("sede = 1\n") == "dir/bad.toml:1: sede: unknown key");
}

BOOST_AUTO_TEST_CASE(wrong_type_and_range) {
    BOOST_TEST(error_of("seed = \"one\"\n") == "dir/bad.toml:1: seed: must be an integer, not a string");
    BOOST_TEST(error_of("\n\n[network]\nloss = 2\n") == "dir/bad.toml:4: network.loss: must be between 0.000000 and 0.900000");
    BOOST_TEST(error_of("[network]\nlatency_ms = -1\n") == "dir/bad.toml:2: network.latency_ms: must be >= 0");
    BOOST_TEST(error_of(std::string(host) + "spf = \"yes\"\n") ==
               "dir/bad.toml:5: hosts[0].spf: must be true or false, not a string");
}

BOOST_AUTO_TEST_CASE(missing_and_dangling) {
    BOOST_TEST(error_of("[[hosts]]\nkind = \"pigeon\"\n") == "dir/bad.toml:1: hosts[0].name: missing");
    BOOST_TEST(error_of("[[hosts]]\nname = \"mx\"\n") ==
               "dir/bad.toml:1: hosts[0].addresses: a server host needs at least one address");
    BOOST_TEST(error_of(std::string(host) + "\n[[actions]]\nat = 1\nserver = \"nope\"\nuser = \"a@b.test\"\nto = [\"c@d.test\"]\n") ==
               "dir/bad.toml:6: actions[0].server: no host named \"nope\"");
    BOOST_TEST(error_of(std::string(host) + "\n[[faults]]\nat = 1\nkind = \"melt\"\nhost = \"mx\"\n") ==
               "dir/bad.toml:8: faults[0].kind: \"melt\" is not a fault kind (see sim/README.md)");
    BOOST_TEST(error_of(std::string(host) + "\n[[faults]]\nat = 1\nkind = \"partition\"\na = \"mx\"\nb = \"ghost\"\n") ==
               "dir/bad.toml:6: faults[0].b: no host named \"ghost\"");
    BOOST_TEST(error_of(std::string(host) + "\n[[expect]]\nkind = \"queue\"\nhost = \"mx\"\n") ==
               "dir/bad.toml:6: expect[0].count: missing");
}

BOOST_AUTO_TEST_CASE(toml_syntax_and_files) {
    const std::string e = error_of("seed = 1\nthis is not toml\n");
    BOOST_TEST(e.starts_with("dir/bad.toml:2: "));
    BOOST_TEST(error_of(std::string(host) + "tls_cert = \"no-such.pem\"\ntls_key = \"no-such.key\"\n") ==
               "dir/bad.toml:5: hosts[0].tls_cert: cannot read dir/no-such.pem");
}

BOOST_AUTO_TEST_CASE(a_missing_file_is_an_error_not_a_throw) {
    auto s = pigeon::sim::load_scenario("/nonexistent/scenario.toml");
    BOOST_REQUIRE(!s.ok());
    BOOST_TEST(s.error().message == "/nonexistent/scenario.toml: cannot read the scenario");
}

BOOST_AUTO_TEST_SUITE_END()
