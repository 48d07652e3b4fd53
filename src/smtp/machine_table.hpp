// pigeon/smtp/machine_table.hpp: the transition tables of the role machines, read back from
// the compiled Boost.MSM tables, so a test can compare them with spec/machines/*.tsv.
#pragma once
#include <string>
#include <vector>

#include "smtp/session.hpp"

namespace pigeon::smtp {

struct TransitionRow {
    std::string source, event, target, action, guard;  // "-" for none
};

std::vector<TransitionRow> transition_table(Role role);

}  // namespace pigeon::smtp
