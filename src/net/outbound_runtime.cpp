// pigeon/net/outbound_runtime.cpp: the outbound engine's loop, timers and sockets on Asio.
#include "net/outbound_runtime.hpp"

#include <array>
#include <boost/asio.hpp>
#include <deque>
#include <future>
#include <map>
#include <thread>

namespace pigeon::net {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

class AsioStream final : public delivery::Stream {
public:
    explicit AsioStream(tcp::socket socket) : state_(std::make_shared<State>(std::move(socket))) {
        error_code ec;
        auto ep = state_->socket.remote_endpoint(ec);
        if (!ec) peer_ = ep.address().to_string();
    }
    ~AsioStream() override { close(); }

    void start(std::function<void(std::string_view)> on_data,
               std::function<void(const std::string&)> on_end) override {
        state_->on_data = std::move(on_data);
        state_->on_end = std::move(on_end);
        read(state_);
    }

    void write(std::string bytes) override {
        if (state_->closing || bytes.empty()) return;
        state_->writes.push_back(std::move(bytes));
        if (!state_->writing) write_next(state_);
    }

    void close() override {
        auto& s = *state_;
        if (s.closing) return;
        s.closing = true;
        s.on_data = nullptr;
        s.on_end = nullptr;
        if (!s.writing) shut(s);
    }

    std::string peer_address() const override { return peer_; }

private:
    struct State {
        explicit State(tcp::socket s) : socket(std::move(s)) {}
        tcp::socket socket;
        std::array<char, 16 * 1024> buffer{};
        std::deque<std::string> writes;
        bool writing = false;
        bool closing = false;  // close() called: no callbacks any more
        bool ended = false;    // on_end called
        std::function<void(std::string_view)> on_data;
        std::function<void(const std::string&)> on_end;
    };

    static void shut(State& s) {
        error_code ignored;
        s.socket.shutdown(tcp::socket::shutdown_both, ignored);
        s.socket.close(ignored);
    }

    static void end(const std::shared_ptr<State>& s, const std::string& reason) {
        if (s->closing || s->ended) return;
        s->ended = true;
        if (auto f = s->on_end) f(reason);
    }

    static void read(const std::shared_ptr<State>& s) {
        s->socket.async_read_some(asio::buffer(s->buffer), [s](error_code ec, std::size_t n) {
            if (s->closing || s->ended) return;
            if (ec) {
                end(s, ec == asio::error::eof ? std::string() : ec.message());
                return;
            }
            if (auto f = s->on_data) f(std::string_view(s->buffer.data(), n));
            if (!s->closing && !s->ended) read(s);
        });
    }

    static void write_next(const std::shared_ptr<State>& s) {
        s->writing = true;
        asio::async_write(s->socket, asio::buffer(s->writes.front()),
                          [s](error_code ec, std::size_t) {
                              s->writing = false;
                              if (ec) {
                                  s->writes.clear();
                                  if (s->closing) shut(*s);
                                  else end(s, ec.message());
                                  return;
                              }
                              s->writes.pop_front();
                              if (!s->writes.empty()) write_next(s);
                              else if (s->closing) shut(*s);
                          });
    }

    std::shared_ptr<State> state_;
    std::string peer_;
};

}  // namespace

struct AsioRuntime::Impl {
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(io);
    std::map<TimerId, std::shared_ptr<asio::steady_timer>> timers;  // touched on the loop only
    TimerId next_timer = 1;
    std::thread thread;
    bool stopped = false;
};

AsioRuntime::AsioRuntime() : impl_(std::make_unique<Impl>()) {
    impl_->thread = std::thread([this] { impl_->io.run(); });
}

AsioRuntime::~AsioRuntime() { stop(); }

void AsioRuntime::stop() {
    if (impl_->stopped) return;
    impl_->stopped = true;
    impl_->guard.reset();
    impl_->io.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
    impl_->timers.clear();
}

asio::io_context& AsioRuntime::context() { return impl_->io; }

void AsioRuntime::post(std::function<void()> fn) { asio::post(impl_->io, std::move(fn)); }

void AsioRuntime::call(const std::function<void()>& fn) {
    if (impl_->stopped) return;
    std::promise<void> done;
    auto ran = done.get_future();
    asio::post(impl_->io, [&] {
        fn();
        done.set_value();
    });
    ran.wait();
}

delivery::Runtime::TimerId AsioRuntime::after(std::chrono::milliseconds delay,
                                              std::function<void()> fn) {
    const TimerId id = impl_->next_timer++;
    auto timer = std::make_shared<asio::steady_timer>(impl_->io, delay);
    impl_->timers[id] = timer;
    timer->async_wait([this, id, fn = std::move(fn)](error_code ec) {
        if (ec) return;  // cancelled
        impl_->timers.erase(id);
        fn();
    });
    return id;
}

void AsioRuntime::cancel(TimerId timer) {
    auto it = impl_->timers.find(timer);
    if (it == impl_->timers.end()) return;
    it->second->cancel();
    impl_->timers.erase(it);
}

void AsioRuntime::connect(
    const std::string& address, std::uint16_t port, std::chrono::milliseconds timeout,
    std::function<void(std::unique_ptr<delivery::Stream>, const std::string&)> done) {
    error_code ec;
    const auto ip = asio::ip::make_address(address, ec);
    if (ec) {
        asio::post(impl_->io, [done = std::move(done), address] {
            done(nullptr, "not an IP address: " + address);
        });
        return;
    }
    struct Attempt {
        explicit Attempt(asio::io_context& io) : socket(io), timer(io) {}
        tcp::socket socket;
        asio::steady_timer timer;
        bool finished = false;
        bool timed_out = false;
        std::function<void(std::unique_ptr<delivery::Stream>, const std::string&)> done;
    };
    auto a = std::make_shared<Attempt>(impl_->io);
    a->done = std::move(done);
    a->timer.expires_after(timeout);
    a->timer.async_wait([a](error_code e) {
        if (e || a->finished) return;
        a->timed_out = true;
        error_code ignored;
        a->socket.close(ignored);
    });
    a->socket.async_connect(tcp::endpoint(ip, port), [a, timeout](error_code e) {
        if (a->finished) return;
        a->finished = true;
        a->timer.cancel();
        if (a->timed_out) {
            a->done(nullptr, "connection timed out after " +
                                 std::to_string(timeout.count() / 1000) + " s");
        } else if (e) {
            a->done(nullptr, e.message());
        } else {
            error_code ignored;
            a->socket.set_option(tcp::no_delay(true), ignored);
            a->done(std::make_unique<AsioStream>(std::move(a->socket)), {});
        }
    });
}

}  // namespace pigeon::net
