// tests/support/assertion_recorder.hpp: while alive, failed PIGEON_ASSERTs are recorded here
// instead of aborting the test binary (the dev preset makes them fatal), so a test can check
// both that an invariant's failure is reported and that the code after it keeps its fallback.
#pragma once
#include <string>
#include <vector>

#include "core/assert.hpp"

namespace pigeon::test {

class AssertionRecorder {
public:
    AssertionRecorder() : scope_([this](const core::AssertionFailure& f) { seen_.emplace_back(f.what); }) {}

    // The `what` of every failure since construction, in order.
    const std::vector<std::string>& seen() const { return seen_; }

private:
    std::vector<std::string> seen_;
    core::ScopedAssertionHandler scope_;  // after seen_: ends first
};

}  // namespace pigeon::test
