// pigeon/sim/explain.hpp: the plain-English notes `pigeon sim run --explain` adds under trace
// lines, each naming the RFC section that decides the step.
//
// Contract: a pure function of one trace line's text (after the time and the speaker). It
// returns zero or more notes; it never changes the trace, so the digest does not depend on it.
#pragma once
#include <string>
#include <vector>

namespace pigeon::sim {

std::vector<std::string> explain_line(const std::string& what);

}  // namespace pigeon::sim
