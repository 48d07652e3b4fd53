// pigeon/smtp/machine_table.hpp: the transition tables of the role machines, read back from
// the compiled Boost.MSM tables, so a test can compare them with spec/machines/*.tsv.
#pragma once
#include <string>
#include <vector>

#include "smtp/server/session.hpp"

namespace pigeon::smtp {

struct TransitionRow {
    std::string source, event, target, action, guard;  // "-" for none
};

std::vector<TransitionRow> transition_table(Role role);
// The outbound (client) machine's table (src/smtp/client/outbound_machine.cpp, spec/machines/outbound.tsv).
std::vector<TransitionRow> outbound_transition_table();

}  // namespace pigeon::smtp
