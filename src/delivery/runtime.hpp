// pigeon/delivery/runtime.hpp: the event loop, timers and outgoing TCP connections the outbound
// engine runs on, as an interface. The server implements it with Boost.Asio
// (net/outbound_runtime.hpp); the simulator with its virtual clock and network.
//
// Contract:
//   - Everything the engine is called with (posted functions, timer callbacks, connect results,
//     stream callbacks) runs on ONE logical thread, the runtime's loop. The engine is not
//     thread-safe and needs no locks because of that; code on other threads (a resolver thread,
//     the group committer, a signal handler) hands work over with post(), which is thread-safe.
//   - after() calls `fn` once, `delay` after the call, unless cancel() came first; cancelling a
//     timer that already fired, or 0, does nothing.
//   - connect() calls `done` exactly once: with a Stream, or with null and a reason (refused,
//     unreachable, timed out after `timeout`).
//   - A Stream delivers received bytes to on_data in order, then calls on_end once (empty
//     reason: the peer closed in order). write() sends bytes in order, after what was written
//     before. close() ends the connection; no callback runs after close() has returned, and a
//     Stream destroyed without close() is closed.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace pigeon::delivery {

class Stream {
public:
    virtual ~Stream() = default;
    virtual void start(std::function<void(std::string_view bytes)> on_data,
                       std::function<void(const std::string& reason)> on_end) = 0;
    virtual void write(std::string bytes) = 0;
    virtual void close() = 0;
    virtual std::string peer_address() const = 0;  // "192.0.2.1" (for logs)
};

class Runtime {
public:
    using TimerId = std::uint64_t;
    virtual ~Runtime() = default;
    virtual void post(std::function<void()> fn) = 0;  // thread-safe
    virtual TimerId after(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
    virtual void cancel(TimerId timer) = 0;
    virtual void connect(const std::string& address, std::uint16_t port,
                         std::chrono::milliseconds timeout,
                         std::function<void(std::unique_ptr<Stream> stream, const std::string& error)>
                             done) = 0;
};

}  // namespace pigeon::delivery
