// pigeon/core/assert.hpp: PIGEON_ASSERT, for invariants whose failure is Pigeon's bug, never
// the peer's.
//
// Contract:
//   - PIGEON_ASSERT(condition, what) evaluates `condition` once, in every build. When it is
//     false it calls the installed AssertionHandler with the condition's text, `what` (a short
//     description of the invariant) and the place, and then RETURNS: the code after the
//     assertion is the safe fallback the release build keeps (a 503, an ignored event, a
//     refused record), so an assertion never replaces error handling.
//   - The default handler writes one line, "pigeon: assertion failed: <what> (<condition>) at
//     <file>:<line>", to standard error. In builds configured with PIGEON_FATAL_ASSERTIONS
//     (the dev and fuzz presets) it then aborts, so a test, a fuzzer or the sanitizers stop at
//     the first broken invariant.
//   - set_assertion_handler() replaces the handler for the whole process and returns the one
//     it replaced: the server routes failures to its log at error level, the simulator's swarm
//     prints the seed and exits with its correctness-failure code, tests record them.
//     Install handlers at start-up, before other threads run. ScopedAssertionHandler does
//     this for a scope with a handler that may hold state (a logger, a seed); scopes nest.
//   - Checks that cost more than a comparison (decoding a record just encoded, evaluating
//     every guard of a row) sit behind `if (assertions_enabled())`: true in PIGEON_FATAL_
//     ASSERTIONS builds and once enable_costly_assertions() has run (the simulator does, in
//     every build); otherwise only PIGEON_ASSERT's condition itself is evaluated.
#pragma once
#include <functional>
#include <string>
#include <string_view>

namespace pigeon::core {

struct AssertionFailure {
    std::string_view condition;  // the asserted expression, as written
    std::string_view what;       // the invariant, in words
    std::string_view file;
    int line = 0;
};

using AssertionHandler = void (*)(const AssertionFailure&);

// Replaces the process-wide handler; nullptr restores the default. Returns the previous one.
AssertionHandler set_assertion_handler(AssertionHandler handler) noexcept;

// Installs `handler` for its lifetime and restores what was installed before when it ends.
// The innermost live scope handles every failure; construct and destroy it on one thread, while
// no other thread can fail an assertion (failures may then come from any thread).
class ScopedAssertionHandler {
public:
    using Handler = std::function<void(const AssertionFailure&)>;
    explicit ScopedAssertionHandler(Handler handler);
    ~ScopedAssertionHandler();
    ScopedAssertionHandler(const ScopedAssertionHandler&) = delete;
    ScopedAssertionHandler& operator=(const ScopedAssertionHandler&) = delete;

private:
    static void dispatch(const AssertionFailure& failure);

    Handler handler_;
    ScopedAssertionHandler* outer_;
    AssertionHandler previous_;
};

// Calls the installed handler (what PIGEON_ASSERT does when its condition is false).
void assertion_failed(const AssertionFailure& failure);

// Whether costly invariant checks run (see the contract above).
bool assertions_enabled() noexcept;
void enable_costly_assertions() noexcept;

// True in PIGEON_FATAL_ASSERTIONS builds (dev, fuzz): a handler that logs should then abort
// as the default one does.
bool assertions_are_fatal() noexcept;

// The default handler's line, without the trailing newline (for handlers that log it).
std::string describe(const AssertionFailure& failure);

}  // namespace pigeon::core

#define PIGEON_ASSERT(condition, what)                                                   \
    do {                                                                                 \
        if (!(condition))                                                                \
            ::pigeon::core::assertion_failed({#condition, (what), __FILE__, __LINE__});  \
    } while (0)
