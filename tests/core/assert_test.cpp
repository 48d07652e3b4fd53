// PIGEON_ASSERT (core/assert.hpp): evaluated once, reported through the installed handler,
// and survived: the code after a failed assertion runs.
#include <boost/test/unit_test.hpp>

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

BOOST_AUTO_TEST_CASE(the_dev_build_runs_costly_checks) {
    // scripts/test builds the dev preset, which sets PIGEON_FATAL_ASSERTIONS.
    BOOST_TEST(pigeon::core::assertions_enabled());
}

BOOST_AUTO_TEST_SUITE_END()
