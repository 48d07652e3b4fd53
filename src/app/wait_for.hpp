// pigeon/app/wait_for.hpp: the one result of an asynchronous call, waited for on this thread.
//
// Contract: wait_for<T>(start) calls start(done) and blocks until done(T) has been called once,
// from any thread (a resolver may answer from its own), then returns that T. For the CLI's
// one-shot checks; the server never blocks a thread this way.
#pragma once
#include <condition_variable>
#include <mutex>
#include <optional>
#include <utility>

namespace pigeon::app {

template <class T, class Start>
T wait_for(Start start) {
    std::mutex mutex;
    std::condition_variable ready;
    std::optional<T> result;
    start([&](T r) {
        std::lock_guard lock(mutex);
        result = std::move(r);
        ready.notify_one();
    });
    std::unique_lock lock(mutex);
    ready.wait(lock, [&] { return result.has_value(); });
    return std::move(*result);
}

}  // namespace pigeon::app
