// PIGEON_ASSERT (core/assert.hpp): evaluated once, reported through the installed handler,
// and survived: the code after a failed assertion runs.
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "core/assert.hpp"
#include "support/assertion_recorder.hpp"

BOOST_AUTO_TEST_SUITE(assertions)

BOOST_AUTO_TEST_CASE(a_holding_condition_reports_nothing_and_is_evaluated_once) {
    pigeon::test::AssertionRecorder recorder;
    int evaluations = 0;
    PIGEON_ASSERT(++evaluations == 1, "counted");
    BOOST_TEST(evaluations == 1);
    BOOST_TEST(recorder.seen().empty());
}

BOOST_AUTO_TEST_CASE(a_failing_condition_reaches_the_handler_and_the_fallback_runs) {
    pigeon::test::AssertionRecorder recorder;
    bool fallback = false;
    PIGEON_ASSERT(1 + 1 == 3, "arithmetic holds");
    fallback = true;
    BOOST_TEST(fallback);
    BOOST_REQUIRE(recorder.seen().size() == 1u);
    BOOST_TEST(recorder.seen()[0] == "arithmetic holds");
}

BOOST_AUTO_TEST_CASE(the_report_names_the_invariant_the_condition_and_the_place) {
    const pigeon::core::AssertionFailure f{"a == b", "a equals b", "src/x.cpp", 42};
    BOOST_TEST(pigeon::core::describe(f) ==
               "pigeon: assertion failed: a equals b (a == b) at src/x.cpp:42");
}

BOOST_AUTO_TEST_CASE(the_recorder_restores_the_previous_handler) {
    using pigeon::core::set_assertion_handler;
    const pigeon::core::AssertionHandler before = set_assertion_handler(nullptr);
    set_assertion_handler(before);
    {
        pigeon::test::AssertionRecorder recorder;
        PIGEON_ASSERT(false, "inside");
        BOOST_TEST(recorder.seen().size() == 1u);
    }
    BOOST_TEST(set_assertion_handler(before) == before);
}

// Scopes nest: the innermost live one handles, and each restores what it found.
BOOST_AUTO_TEST_CASE(scoped_handlers_nest_and_hold_state) {
    using pigeon::core::ScopedAssertionHandler;
    pigeon::test::AssertionRecorder outer;
    std::vector<std::string> inner_seen;
    {
        const ScopedAssertionHandler inner(
            [&](const pigeon::core::AssertionFailure& f) { inner_seen.emplace_back(f.what); });
        PIGEON_ASSERT(1 + 1 == 3, "to the inner scope");
    }
    PIGEON_ASSERT(false, "to the outer scope");
    BOOST_TEST(inner_seen == std::vector<std::string>{"to the inner scope"});
    BOOST_TEST(outer.seen() == std::vector<std::string>{"to the outer scope"});
}

BOOST_AUTO_TEST_CASE(the_dev_build_runs_costly_checks) {
    // scripts/test builds the dev preset, which sets PIGEON_FATAL_ASSERTIONS.
    BOOST_TEST(pigeon::core::assertions_enabled());
}

BOOST_AUTO_TEST_SUITE_END()
