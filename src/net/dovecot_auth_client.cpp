#include "net/dovecot_auth_client.hpp"

#include <unistd.h>

#include <array>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <map>

#include "policy/dovecot_auth.hpp"

namespace pigeon::net {
namespace asio = boost::asio;
using generic_stream = asio::generic::stream_protocol;

namespace {
std::string duration_text(std::chrono::milliseconds d) {
    return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + " s" : std::to_string(d.count()) + " ms";
}
}  // namespace

class DovecotAuthClient::Impl : public std::enable_shared_from_this<Impl> {
public:
    Impl(asio::any_io_executor executor, Options options)
        : strand_(asio::make_strand(executor)), options_(std::move(options)), socket_(strand_),
          connect_timer_(strand_) {}

    const Options& options() const { return options_; }

    void authenticate(Request request, std::function<void(Result)> done) {
        asio::post(strand_, [self = shared_from_this(), request = std::move(request), done = std::move(done)]() mutable {
            self->start(std::move(request), std::move(done));
        });
    }

    void close() {
        asio::post(strand_, [self = shared_from_this()] {
            self->closed_ = true;
            self->reset("the client is closing");
        });
    }

private:
    enum class State { idle, connecting, ready };
    struct Pending {
        Request request;
        std::function<void(Result)> done;
        std::unique_ptr<asio::steady_timer> timer;
        bool sent = false;
    };

    void start(Request request, std::function<void(Result)> done) {
        if (closed_) return done(temporary("the Dovecot client is closed"));
        if (pending_.size() >= options_.max_in_flight)
            return done(temporary("too many AUTH requests waiting for Dovecot (" +
                                  std::to_string(options_.max_in_flight) + ")"));
        const std::uint32_t id = next_id();
        Pending p{std::move(request), std::move(done), std::make_unique<asio::steady_timer>(strand_), false};
        p.timer->expires_after(options_.reply_timeout);
        p.timer->async_wait([self = shared_from_this(), id, generation = generation_](boost::system::error_code ec) {
            if (ec || generation != self->generation_ || !self->pending_.count(id)) return;
            self->reset("no answer within " + duration_text(self->options_.reply_timeout));
        });
        pending_.emplace(id, std::move(p));
        if (state_ == State::idle) connect();
        else if (state_ == State::ready) flush();
    }

    std::uint32_t next_id() {
        do {
            next_id_ = next_id_ == 0xffffffffu ? 1 : next_id_ + 1;
        } while (pending_.count(next_id_));
        return next_id_;
    }

    static Result temporary(std::string why) {
        Result r;
        r.outcome = Result::Outcome::temporary;
        r.reason = std::move(why);
        return r;
    }

    void log(LogLevel level, const std::string& text) const {
        if (options_.log) options_.log(level, "dovecot auth " + options_.name + ": " + text);
    }

    void connect() {
        state_ = State::connecting;
        decoder_ = policy::dovecot::Decoder();
        socket_ = generic_stream::socket(strand_);
        connect_timer_.expires_after(options_.connect_timeout);
        connect_timer_.async_wait([self = shared_from_this(), generation = generation_](boost::system::error_code ec) {
            if (ec || generation != self->generation_ || self->state_ == State::ready) return;
            self->reset("no connection and handshake within " + duration_text(self->options_.connect_timeout));
        });
        generic_stream::endpoint endpoint;
        const auto& e = options_.endpoint;
        if (e.unix_socket) endpoint = asio::local::stream_protocol::endpoint(e.path);
        else endpoint = asio::ip::tcp::endpoint(asio::ip::make_address(e.address), e.port);
        socket_.async_connect(endpoint, [self = shared_from_this(), generation = generation_](boost::system::error_code ec) {
            if (generation != self->generation_) return;
            if (ec) return self->reset("cannot connect: " + ec.message());
            self->send(policy::dovecot::client_handshake(static_cast<std::uint32_t>(::getpid())));
            self->read();
        });
    }

    void read() {
        socket_.async_read_some(asio::buffer(in_), [self = shared_from_this(), generation = generation_](
                                                        boost::system::error_code ec, std::size_t n) {
            if (generation != self->generation_) return;
            if (ec) return self->reset(ec == asio::error::eof ? "Dovecot closed the connection" : "read: " + ec.message());
            if (self->take(std::string_view(self->in_.data(), n))) self->read();
        });
    }

    // Feeds what was read to the decoder; false when the connection was given up.
    bool take(std::string_view bytes) {
        using Status = policy::dovecot::Decoder::Status;
        while (!bytes.empty()) {
            auto r = decoder_.put(bytes);
            if (r.status == Status::error) {
                reset("protocol error: " + r.error);
                return false;
            }
            bytes.remove_prefix(r.used);
            if (r.status == Status::handshake_done) {
                if (!decoder_.handshake().offers("PLAIN")) {
                    reset("Dovecot offers no PLAIN mechanism (auth_mechanisms)");
                    return false;
                }
                state_ = State::ready;
                connect_timer_.cancel();
                flush();
            } else if (r.status == Status::answer && !answer(r.answer)) {
                return false;
            }
        }
        return true;
    }

    bool answer(const policy::dovecot::Answer& a) {
        using Kind = policy::dovecot::Answer::Kind;
        auto it = pending_.find(a.id);
        if (it == pending_.end() || !it->second.sent) {
            reset("an answer for request " + std::to_string(a.id) + ", which is not waiting");
            return false;
        }
        if (a.kind == Kind::cont) {  // PLAIN with resp= needs no continuation
            reset("an unexpected CONT for request " + std::to_string(a.id));
            return false;
        }
        Pending p = std::move(it->second);
        pending_.erase(it);
        p.timer->cancel();
        Result r;
        if (a.kind == Kind::ok) {
            r.outcome = Result::Outcome::ok;
            r.user = a.user;
        } else if (a.temporary) {
            r = temporary("Dovecot answered a temporary failure");
        } else {
            r.outcome = Result::Outcome::fail;
        }
        p.done(std::move(r));
        return true;
    }

    void flush() {
        for (auto& [id, p] : pending_) {
            if (p.sent) continue;
            policy::dovecot::AuthRequest request;
            request.id = id;
            request.authcid = p.request.authcid;
            request.password = p.request.password;
            request.secured = p.request.secured;
            request.remote_ip = p.request.remote_ip;
            send(policy::dovecot::auth_request(request));
            p.sent = true;
            p.request.password.clear();
        }
    }

    void send(std::string bytes) {
        out_.push_back(std::move(bytes));
        if (out_.size() == 1) write();
    }

    void write() {
        asio::async_write(socket_, asio::buffer(out_.front()),
                          [self = shared_from_this(), generation = generation_](boost::system::error_code ec, std::size_t) {
                              if (generation != self->generation_) return;
                              if (ec) return self->reset("write: " + ec.message());
                              self->out_.pop_front();
                              if (!self->out_.empty()) self->write();
                          });
    }

    // Gives the connection up: every request it carried (or waited for it) is answered
    // `temporary`; the next request connects again.
    void reset(const std::string& why) {
        ++generation_;
        if (state_ != State::idle || !pending_.empty())
            log(closed_ ? LogLevel::debug : LogLevel::warn,
                why + (pending_.empty() ? "" : " (" + std::to_string(pending_.size()) + " AUTH answered 454)"));
        state_ = State::idle;
        boost::system::error_code ignored;
        socket_.close(ignored);
        connect_timer_.cancel();
        out_.clear();
        auto pending = std::move(pending_);
        pending_.clear();
        for (auto& [id, p] : pending) {
            p.timer->cancel();
            p.done(temporary(why));
        }
    }

    asio::strand<asio::any_io_executor> strand_;
    Options options_;
    generic_stream::socket socket_;
    asio::steady_timer connect_timer_;
    State state_ = State::idle;
    bool closed_ = false;
    std::uint64_t generation_ = 0;  // bumped at each reset: older handlers do nothing
    policy::dovecot::Decoder decoder_;
    std::map<std::uint32_t, Pending> pending_;  // at most options_.max_in_flight
    std::uint32_t next_id_ = 0;
    std::deque<std::string> out_;  // bounded by pending_ (one line per request) and the handshake
    std::array<char, 4096> in_{};
};

DovecotAuthClient::DovecotAuthClient(asio::any_io_executor executor, Options options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

DovecotAuthClient::~DovecotAuthClient() { close(); }

void DovecotAuthClient::authenticate(Request request, std::function<void(Result)> done) {
    impl_->authenticate(std::move(request), std::move(done));
}

void DovecotAuthClient::close() {
    if (!closed_.exchange(true)) impl_->close();
}

const DovecotAuthClient::Options& DovecotAuthClient::options() const { return impl_->options(); }

}  // namespace pigeon::net
