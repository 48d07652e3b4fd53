// pigeon/core/assert.cpp: the assertion handler (core/assert.hpp).
#include "core/assert.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace pigeon::core {
namespace {

#if defined(PIGEON_FATAL_ASSERTIONS)
constexpr bool fatal_by_default = true;
#else
constexpr bool fatal_by_default = false;
#endif

void default_handler(const AssertionFailure& failure) {
    const std::string line = describe(failure) + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
    if (fatal_by_default) std::abort();
}

std::atomic<AssertionHandler> installed{nullptr};
std::atomic<bool> costly{fatal_by_default};
std::atomic<ScopedAssertionHandler*> innermost{nullptr};

}  // namespace

bool assertions_are_fatal() noexcept { return fatal_by_default; }

AssertionHandler set_assertion_handler(AssertionHandler handler) noexcept {
    return installed.exchange(handler);
}

void assertion_failed(const AssertionFailure& failure) {
    AssertionHandler handler = installed.load();
    (handler != nullptr ? handler : default_handler)(failure);
}

ScopedAssertionHandler::ScopedAssertionHandler(Handler handler)
    : handler_(std::move(handler)), outer_(innermost.exchange(this)),
      previous_(set_assertion_handler(&dispatch)) {}

ScopedAssertionHandler::~ScopedAssertionHandler() {
    set_assertion_handler(previous_);
    innermost.store(outer_);
}

void ScopedAssertionHandler::dispatch(const AssertionFailure& failure) {
    if (ScopedAssertionHandler* scope = innermost.load()) scope->handler_(failure);
    else default_handler(failure);
}

bool assertions_enabled() noexcept { return costly.load(); }

void enable_costly_assertions() noexcept { costly.store(true); }

std::string describe(const AssertionFailure& failure) {
    std::string line = "pigeon: assertion failed: ";
    line.append(failure.what).append(" (").append(failure.condition).append(") at ");
    line.append(failure.file).append(":").append(std::to_string(failure.line));
    return line;
}

}  // namespace pigeon::core
