// pigeon/net/server.hpp: the Boost.Asio transport. Listeners accept TCP connections; each
// connection moves bytes between its socket (through a Botan TLS channel when TLS is on) and
// its sans-I/O smtp::Session, runs the session's timers, and carries out the session's actions.
// Everything else the session asks (credentials, policy, the spool) goes to Services.
//
// Contract:
//   - One io_context per thread (ServerOptions::threads); a connection lives on one of them for
//     its whole life, so its state needs no locks. Services may answer from any thread: the
//     answer is posted back to the connection's io_context.
//   - Limits, all enforced here: total connections and connections per client (an IPv4
//     address or an IPv6 network of ipv6_prefix_bits, net/client_key.hpp; over either:
//     "421 4.7.0" and close before any session exists), the command timeout (time allowed to
//     complete the next command: partial bytes do not reset it, so a slowloris client is cut
//     off), the DATA timeouts (silence between chunks, and the whole DATA phase), and the
//     session's own limits (SessionConfig).
//   - stop() is graceful: acceptors close at once; idle sessions get 421 4.3.2 at once; sessions
//     inside a transaction may finish it (they get 421 as soon as they are idle) until the grace
//     period ends, and then get 421 too. run() returns when every connection has closed.
//   - It never logs credentials (the session redacts them before they reach the trace).
//   - Live reload (reconfigure): the limits, the session options, the TLS certificate and the
//     services' snapshot are one LiveSettings value. Each connection takes the one current when
//     it is accepted and keeps it to the end, so an open session finishes with the settings it
//     started with; connections accepted afterwards get the new value. Listeners, threads,
//     clock and log sink are fixed for the Server's life.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/log_level.hpp"
#include "core/mail_event.hpp"
#include "core/tls_mode.hpp"
#include "smtp/server/session.hpp"

namespace pigeon::tls {
class TlsContext;
}

namespace pigeon::net {

class Connection;  // server.cpp

using core::TlsMode;

struct ListenerOptions {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;  // 0: the OS picks one (tests); see Server::bound_ports()
    smtp::Role role = smtp::Role::inbound;
    TlsMode tls = TlsMode::starttls;
    // A socket already bound and listening (net/listen.hpp: opened before the privilege drop,
    // or passed by systemd): the server takes it over (and closes it) instead of binding
    // address:port itself. -1: bind here.
    int fd = -1;
};

struct ServerLimits {
    std::size_t max_connections = 256;
    std::size_t max_connections_per_ip = 16;
    std::chrono::seconds command_timeout{300};     // RFC 5321 4.5.3.2.7
    std::chrono::seconds data_block_timeout{180};  // silence inside DATA (4.5.3.2.5)
    std::chrono::seconds data_timeout{600};        // the whole DATA phase (4.5.3.2.6)
    std::chrono::seconds shutdown_grace{30};
    unsigned ipv6_prefix_bits = 64;  // max_connections_per_ip counts IPv6 clients per /N
};

using core::LogLevel;

// What the server tells a metrics observer (app/metrics.hpp), by listener index (the order of
// ServerOptions::listeners). Called from the server's threads; must be cheap and lock-free.
class ServerEvents {
public:
    enum class Refusal { too_many_connections, too_many_from_client };
    virtual ~ServerEvents() = default;
    virtual void accepted(std::size_t listener) = 0;
    virtual void refused(std::size_t listener, Refusal why) = 0;
    virtual void tls_handshake(std::size_t listener, bool ok) = 0;  // established, or failed first
};

// What a Services implementation attaches to a connection when it is accepted (its
// configuration at that moment, for live reload): kept alive as long as the connection and
// handed back in every ConnectionInfo. Opaque here; the implementation knows its type.
class ServicesSnapshot {
public:
    virtual ~ServicesSnapshot() = default;
};

struct ServerOptions {
    std::vector<ListenerOptions> listeners;
    ServerLimits limits;
    smtp::SessionConfig session;  // hostname, sizes, max_recipients, max_errors; role/tls set per listener
    std::shared_ptr<tls::TlsContext> tls;  // required when any listener uses TLS
    unsigned threads = 1;
    const core::Clock* clock = nullptr;  // for sessions' Received: headers
    // Log sink: one line per call, already prefixed with the connection id. May be called from
    // any server thread.
    std::function<void(LogLevel, std::string_view)> log;
    LogLevel log_level = LogLevel::info;
    // Called every heartbeat_interval on the acceptors' thread while run() serves: a sign of
    // life that only a responsive event loop gives (the systemd watchdog). Zero: never.
    std::chrono::milliseconds heartbeat_interval{0};
    std::function<void()> heartbeat;
    // Called once, on the acceptors' thread, when a graceful stop begins (SIGTERM, SIGINT, stop()).
    std::function<void()> on_stopping;
    ServerEvents* events = nullptr;  // may be null; must outlive the Server
    // The operator's connect and disconnect lines (core/mail_event.hpp); may be empty.
    std::function<void(const core::MailEvent&)> event;
    std::shared_ptr<const ServicesSnapshot> snapshot;  // may be null
};

// What Server::reconfigure replaces (the same fields of ServerOptions).
struct LiveSettings {
    ServerLimits limits;
    smtp::SessionConfig session;
    std::shared_ptr<tls::TlsContext> tls;
    std::shared_ptr<const ServicesSnapshot> snapshot;
};

struct ConnectionInfo {
    std::uint64_t id = 0;
    smtp::Role role = smtp::Role::inbound;
    std::string peer_address;
    std::string client_key;  // what per-client limits count: net::client_key(peer_address)
    std::uint16_t local_port = 0;
    std::size_t listener = 0;  // index into ServerOptions::listeners
    // The services' snapshot current when the connection was accepted (LiveSettings::snapshot).
    std::shared_ptr<const ServicesSnapshot> snapshot;
};

// What sessions ask of the rest of the server. handle() gets one asynchronous action
// (Authenticate, CheckSender, CheckRecipient, CheckMessage or Enqueue) and must call `done`
// exactly once, from any thread, with the matching event.
class Services {
public:
    virtual ~Services() = default;
    virtual void handle(const ConnectionInfo& connection, const smtp::Action& action,
                        std::function<void(smtp::Event)> done) = 0;
};

class Server {
public:
    // Binds every listener (or takes over its fd); throws std::runtime_error naming the
    // address and port when one cannot be bound.
    Server(ServerOptions options, Services& services);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    std::vector<std::uint16_t> bound_ports() const;  // in listener order
    void run();   // serves until stop() and every connection has closed
    void stop();  // thread-safe and signal-safe to call from another thread; graceful
    std::size_t connection_count() const;
    // Live reload: connections accepted from now on use `settings`; open ones keep theirs.
    // Thread-safe. Throws std::invalid_argument (nothing changed) when a TLS listener would be
    // left without a certificate. session.role/tls_* are set per listener, as at construction.
    void reconfigure(LiveSettings settings);

private:
    friend class Connection;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace pigeon::net
