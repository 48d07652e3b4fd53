// pigeon/net/outbound_runtime.hpp: delivery::Runtime on Boost.Asio - one io_context on its own
// thread runs the outbound engine, its timers and its TCP connections.
//
// Contract: see delivery/runtime.hpp. The thread starts in the constructor and is joined by
// stop() (or the destructor); after stop() nothing posted runs any more. call() runs a
// function on the loop and waits for it (used by serve to start and stop the engine).
// Connections bind to no particular local address; a Stream's close() lets writes already
// queued go out first, then closes the socket, with no further callbacks.
#pragma once
#include <memory>

#include "delivery/runtime.hpp"

namespace boost::asio {
class io_context;
}

namespace pigeon::net {

class AsioRuntime final : public delivery::Runtime {
public:
    AsioRuntime();
    ~AsioRuntime() override;
    AsioRuntime(const AsioRuntime&) = delete;
    AsioRuntime& operator=(const AsioRuntime&) = delete;

    void post(std::function<void()> fn) override;
    TimerId after(std::chrono::milliseconds delay, std::function<void()> fn) override;
    void cancel(TimerId timer) override;
    void connect(const std::string& address, std::uint16_t port, std::chrono::milliseconds timeout,
                 std::function<void(std::unique_ptr<delivery::Stream>, const std::string&)> done)
        override;

    void call(const std::function<void()>& fn);  // runs fn on the loop, returns when it ran
    void stop();
    boost::asio::io_context& context();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace pigeon::net
