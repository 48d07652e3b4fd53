// The state tables in spec/machines/*.tsv are the specification; the Boost.MSM tables compiled
// into src/smtp/*_machine.cpp must match them row for row (walked with mpl::for_each).
#include "smtp/machine_table.hpp"

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <set>
#include <sstream>

namespace {

using pigeon::smtp::Role;
using pigeon::smtp::TransitionRow;

std::vector<TransitionRow> read_spec(const std::string& role) {
    std::ifstream in(std::string(PIGEON_SOURCE_DIR) + "/spec/machines/" + role + ".tsv");
    BOOST_REQUIRE_MESSAGE(in, "cannot open spec/machines/" + role + ".tsv");
    std::vector<TransitionRow> rows;
    std::string line;
    while (std::getline(in, line)) {
        line = line.substr(0, line.find('#'));
        std::istringstream fields(line);
        TransitionRow r;
        if (!(fields >> r.source)) continue;
        fields >> r.event >> r.target >> r.action >> r.guard;
        BOOST_REQUIRE_MESSAGE(!r.guard.empty(), "short row in " + role + ".tsv: " + line);
        rows.push_back(r);
    }
    return rows;
}

std::string show(const TransitionRow& r) {
    return r.source + " " + r.event + " " + r.target + " " + r.action + " " + r.guard;
}

void check_table(const std::vector<TransitionRow>& compiled, const std::string& name) {
    auto spec = read_spec(name);
    BOOST_TEST(spec.size() == compiled.size());
    for (std::size_t i = 0; i < std::min(spec.size(), compiled.size()); ++i) {
        BOOST_TEST_INFO(name << " row " << i + 1);
        BOOST_TEST(show(spec[i]) == show(compiled[i]));
    }
}

void check_role(Role role, const std::string& name) {
    check_table(pigeon::smtp::transition_table(role), name);
}

// Guards of the same (state, event) must be distinct: identical ones would make the machine
// depend on row order.
void check_rows_distinct(const std::vector<TransitionRow>& table) {
    std::set<std::string> seen;
    for (const auto& r : table) {
        auto key = r.source + "/" + r.event + "/" + r.guard;
        BOOST_TEST(seen.insert(key).second, "duplicate row " << key);
        if (r.guard == "-") {
            for (const auto& other : table)
                if (&other != &r && other.source == r.source && other.event == r.event)
                    BOOST_TEST(false, "unguarded row shares (state, event) " << key);
        }
    }
}

void check_guards_distinct(Role role) { check_rows_distinct(pigeon::smtp::transition_table(role)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(machine_table)

BOOST_AUTO_TEST_CASE(inbound_table_matches_spec) { check_role(Role::inbound, "inbound"); }
BOOST_AUTO_TEST_CASE(submission_table_matches_spec) { check_role(Role::submission, "submission"); }
BOOST_AUTO_TEST_CASE(inbound_rows_unambiguous) { check_guards_distinct(Role::inbound); }
BOOST_AUTO_TEST_CASE(submission_rows_unambiguous) { check_guards_distinct(Role::submission); }
BOOST_AUTO_TEST_CASE(outbound_table_matches_spec) {
    check_table(pigeon::smtp::outbound_transition_table(), "outbound");
}
BOOST_AUTO_TEST_CASE(outbound_rows_unambiguous) {
    check_rows_distinct(pigeon::smtp::outbound_transition_table());
}

BOOST_AUTO_TEST_SUITE_END()
