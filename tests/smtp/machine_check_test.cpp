// machine_check.hpp: counting the rows whose guards hold, on a small machine whose table is
// deliberately broken in both ways (two guards that overlap, a case no guard covers), so the
// check is seen to catch what the real tables must never do. The real tables run under the
// check in every dev-build test and transcript.
#include <boost/msm/back/state_machine.hpp>
#include <boost/msm/front/functor_row.hpp>
#include <boost/msm/front/state_machine_def.hpp>
#include <boost/mpl/vector.hpp>
#include <boost/test/unit_test.hpp>

#include "smtp/machine_check.hpp"
#include "support/assertion_recorder.hpp"

namespace {

namespace msmf = boost::msm::front;

struct Go {
    int n = 0;
};
struct Stop {};

struct Idle : msmf::state<> {};
struct Running : msmf::state<> {};

template <bool (*Test)(int)>
struct When {
    template <class E, class F, class S, class T>
    bool operator()(const E& e, F&, S&, T&) const {
        return Test(e.n);
    }
};
bool positive(int n) { return n > 0; }
bool small(int n) { return n < 10 && n > -10; }

struct ToyDef : msmf::state_machine_def<ToyDef> {
    using initial_state = Idle;
    struct transition_table
        : boost::mpl::vector<msmf::Row<Idle, Go, Running, msmf::none, When<positive>>,
                             msmf::Row<Idle, Go, Running, msmf::none, When<small>>,
                             msmf::Row<Running, Stop, Idle, msmf::none, msmf::none>> {};
    template <class Fsm, class Event>
    void no_transition(const Event&, Fsm&, int) {}
};
using Toy = boost::msm::back::state_machine<ToyDef>;

using pigeon::smtp::machine_check::count_enabled_rows;

}  // namespace

BOOST_AUTO_TEST_SUITE(machine_check)

BOOST_AUTO_TEST_CASE(counts_the_rows_of_the_active_state_whose_guards_hold) {
    Toy toy;
    toy.start();
    BOOST_TEST(count_enabled_rows(toy, Go{20}).rows == 2);
    BOOST_TEST(count_enabled_rows(toy, Go{20}).enabled == 1);   // positive only
    BOOST_TEST(count_enabled_rows(toy, Go{-5}).enabled == 1);   // small only
    BOOST_TEST(count_enabled_rows(toy, Go{5}).enabled == 2);    // both: ambiguous
    BOOST_TEST(count_enabled_rows(toy, Go{-50}).enabled == 0);  // neither: a gap
    BOOST_TEST(count_enabled_rows(toy, Stop{}).rows == 0);      // no row in Idle
    toy.process_event(Go{20});
    BOOST_TEST(count_enabled_rows(toy, Stop{}).rows == 1);      // a row without a guard holds
    BOOST_TEST(count_enabled_rows(toy, Stop{}).enabled == 1);
    BOOST_TEST(count_enabled_rows(toy, Go{20}).rows == 0);
}

BOOST_AUTO_TEST_CASE(asserts_on_overlap_and_on_gaps_but_not_on_a_missing_row) {
    pigeon::test::AssertionRecorder recorder;
    Toy toy;
    toy.start();
    pigeon::smtp::machine_check::assert_one_row_enabled(toy, Go{20});
    pigeon::smtp::machine_check::assert_one_row_enabled(toy, Stop{});
    BOOST_TEST(recorder.seen().empty());
    pigeon::smtp::machine_check::assert_one_row_enabled(toy, Go{5});
    pigeon::smtp::machine_check::assert_one_row_enabled(toy, Go{-50});
    BOOST_TEST(recorder.seen().size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
