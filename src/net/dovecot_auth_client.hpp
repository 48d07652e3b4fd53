// pigeon/net/dovecot_auth_client.hpp: the Asio transport of Dovecot's auth client protocol
// (the protocol itself: policy/dovecot_auth.hpp), for submission AUTH with [auth] dovecot.
//
// Contract:
//   - Fully asynchronous on the executor it is given (AppServices' auth pool, never an I/O
//     thread), serialized on a strand. authenticate() and close() may be called from any
//     thread; `done` is called exactly once, on the strand.
//   - One connection, reused for every request, ids matched to answers; it is opened at the
//     first request and again at the next request after it failed (no reconnect loop while
//     nobody asks).
//   - Bounded: at most max_in_flight requests (waiting for the handshake or for an answer);
//     past that a request is answered `temporary` at once. A line from Dovecot is at most
//     policy::dovecot::max_line_octets.
//   - Timed: connecting plus Dovecot's handshake within connect_timeout; each request's answer
//     within reply_timeout. A timeout, a refused or lost connection, a handshake without PLAIN
//     or any protocol error closes the connection and answers every request it carried as
//     `temporary` (submission: 454 4.7.0); a request is never answered `ok` but on Dovecot's OK.
//   - FAIL is `fail` (535), FAIL with `temp` is `temporary`.
//   - Logs (warn) why a connection was given up; never a password, never a request line.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "config/model.hpp"
#include "net/server.hpp"

namespace pigeon::net {

class DovecotAuthClient {
public:
    struct Options {
        config::AuthEndpoint endpoint;
        std::string name;  // the endpoint as configured, for the log
        std::chrono::milliseconds connect_timeout{5000};
        std::chrono::milliseconds reply_timeout{30000};
        std::size_t max_in_flight = 256;
        std::function<void(LogLevel, std::string_view)> log;  // may be empty
    };
    struct Request {
        std::string authcid;
        std::string password;
        bool secured = false;
        std::string remote_ip;
    };
    struct Result {
        enum class Outcome { ok, fail, temporary };
        Outcome outcome = Outcome::temporary;
        std::string user;    // ok: Dovecot's user=
        std::string reason;  // temporary: why (for the log; no credentials)
    };

    DovecotAuthClient(boost::asio::any_io_executor executor, Options options);
    ~DovecotAuthClient();  // close()s
    DovecotAuthClient(const DovecotAuthClient&) = delete;
    DovecotAuthClient& operator=(const DovecotAuthClient&) = delete;

    void authenticate(Request request, std::function<void(Result)> done);
    // Closes the connection and answers what is pending `temporary`; later requests too.
    void close();
    const Options& options() const;

private:
    class Impl;
    std::shared_ptr<Impl> impl_;
    std::atomic<bool> closed_{false};
};

}  // namespace pigeon::net
