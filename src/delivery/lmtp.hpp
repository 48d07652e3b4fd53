// pigeon/delivery/lmtp.hpp: delivery to a mail store over LMTP (RFC 2033), Dovecot's lmtp
// above all. The protocol is the sans-I/O client session in LMTP mode (smtp/client/
// session.hpp, ClientConfig::lmtp); this is its blocking driver and the pool of them.
//
// Contract:
//   - LmtpClient runs on ONE thread, the local delivery worker's (LocalDeliveryWorker), never
//     an I/O thread: deliver() blocks until the store answered every recipient or a wait ran
//     out. Not thread-safe.
//   - One session (one LHLO) is kept for many messages; close_idle() QUITs and closes it once
//     it has been idle for LmtpOptions::idle_timeout, and a session the store closed is
//     opened again at the next deliver().
//   - Every wait is bounded: the connection by connect_timeout, each reply by reply_timeout
//     (data_timeout after the final "."), restarted only by a complete reply, a change of what
//     is waited for, or a write: a store trickling octets still times out. Replies are read
//     by core::ReplyParser (512-octet lines, 100 lines per reply).
//   - deliver() gives one RecipientResult per recipient, in order (the session's guarantees):
//     2xx delivered, 4xx transient, 5xx permanent; a connection that cannot be made, breaks or
//     times out makes every undecided recipient transient (connection_level).
//   - LmtpPool keeps one LmtpClient per endpoint text, made on first use.
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/endpoint.hpp"
#include "smtp/client/session.hpp"

namespace pigeon::delivery {

// A blocking byte stream with deadlines: what the driver needs of a socket.
class LmtpConnection {
public:
    virtual ~LmtpConnection() = default;
    // All of `bytes` within `timeout`; false with `error` set otherwise.
    virtual bool write(std::string_view bytes, std::chrono::milliseconds timeout, std::string& error) = 0;
    enum class ReadStatus { data, eof, timeout, error };
    struct Read {
        ReadStatus status = ReadStatus::error;
        std::string bytes;  // ReadStatus::data: at most 16 KiB
        std::string error;
    };
    virtual Read read(std::chrono::milliseconds timeout) = 0;
};

// Opens a connection within `timeout`; null with `error` set when it cannot.
using LmtpConnector = std::function<std::unique_ptr<LmtpConnection>(
    const config::LmtpEndpoint& endpoint, std::chrono::milliseconds timeout, std::string& error)>;

// Over Unix and TCP sockets: net::lmtp_socket_connector() (net/lmtp_socket.hpp).

struct LmtpOptions {
    std::string hostname = "localhost";                 // our LHLO name
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds reply_timeout{300'000};   // per reply (RFC 5321 4.5.3.2's 5 minutes)
    std::chrono::milliseconds data_timeout{600'000};    // replies after the final "."
    std::chrono::milliseconds idle_timeout{30'000};     // an unused session is closed after this
    std::function<std::chrono::steady_clock::time_point()> now;  // empty: steady_clock
    std::function<void(std::string_view)> trace;                 // the session's trace; optional
};

class LmtpClient {
public:
    LmtpClient(config::LmtpEndpoint endpoint, LmtpOptions options, LmtpConnector connector);
    ~LmtpClient();
    LmtpClient(const LmtpClient&) = delete;
    LmtpClient& operator=(const LmtpClient&) = delete;

    smtp::TransactionResult deliver(smtp::ClientMessage message);
    void close_idle();        // QUIT when idle for idle_timeout or longer
    void close();             // QUIT now (waits at most reply_timeout for the 221)
    bool connected() const { return connection_ != nullptr; }
    std::size_t connections_made() const { return connections_; }

private:
    std::chrono::steady_clock::time_point now() const;
    void handle(std::vector<smtp::ClientAction> actions);
    void pump();       // one read (or its timeout) fed to the session
    void drop();       // forget the connection and the session
    void restart_deadline();

    config::LmtpEndpoint endpoint_;
    LmtpOptions options_;
    LmtpConnector connector_;
    std::unique_ptr<LmtpConnection> connection_;
    std::unique_ptr<smtp::ClientSession> session_;
    std::optional<smtp::TransactionResult> result_;
    bool broken_ = false;  // a write failed: the session hears end of input
    std::chrono::steady_clock::time_point deadline_{}, last_used_{};
    std::uint64_t replies_seen_ = 0;
    std::string waited_for_;
    std::size_t connections_ = 0;
};

class LmtpPool {
public:
    LmtpPool(LmtpOptions options, LmtpConnector connector);
    // The endpoint text was checked at load (config::parse_lmtp_endpoint); one that does not
    // parse makes every recipient transient.
    smtp::TransactionResult deliver(const std::string& endpoint, smtp::ClientMessage message);
    void close_idle();
    void close();

private:
    LmtpOptions options_;
    LmtpConnector connector_;
    std::map<std::string, std::unique_ptr<LmtpClient>> clients_;
};

}  // namespace pigeon::delivery
