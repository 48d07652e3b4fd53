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
    AssertionRecorder() : previous_(core::set_assertion_handler(&record)) { failures().clear(); }
    ~AssertionRecorder() { core::set_assertion_handler(previous_); }
    AssertionRecorder(const AssertionRecorder&) = delete;
    AssertionRecorder& operator=(const AssertionRecorder&) = delete;

    // The `what` of every failure since construction, in order.
    const std::vector<std::string>& seen() const { return failures(); }

private:
    static std::vector<std::string>& failures() {
        static std::vector<std::string> all;
        return all;
    }
    static void record(const core::AssertionFailure& f) { failures().emplace_back(f.what); }

    core::AssertionHandler previous_;
};

}  // namespace pigeon::test
