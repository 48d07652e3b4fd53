// pigeon/smtp/machine_check.hpp (internal): the invariant every transition table states in its
// comments, checked on each event: of the rows for the active state and this event, exactly
// one has a guard that holds (a row without a guard always holds).
//
// Contract:
//   - count_enabled_rows(machine, event) evaluates, without firing anything, the guard of every
//     row of machine's table whose source is the active state and whose event is Event; it
//     returns how many such rows exist and how many of their guards hold. Guards only read
//     (server/ and client/machine_vocabulary.hpp), so evaluating them is free of effects.
//   - assert_one_row_enabled() turns the count into a PIGEON_ASSERT: no row at all is not a
//     failure (the command is out of sequence and no_transition answers it), rows whose guards
//     all refuse or several that hold are. It runs only when core::assertions_enabled().
//   - One orthogonal region per machine, which is what Pigeon's tables have.
#pragma once
#include <boost/mpl/for_each.hpp>
#include <boost/msm/back/metafunctions.hpp>
#include <boost/msm/front/functor_row.hpp>
#include <boost/type_traits/add_pointer.hpp>
#include <type_traits>

#include "core/assert.hpp"

namespace pigeon::smtp::machine_check {

struct RowCount {
    int rows = 0;     // rows for (active state, event)
    int enabled = 0;  // of those, rows whose guard holds
};

template <class Machine, class Event>
RowCount count_enabled_rows(Machine& machine, const Event& event) {
    using Rows = typename Machine::transition_table;  // the front-end's rows, as written
    using Table = typename Machine::stt;              // the back-end's, which numbers states
    RowCount count;
    const int active = machine.current_state()[0];
    boost::mpl::for_each<Rows, boost::add_pointer<boost::mpl::placeholders::_1>>([&](auto* row) {
        using R = std::remove_pointer_t<decltype(row)>;
        using Source = typename R::Source;
        if constexpr (std::is_same_v<typename R::Evt, Event>) {
            if (boost::msm::back::get_state_id<Table, Source>::value != active) return;
            ++count.rows;
            if constexpr (std::is_same_v<typename R::Guard, boost::msm::front::none>) {
                ++count.enabled;
            } else {
                auto& source = machine.template get_state<Source&>();
                if (typename R::Guard{}(event, machine, source, source)) ++count.enabled;
            }
        }
    });
    return count;
}

template <class Machine, class Event>
void assert_one_row_enabled(Machine& machine, const Event& event) {
    if (!core::assertions_enabled()) return;
    const RowCount count = count_enabled_rows(machine, event);
    PIGEON_ASSERT(count.rows == 0 || count.enabled == 1,
                  "exactly one guard of the active state's rows for an event holds");
}

}  // namespace pigeon::smtp::machine_check
