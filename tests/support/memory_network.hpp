// A deterministic in-memory delivery::Runtime for tests: virtual time, posted work and timers run
// in order by run(), and connect() reaches in-memory peers registered by address and port.
// Peers are either scripted (a reply per command, like Postfix's smtp-sink) or a real Pigeon
// server session (smtp::Session, inbound role) with TLS through Botan, so the outbound engine
// meets the same code a real Pigeon peer runs.
#pragma once
#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "delivery/runtime.hpp"
#include "smtp/server/session.hpp"
#include "tls/credentials.hpp"
#include "tls/tls_channel.hpp"

namespace pigeon::test {

class MemoryRuntime;

// The server end of one in-memory connection.
class Peer {
public:
    virtual ~Peer() = default;
    // Bytes to send right after the connection opens (the greeting).
    virtual std::string start() = 0;
    // Bytes from the client; returns bytes to send back. Set `close` to end the connection
    // after they are sent.
    virtual std::string received(std::string_view bytes, bool& close) = 0;
    virtual void client_closed() {}
    // Set by MemoryRuntime::connect before start(): sends bytes to the client later, unasked
    // (a peer that trickles its replies). Does nothing once the connection is gone.
    std::function<void(std::string)> push;
};

class MemoryRuntime final : public delivery::Runtime {
public:
    std::int64_t now_ms = 0;
    std::size_t connects = 0;
    std::vector<std::string> connect_log;  // "address:port" per connect() call

    // A new Peer per connection to address:port; none registered: "connection refused".
    std::map<std::string, std::function<std::unique_ptr<Peer>()>> listeners;
    // address:port that never answer (connect times out).
    std::vector<std::string> black_holes;

    void post(std::function<void()> fn) override { posted_.push_back(std::move(fn)); }

    TimerId after(std::chrono::milliseconds delay, std::function<void()> fn) override {
        const TimerId id = next_timer_++;
        timers_[{now_ms + delay.count(), id}] = std::move(fn);
        return id;
    }

    void cancel(TimerId timer) override {
        for (auto it = timers_.begin(); it != timers_.end(); ++it)
            if (it->first.second == timer) {
                timers_.erase(it);
                return;
            }
    }

    void connect(const std::string& address, std::uint16_t port, std::chrono::milliseconds timeout,
                 std::function<void(std::unique_ptr<delivery::Stream>, const std::string&)> done)
        override;

    // Runs posted work, then the earliest timer (advancing now_ms), until nothing is left, the
    // virtual time would pass until_ms, or max_steps steps ran. Returns the steps run.
    std::size_t run(std::int64_t until_ms = INT64_MAX, std::size_t max_steps = 1'000'000) {
        std::size_t steps = 0;
        while (steps < max_steps) {
            if (!posted_.empty()) {
                auto fn = std::move(posted_.front());
                posted_.pop_front();
                fn();
                ++steps;
                continue;
            }
            if (timers_.empty()) break;
            auto it = timers_.begin();
            if (it->first.first > until_ms) break;
            now_ms = std::max(now_ms, it->first.first);
            auto fn = std::move(it->second);
            timers_.erase(it);
            fn();
            ++steps;
        }
        if (until_ms != INT64_MAX && posted_.empty()) now_ms = std::max(now_ms, until_ms);
        return steps;
    }

    std::size_t pending_timers() const { return timers_.size(); }

private:
    std::deque<std::function<void()>> posted_;
    std::map<std::pair<std::int64_t, TimerId>, std::function<void()>> timers_;
    TimerId next_timer_ = 1;
};

// Wall-clock seconds that follow the runtime's virtual milliseconds.
class RuntimeClock final : public core::Clock {
public:
    RuntimeClock(const MemoryRuntime& runtime, std::int64_t base_unix)
        : runtime_(runtime), base_(base_unix) {}
    std::int64_t now_unix_seconds() const override { return base_ + runtime_.now_ms / 1000; }

private:
    const MemoryRuntime& runtime_;
    std::int64_t base_;
};

namespace detail {

// Both ends of one connection; bytes travel through posted work, in order.
struct Pipe : std::enable_shared_from_this<Pipe> {
    MemoryRuntime* runtime = nullptr;
    std::unique_ptr<Peer> peer;
    std::string address;
    std::function<void(std::string_view)> on_data;
    std::function<void(const std::string&)> on_end;
    bool client_closed = false;
    bool server_closed = false;
    std::string early;  // server bytes that arrived before start()

    void to_client(std::string bytes, bool close_after) {
        auto self = shared_from_this();
        runtime->post([self, bytes = std::move(bytes), close_after] {
            if (self->client_closed) return;
            if (!bytes.empty()) {
                if (self->on_data) self->on_data(bytes);
                else self->early += bytes;
            }
            if (close_after && !self->client_closed) {
                self->server_closed = true;
                if (self->on_end) self->on_end("");
            }
        });
    }

    void to_server(std::string bytes) {
        auto self = shared_from_this();
        runtime->post([self, bytes = std::move(bytes)] {
            if (self->server_closed) return;
            bool close = false;
            std::string reply = self->peer->received(bytes, close);
            if (!reply.empty() || close) self->to_client(std::move(reply), close);
            if (close) self->server_closed = true;
        });
    }
};

class PipeStream final : public delivery::Stream {
public:
    explicit PipeStream(std::shared_ptr<Pipe> pipe) : pipe_(std::move(pipe)) {}
    ~PipeStream() override { close(); }
    void start(std::function<void(std::string_view)> on_data,
               std::function<void(const std::string&)> on_end) override {
        pipe_->on_data = std::move(on_data);
        pipe_->on_end = std::move(on_end);
        if (!pipe_->early.empty()) {
            std::string early = std::move(pipe_->early);
            pipe_->early.clear();
            pipe_->to_client(std::move(early), false);
        }
    }
    void write(std::string bytes) override {
        if (!pipe_->client_closed) pipe_->to_server(std::move(bytes));
    }
    void close() override {
        if (pipe_->client_closed) return;
        pipe_->client_closed = true;
        pipe_->on_data = nullptr;
        pipe_->on_end = nullptr;
        auto pipe = pipe_;
        pipe_->runtime->post([pipe] {
            if (!pipe->server_closed) pipe->peer->client_closed();
            pipe->server_closed = true;
        });
    }
    std::string peer_address() const override { return pipe_->address; }

private:
    std::shared_ptr<Pipe> pipe_;
};

}  // namespace detail

inline void MemoryRuntime::connect(
    const std::string& address, std::uint16_t port, std::chrono::milliseconds timeout,
    std::function<void(std::unique_ptr<delivery::Stream>, const std::string&)> done) {
    ++connects;
    const std::string key = address + ":" + std::to_string(port);
    connect_log.push_back(key);
    if (std::find(black_holes.begin(), black_holes.end(), key) != black_holes.end()) {
        after(timeout, [done = std::move(done)] { done(nullptr, "connection timed out"); });
        return;
    }
    auto it = listeners.find(key);
    if (it == listeners.end()) {
        post([done = std::move(done)] { done(nullptr, "connection refused"); });
        return;
    }
    auto pipe = std::make_shared<detail::Pipe>();
    pipe->runtime = this;
    pipe->peer = it->second();
    pipe->address = address;
    pipe->peer->push = [weak = std::weak_ptr<detail::Pipe>(pipe)](std::string bytes) {
        if (auto p = weak.lock()) p->to_client(std::move(bytes), false);
    };
    post([this, pipe, done = std::move(done)] {
        done(std::make_unique<detail::PipeStream>(pipe), {});
        std::string greeting = pipe->peer->start();
        if (!greeting.empty()) pipe->to_client(std::move(greeting), false);
    });
}

// A peer answering each command line from rules, like smtp-sink: the first rule whose prefix
// (case-insensitive) starts the line gives the reply; no rule: 250 OK. During DATA the message
// is collected until the lone ".", then `end_of_data` answers. "" as a reply: no answer, and the
// connection is dropped (what a crash looks like).
class ScriptedPeer final : public Peer {
public:
    std::string greeting = "220 peer.test ESMTP\r\n";
    std::string ehlo = "250-peer.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 10000000\r\n250 ENHANCEDSTATUSCODES\r\n";
    std::vector<std::pair<std::string, std::string>> rules;  // prefix -> reply
    std::string data_reply = "354 go ahead\r\n";
    std::string end_of_data = "250 2.0.0 queued\r\n";
    // What arrived, shared so the test can read it after the peer is gone.
    std::shared_ptr<std::vector<std::string>> commands = std::make_shared<std::vector<std::string>>();
    std::shared_ptr<std::vector<std::string>> messages = std::make_shared<std::vector<std::string>>();

    std::string start() override { return greeting; }

    std::string received(std::string_view bytes, bool& close) override {
        in_ += bytes;
        std::string out;
        std::size_t eol;
        while (!close && (eol = in_.find("\r\n")) != std::string::npos) {
            std::string line = in_.substr(0, eol);
            in_.erase(0, eol + 2);
            if (in_data_) {
                if (line == ".") {
                    in_data_ = false;
                    messages->push_back(message_);
                    message_.clear();
                    if (end_of_data.empty()) {
                        close = true;
                        break;
                    }
                    out += end_of_data;
                } else {
                    message_ += (line.starts_with(".") ? line.substr(1) : line) + "\r\n";
                }
                continue;
            }
            commands->push_back(line);
            std::string reply = answer(line);
            if (reply.empty()) {
                close = true;
                break;
            }
            out += reply;
            if (reply.starts_with("354")) in_data_ = true;
            if (reply.starts_with("221") || reply.starts_with("421")) {
                close = true;
                break;
            }
        }
        return out;
    }

private:
    std::string answer(const std::string& line) const {
        auto upper = [](std::string s) {
            for (char& c : s)
                if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
            return s;
        };
        const std::string u = upper(line);
        for (const auto& [prefix, reply] : rules)
            if (u.starts_with(upper(prefix))) return reply;
        if (u.starts_with("EHLO")) return ehlo;
        if (u.starts_with("DATA")) return data_reply;
        if (u.starts_with("QUIT")) return "221 2.0.0 bye\r\n";
        return "250 2.0.0 OK\r\n";
    }

    std::string in_;
    bool in_data_ = false;
    std::string message_;
};

// A real Pigeon server session (inbound role) as the peer: every check accepts, Enqueue succeeds
// and the message is kept; STARTTLS runs Botan's TLS server with `tls` (when set).
class SessionPeer final : public Peer {
public:
    SessionPeer(std::string hostname, const core::Clock& clock,
                std::shared_ptr<tls::TlsContext> tls,
                std::shared_ptr<std::vector<smtp::Enqueue>> queued)
        : tls_context_(std::move(tls)), queued_(std::move(queued)) {
        smtp::SessionConfig config;
        config.role = smtp::Role::inbound;
        config.hostname = std::move(hostname);
        config.tls_available = tls_context_ != nullptr;
        config.clock = &clock;
        session_ = smtp::make_session(std::move(config), smtp::PeerInfo{"192.0.2.25"});
    }

    std::string start() override { return run(session_->start()); }

    std::string received(std::string_view bytes, bool& close) override {
        std::string out;
        if (tls_) {
            tls::TlsOutput t = tls_->received(bytes);
            out += t.to_peer;
            if (t.established_now) out += run(session_->on(smtp::TlsReady{}));
            if (!t.plaintext.empty()) out += run(session_->put(t.plaintext));
            if (t.closed) closed_ = true;
        } else {
            out += run(session_->put(bytes));
        }
        close = closed_;
        return out;
    }

private:
    // Carries out the actions in order; the answers to asynchronous requests are given after
    // the whole batch, as a real driver's would arrive later.
    std::string run(std::vector<smtp::Action> actions) {
        std::string out;
        std::vector<smtp::Event> answers;
        for (auto& a : actions) {
            if (auto* send = std::get_if<smtp::Send>(&a)) {
                out += tls_ ? tls_->send(send->bytes).to_peer : send->bytes;
            } else if (std::holds_alternative<smtp::BeginTls>(a)) {
                tls_ = std::make_unique<tls::TlsServerChannel>(tls_context_);
            } else if (std::holds_alternative<smtp::CheckSender>(a) ||
                       std::holds_alternative<smtp::CheckRecipient>(a) ||
                       std::holds_alternative<smtp::CheckMessage>(a)) {
                answers.push_back(smtp::Verdict{});
            } else if (auto* q = std::get_if<smtp::Enqueue>(&a)) {
                queued_->push_back(*q);
                answers.push_back(smtp::Enqueued{"Q" + std::to_string(queued_->size())});
            } else if (std::holds_alternative<smtp::Close>(a)) {
                closed_ = true;
            }
        }
        for (const auto& e : answers) out += run(session_->on(e));
        return out;
    }

    std::shared_ptr<tls::TlsContext> tls_context_;
    std::shared_ptr<std::vector<smtp::Enqueue>> queued_;
    std::unique_ptr<smtp::Session> session_;
    std::unique_ptr<tls::TlsServerChannel> tls_;
    bool closed_ = false;
};

}  // namespace pigeon::test
