#include "net/server.hpp"

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <variant>

#include "core/reply.hpp"
#include "net/client_key.hpp"
#include "smtp/server/replies.hpp"
#include "tls/credentials.hpp"
#include "tls/tls_channel.hpp"

namespace pigeon::net {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {
constexpr std::size_t read_buffer_octets = 16 * 1024;
// Output backpressure. A client may pipeline commands and never read the replies (a reply
// flood: HELP answers 6 octets with about 85). While more than this is waiting to be written
// (queued and in flight, after TLS), the connection neither reads from the socket nor hands
// the session more input; it resumes when a write brings it back under. Input the client sends
// meanwhile stays in the kernel, and TCP flow control stops the client.
constexpr std::size_t output_high_water_octets = 32 * 1024;
// The session gets its input in slices of at most this, so that one slice's replies bound how
// far output can overshoot the mark: the worst reply per input octet is EHLO with a one-letter
// name, 8 octets answered with about 130 plus the hostname (<= 255), i.e. at most 128 EHLOs x
// ~385 octets = 48 KiB over the mark (about 20 KiB with a typical hostname).
constexpr std::size_t feed_slice_octets = 1024;

// A listener that needs a certificate `tls` does not give it, or null.
const ListenerOptions* tls_listener_without_certificate(const std::vector<ListenerOptions>& listeners,
                                                        const std::shared_ptr<tls::TlsContext>& tls) {
    const bool have_cert = tls && tls->has_certificate();
    for (const auto& l : listeners)
        if (l.tls != TlsMode::none && !have_cert) return &l;
    return nullptr;
}
}

class Connection;

struct Server::Impl {
    Impl(ServerOptions o, Services& s) : options(std::move(o)), services(s) {}

    ServerOptions options;
    Services& services;
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
    std::unique_ptr<asio::signal_set> signals;
    std::unique_ptr<asio::steady_timer> grace_timer;
    std::unique_ptr<asio::steady_timer> heartbeat_timer;
    std::atomic<std::uint64_t> next_id{1};
    std::size_t next_context = 0;  // touched only on contexts[0] (the acceptors' thread)

    mutable std::mutex mutex;  // guards what follows
    std::size_t total = 0;
    std::unordered_map<std::string, std::size_t> per_ip;  // by client_key
    std::map<std::uint64_t, std::weak_ptr<Connection>> connections;
    bool stopping = false;
    std::shared_ptr<const LiveSettings> live;  // what the next connection gets (reconfigure)

    void log(LogLevel level, std::string_view text) const {
        if (options.log && level <= options.log_level) options.log(level, text);
    }
    void accept(std::size_t listener);
    void admit(std::size_t listener, tcp::socket socket);
    void refuse(tcp::socket socket, bool tls, const std::string& why);
    void release(std::uint64_t id, const std::string& key);
    void begin_stop();
    void beat();  // ServerOptions::heartbeat, then again after the interval
    void shut_down_connections(bool force);
    void finish_if_done();  // with mutex held
};

// One client connection. Lives on one io_context; all members are touched only from it.
class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(Server::Impl& server, tcp::socket socket, const ListenerOptions& listener,
               ConnectionInfo info, std::shared_ptr<const LiveSettings> settings)
        : server_(server),
          socket_(std::move(socket)),
          listener_(listener),
          info_(std::move(info)),
          settings_(std::move(settings)),
          timer_(socket_.get_executor()),
          data_timer_(socket_.get_executor()) {}

    const ConnectionInfo& info() const { return info_; }
    tcp::socket::executor_type executor() { return socket_.get_executor(); }

    void start() {
        smtp::SessionConfig config = settings_->session;
        config.role = listener_.role;
        const bool have_cert = settings_->tls && settings_->tls->has_certificate();
        config.tls_available = listener_.tls == TlsMode::starttls && have_cert;
        config.tls_active = listener_.tls == TlsMode::implicit;
        config.clock = server_.options.clock;
        config.trace = [this](std::string_view line) { trace(line); };
        session_ = smtp::make_session(std::move(config), smtp::PeerInfo{info_.peer_address});
        event(false);
        log(LogLevel::debug, "connect from " + info_.peer_address + " to port " +
                                std::to_string(info_.local_port) + " (" +
                                smtp::role_name(listener_.role) +
                                (listener_.tls == TlsMode::implicit ? ", implicit TLS" : "") + ")");
        if (listener_.tls == TlsMode::implicit) {
            if (!have_cert) {
                log(LogLevel::error, "implicit TLS listener without a certificate");
                finish();
                return;
            }
            tls_ = std::make_unique<tls::TlsServerChannel>(settings_->tls);
        }
        execute(session_->start());
        read();
    }

    // Posted by the server when it stops: 421 now if nothing is lost by it (or if forced),
    // otherwise as soon as the session is idle.
    void request_shutdown(bool force) {
        if (closed_) return;
        draining_ = true;
        if (force || session_->idle()) execute(session_->on(smtp::Shutdown{}));
    }

private:
    void log(LogLevel level, std::string_view text) const {
        if (server_.options.log && level <= server_.options.log_level)
            server_.options.log(level, "c" + std::to_string(info_.id) + " " + std::string(text));
    }

    // "connect from unknown[ip]" / "disconnect from ...", the operator's lines (core/mail_event.hpp).
    void event(bool disconnected) const {
        if (!server_.options.event) return;
        server_.options.event(core::ClientConnected{
            listener_.role == smtp::Role::submission ? core::MailService::submission
                                                     : core::MailService::smtpd,
            info_.peer_address, disconnected});
    }

    // Session trace lines: the dialogue and state changes at debug (the operator's info lines
    // are the events Services logs); at info only what the session notes ("!: ") and the 421s
    // that end a session on the server's initiative.
    void trace(std::string_view line) const {
        LogLevel level = LogLevel::debug;
        if (line.rfind("!: ", 0) == 0 || line.rfind("S: 421 ", 0) == 0) level = LogLevel::info;
        log(level, line);
    }

    // Reads only when everything read so far has gone to the session, the session is not
    // waiting on Services (its input would only pile up there), and the client keeps up with
    // its replies (output_backlogged). Otherwise the next read starts from resume().
    void read() {
        if (closed_ || close_after_write_ || input_ended_ || read_in_flight_) return;
        if (input_pos_ < input_.size() || awaiting_services_ || output_backlogged()) return;
        read_in_flight_ = true;
        socket_.async_read_some(asio::buffer(buffer_),
                                [self = shared_from_this()](error_code ec, std::size_t n) {
                                    self->on_read(ec, n);
                                });
    }

    void on_read(error_code ec, std::size_t n) {
        read_in_flight_ = false;
        if (closed_) return;
        if (ec) {
            end_of_input();
            return;
        }
        const std::string_view bytes(buffer_.data(), n);
        // Inside DATA, any bytes reset the block timer; outside, only a reply does (below).
        if (session_->state() == "ReceivingData") arm_timer();
        if (tls_) {
            handle_tls(tls_->received(bytes));
        } else {
            input_.append(bytes);
        }
        feed();
        read();
    }

    void handle_tls(tls::TlsOutput out) {
        if (!out.to_peer.empty()) write(std::move(out.to_peer));
        // TlsReady before the plaintext of the same call: Botan hands out application data
        // only once the handshake is done, so it was sent inside TLS. Fed first, the session
        // would still be in its handshake state and discard the client's first command as
        // cleartext injection (CVE-2011-0411), and the client would wait for a reply until
        // the timeout. (A client's first command rides with its Finished on resumption.)
        if (out.established_now) {
            count_handshake(true);
            log(LogLevel::info, "TLS established: " + tls_->version() + " " + tls_->cipher_suite());
            if (tls_upgrade_pending_) {
                tls_upgrade_pending_ = false;
                execute(session_->on(smtp::TlsReady{}));
            }
        }
        input_.append(out.plaintext);
        if (out.closed) {
            count_handshake(false);  // if it never completed
            if (!out.error.empty()) log(LogLevel::warn, "TLS: " + out.error);
            feed();  // what came before close_notify; nothing more can be answered after it
            input_.clear();
            input_pos_ = 0;
            transport_ended();
        }
    }

    // Each TLS session counts once: established, or failed (an alert, or the client left
    // before the handshake finished).
    void count_handshake(bool ok) {
        if (!tls_ || tls_counted_) return;
        tls_counted_ = true;
        if (server_.options.events) server_.options.events->tls_handshake(info_.listener, ok);
    }

    // Hands the session what was read, a slice at a time, until it is used up or the output
    // is backlogged or the session waits on Services.
    void feed() {
        while (!closed_ && !close_after_write_ && input_pos_ < input_.size() &&
               !awaiting_services_ && !output_backlogged()) {
            const std::size_t n = std::min(feed_slice_octets, input_.size() - input_pos_);
            const std::string_view slice(input_.data() + input_pos_, n);
            input_pos_ += n;
            execute(session_->put(slice));
        }
        if (input_pos_ == input_.size() || closed_ || close_after_write_) {
            input_.clear();  // the session has closed: what it did not take is never answered
            input_pos_ = 0;
        }
    }

    bool output_backlogged() const {
        return out_.size() + writing_.size() > output_high_water_octets;
    }

    // A write finished or Services answered: carry on where feed() and read() stopped.
    void resume() {
        const bool was_paused = paused_;
        paused_ = false;
        feed();
        read();
        // The client read its replies: it is active, and gets a full command timeout again.
        if (was_paused && !closed_ && !close_after_write_ && !awaiting_services_) arm_timer();
    }

    // The client half-closed: the session still answers what it had sent (a pipeline
    // followed by FIN is legitimate) and says Close when it is done.
    void end_of_input() {
        input_ended_ = true;
        if (session_ && !session_->closed()) execute(session_->put_eof());
        if (!session_ || session_->closed()) close_after_write_ = true;
        maybe_finish();
    }

    // The TLS layer ended (close_notify or a fatal alert): nothing more can be written.
    void transport_ended() {
        if (session_ && !session_->closed()) execute(session_->put_eof());
        close_after_write_ = true;
        maybe_finish();
    }

    void execute(std::vector<smtp::Action> actions) {
        if (closed_) return;
        bool progress = false;
        for (auto& action : actions) {
            if (auto* send = std::get_if<smtp::Send>(&action)) {
                progress = true;
                send_text(send->bytes);
            } else if (std::holds_alternative<smtp::BeginTls>(action)) {
                tls_ = std::make_unique<tls::TlsServerChannel>(settings_->tls);
                tls_upgrade_pending_ = true;
            } else if (std::holds_alternative<smtp::Close>(action)) {
                close_after_write_ = true;
                if (tls_ && !tls_->closed()) {
                    auto out = tls_->close();
                    if (!out.to_peer.empty()) write(std::move(out.to_peer));
                }
            } else {
                ask_services(action);
            }
        }
        if (close_after_write_) {
            timer_.cancel();
            data_timer_.cancel();
            maybe_finish();
            if (!closed_) arm_final_write_timer();
            return;
        }
        update_data_timer();
        // Replies the client does not read never extend its time: once they back up, the
        // timer keeps running from the last reply that went out before (see on_timeout).
        if (output_backlogged()) {
            if (!paused_)
                log(LogLevel::debug, "output backlogged: reading paused until the client reads");
            paused_ = true;
        } else if (progress && !awaiting_services_) {
            arm_timer();
        }
        if (draining_ && session_->idle()) execute(session_->on(smtp::Shutdown{}));
    }

    void ask_services(const smtp::Action& action) {
        awaiting_services_ = true;
        timer_.cancel();  // the client is not to blame for our own slowness
        auto executor = socket_.get_executor();
        server_.services.handle(
            info_, action, [self = shared_from_this(), executor](smtp::Event event) {
                asio::post(executor, [self, event = std::move(event)]() mutable {
                    self->awaiting_services_ = false;
                    if (self->closed_) return;
                    self->execute(self->session_->on(event));
                    // A fresh timeout (the wait was ours), also when replies are backed up:
                    // that is the time the client has to read them.
                    if (!self->awaiting_services_ && !self->closed_ && !self->close_after_write_)
                        self->arm_timer();
                    self->feed();  // what the client pipelined behind the question
                    self->read();
                });
            });
    }

    void update_data_timer() {
        const bool in_data = session_->state() == "ReceivingData";
        if (in_data && !in_data_) {
            data_timer_.expires_after(settings_->limits.data_timeout);
            data_timer_.async_wait([self = shared_from_this()](error_code ec) {
                if (!ec) self->on_timeout("DATA phase exceeded data_timeout");
            });
        } else if (!in_data && in_data_) {
            data_timer_.cancel();
        }
        in_data_ = in_data;
    }

    void arm_timer() {
        const auto& limits = settings_->limits;
        timer_.expires_after(session_->state() == "ReceivingData" ? limits.data_block_timeout
                                                                  : limits.command_timeout);
        timer_.async_wait([self = shared_from_this()](error_code ec) {
            if (!ec) self->on_timeout("no complete command within the timeout");
        });
    }

    void on_timeout(const char* why) {
        if (closed_ || close_after_write_) return;
        if (output_backlogged()) {
            // A 421 would only queue behind replies the client does not read.
            log(LogLevel::info, "timeout: the client did not read its replies (" +
                                    std::to_string(out_.size() + writing_.size()) +
                                    " octets pending): closing");
            finish();
            return;
        }
        log(LogLevel::info, std::string("timeout: ") + why);
        execute(session_->on(smtp::Timeout{}));
    }

    // After Close, the last replies still get written; a client that never reads them must
    // not hold the connection open (nor a stopping server's run()): it gets the command
    // timeout to take them, or the shutdown grace period when the server is stopping.
    void arm_final_write_timer() {
        const auto& limits = settings_->limits;
        timer_.expires_after(draining_ ? std::max(limits.shutdown_grace, std::chrono::seconds(1))
                                       : limits.command_timeout);
        timer_.async_wait([self = shared_from_this()](error_code ec) {
            if (ec || self->closed_) return;
            self->log(LogLevel::info, "timeout: the client did not read the last replies (" +
                                          std::to_string(self->out_.size() + self->writing_.size()) +
                                          " octets pending): closing");
            self->finish();
        });
    }

    void send_text(const std::string& bytes) {
        if (!tls_) {
            write(bytes);
            return;
        }
        auto out = tls_->send(bytes);
        if (!out.to_peer.empty()) write(std::move(out.to_peer));
        if (out.closed) {
            if (!out.error.empty()) log(LogLevel::warn, "TLS: " + out.error);
            close_after_write_ = true;
        }
    }

    void write(std::string bytes) {
        out_ += bytes;
        if (!write_in_flight_) do_write();
    }

    void do_write() {
        if (out_.empty() || closed_) {
            maybe_finish();
            return;
        }
        writing_ = std::move(out_);
        out_.clear();
        write_in_flight_ = true;
        asio::async_write(socket_, asio::buffer(writing_),
                          [self = shared_from_this()](error_code ec, std::size_t) {
                              self->write_in_flight_ = false;
                              if (ec) {
                                  self->finish();
                                  return;
                              }
                              self->writing_.clear();
                              self->do_write();
                              if (!self->output_backlogged()) self->resume();
                          });
    }

    void maybe_finish() {
        if (close_after_write_ && !write_in_flight_ && out_.empty()) finish();
    }

    void finish() {
        if (closed_) return;
        closed_ = true;
        count_handshake(false);
        timer_.cancel();
        data_timer_.cancel();
        error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
        log(LogLevel::debug, "disconnect");
        event(true);
        server_.release(info_.id, info_.client_key);
    }

    Server::Impl& server_;
    tcp::socket socket_;
    ListenerOptions listener_;
    ConnectionInfo info_;
    const std::shared_ptr<const LiveSettings> settings_;  // taken at accept; kept to the end
    std::unique_ptr<smtp::Session> session_;
    std::unique_ptr<tls::TlsServerChannel> tls_;
    bool tls_upgrade_pending_ = false;
    bool tls_counted_ = false;
    asio::steady_timer timer_;       // command timeout, or DATA block timeout
    asio::steady_timer data_timer_;  // the whole DATA phase
    bool in_data_ = false;
    std::array<char, read_buffer_octets> buffer_{};
    bool read_in_flight_ = false;
    std::string input_;          // read (and decrypted), not yet handed to the session
    std::size_t input_pos_ = 0;  // the prefix of input_ already handed over
    std::string out_;      // queued for writing
    std::string writing_;  // being written
    bool write_in_flight_ = false;
    bool paused_ = false;  // output backlogged: no reading or feeding until it drains
    bool close_after_write_ = false;
    bool awaiting_services_ = false;
    bool draining_ = false;
    bool input_ended_ = false;  // the client half-closed; no more reads
    bool closed_ = false;
};

// ---------------------------------------------------------------- Server::Impl

void Server::Impl::accept(std::size_t listener) {
    auto& context = *contexts[next_context++ % contexts.size()];
    acceptors[listener]->async_accept(context, [this, listener](error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;  // stopping
        if (!ec) admit(listener, std::move(socket));
        {
            std::lock_guard lock(mutex);
            if (stopping) return;
        }
        accept(listener);
    });
}

void Server::Impl::admit(std::size_t listener, tcp::socket socket) {
    error_code ec;
    auto remote = socket.remote_endpoint(ec);
    if (ec) return;
    std::string ip = remote.address().to_string();
    if (remote.address().is_v6() && remote.address().to_v6().is_v4_mapped())
        ip = remote.address().to_v6().to_v4().to_string();
    const auto& opts = options.listeners[listener];
    std::shared_ptr<Connection> connection;
    {
        std::lock_guard lock(mutex);
        if (stopping) return;
        const std::shared_ptr<const LiveSettings> settings = live;
        const ServerLimits& limits = settings->limits;
        // One client is one IPv4 address or one IPv6 /N network (net/client_key.hpp).
        std::string key = client_key(ip, limits.ipv6_prefix_bits);
        if (total >= limits.max_connections) {
            if (options.events) options.events->refused(listener, ServerEvents::Refusal::too_many_connections);
            refuse(std::move(socket), opts.tls == TlsMode::implicit, "too many connections");
            return;
        }
        if (per_ip[key] >= limits.max_connections_per_ip) {
            if (options.events) options.events->refused(listener, ServerEvents::Refusal::too_many_from_client);
            refuse(std::move(socket), opts.tls == TlsMode::implicit,
                   "too many connections from " + key);
            return;
        }
        ConnectionInfo info{next_id++, opts.role, ip, key, opts.port, listener, settings->snapshot};
        if (opts.port == 0) info.local_port = acceptors[listener]->local_endpoint().port();
        if (options.events) options.events->accepted(listener);
        connection = std::make_shared<Connection>(*this, std::move(socket), opts, info, settings);
        ++total;
        ++per_ip[key];
        connections[info.id] = connection;
    }
    asio::post(connection->executor(), [connection] { connection->start(); });
}

void Server::Impl::refuse(tcp::socket socket, bool tls, const std::string& why) {
    log(LogLevel::warn, "refused a connection: " + why);
    auto sock = std::make_shared<tcp::socket>(std::move(socket));
    if (tls) {  // no TLS session to say it in: just close
        error_code ignored;
        sock->close(ignored);
        return;
    }
    auto text = std::make_shared<std::string>(
        core::format_reply(smtp::replies::too_many_connections.reply({live->session.hostname, why})));
    asio::async_write(*sock, asio::buffer(*text), [sock, text](error_code, std::size_t) {
        error_code ignored;
        sock->shutdown(tcp::socket::shutdown_both, ignored);
        sock->close(ignored);
    });
}

void Server::Impl::release(std::uint64_t id, const std::string& key) {
    std::lock_guard lock(mutex);
    --total;
    if (auto it = per_ip.find(key); it != per_ip.end() && --it->second == 0) per_ip.erase(it);
    connections.erase(id);
    finish_if_done();
}

void Server::Impl::finish_if_done() {
    if (!stopping || total != 0) return;
    // Everything has closed: let every io_context run out of work, so run() returns.
    asio::post(*contexts[0], [this] {
        if (grace_timer) grace_timer->cancel();
        if (signals) signals->cancel();
        for (auto& guard : guards) guard.reset();
    });
}

void Server::Impl::begin_stop() {
    std::chrono::seconds grace;
    {
        std::lock_guard lock(mutex);
        if (stopping) return;
        stopping = true;
        grace = live->limits.shutdown_grace;
    }
    if (heartbeat_timer) heartbeat_timer->cancel();
    if (options.on_stopping) options.on_stopping();
    log(LogLevel::info, "stopping: no new connections; idle sessions get 421 now, busy ones "
                        "within " + std::to_string(grace.count()) + " s");
    for (auto& acceptor : acceptors) {
        error_code ignored;
        acceptor->close(ignored);
    }
    shut_down_connections(false);
    grace_timer = std::make_unique<asio::steady_timer>(*contexts[0]);
    grace_timer->expires_after(grace);
    grace_timer->async_wait([this](error_code ec) {
        if (!ec) shut_down_connections(true);
    });
    std::lock_guard lock(mutex);
    finish_if_done();
}

void Server::Impl::beat() {
    {
        std::lock_guard lock(mutex);
        if (stopping) return;  // a wait that completed just before begin_stop's cancel
    }
    options.heartbeat();
    heartbeat_timer->expires_after(options.heartbeat_interval);
    heartbeat_timer->async_wait([this](error_code ec) {
        if (!ec) beat();
    });
}

void Server::Impl::shut_down_connections(bool force) {
    std::vector<std::shared_ptr<Connection>> live;
    {
        std::lock_guard lock(mutex);
        for (auto& [id, weak] : connections)
            if (auto c = weak.lock()) live.push_back(std::move(c));
    }
    for (auto& c : live) asio::post(c->executor(), [c, force] { c->request_shutdown(force); });
}

// ---------------------------------------------------------------- Server

Server::Server(ServerOptions options, Services& services)
    : impl_(std::make_unique<Impl>(std::move(options), services)) {
    auto& o = impl_->options;
    if (o.threads == 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
    if (o.clock == nullptr) throw std::invalid_argument("ServerOptions.clock is required");
    for (unsigned i = 0; i < o.threads; ++i) {
        impl_->contexts.push_back(std::make_unique<asio::io_context>(1));
        impl_->guards.push_back(asio::make_work_guard(*impl_->contexts.back()));
    }
    impl_->live = std::make_shared<const LiveSettings>(LiveSettings{o.limits, o.session, o.tls, o.snapshot});
    if (const ListenerOptions* l = tls_listener_without_certificate(o.listeners, o.tls))
        throw std::runtime_error("listener " + l->address + ":" + std::to_string(l->port) +
                                 " uses TLS but no certificate is loaded");
    for (const auto& l : o.listeners) {
        auto acceptor = std::make_unique<tcp::acceptor>(*impl_->contexts[0]);
        if (l.fd >= 0) {
            const bool v6 = asio::ip::make_address(l.address).is_v6();
            acceptor->assign(v6 ? tcp::v6() : tcp::v4(), l.fd);
            impl_->acceptors.push_back(std::move(acceptor));
            continue;
        }
        try {
            tcp::endpoint endpoint(asio::ip::make_address(l.address), l.port);
            acceptor->open(endpoint.protocol());
            acceptor->set_option(asio::socket_base::reuse_address(true));
            acceptor->bind(endpoint);
            acceptor->listen(asio::socket_base::max_listen_connections);
        } catch (const std::exception& e) {
            throw std::runtime_error("cannot listen on " + l.address + ":" +
                                     std::to_string(l.port) + ": " + e.what());
        }
        impl_->acceptors.push_back(std::move(acceptor));
    }
}

Server::~Server() = default;

std::vector<std::uint16_t> Server::bound_ports() const {
    std::vector<std::uint16_t> ports;
    for (const auto& a : impl_->acceptors) {
        error_code ec;
        auto endpoint = a->local_endpoint(ec);
        ports.push_back(ec ? 0 : endpoint.port());
    }
    return ports;
}

void Server::reconfigure(LiveSettings settings) {
    if (const ListenerOptions* l = tls_listener_without_certificate(impl_->options.listeners, settings.tls))
        throw std::invalid_argument("listener " + l->address + ":" + std::to_string(l->port) +
                                    " uses TLS but the new settings have no certificate");
    auto next = std::make_shared<const LiveSettings>(std::move(settings));
    std::lock_guard lock(impl_->mutex);
    impl_->live = std::move(next);
}

std::size_t Server::connection_count() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->total;
}

void Server::run() {
    for (std::size_t i = 0; i < impl_->acceptors.size(); ++i) impl_->accept(i);
    impl_->signals = std::make_unique<asio::signal_set>(*impl_->contexts[0], SIGINT, SIGTERM);
    impl_->signals->async_wait([this](error_code ec, int) {
        if (!ec) impl_->begin_stop();
    });
    if (impl_->options.heartbeat && impl_->options.heartbeat_interval.count() > 0) {
        impl_->heartbeat_timer = std::make_unique<asio::steady_timer>(*impl_->contexts[0]);
        impl_->beat();
    }
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < impl_->contexts.size(); ++i)
        threads.emplace_back([this, i] { impl_->contexts[i]->run(); });
    impl_->contexts[0]->run();
    for (auto& t : threads) t.join();
}

void Server::stop() {
    asio::post(*impl_->contexts[0], [this] { impl_->begin_stop(); });
}

}  // namespace pigeon::net
