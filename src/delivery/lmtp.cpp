// pigeon/delivery/lmtp.cpp: the blocking driver of the LMTP client session, and the pool.
#include "delivery/lmtp.hpp"

#include <algorithm>
#include <utility>

namespace pigeon::delivery {
namespace {

using std::chrono::milliseconds;

// Every recipient transient with our own reply, decided at `stage`.
smtp::TransactionResult all_transient(const smtp::ClientMessage& m, const std::string& why, const char* stage) {
    smtp::TransactionResult r;
    r.connection_level = true;
    for (const auto& rcpt : m.recipients)
        r.recipients.push_back({rcpt, smtp::Outcome::transient, core::Reply(451, "4.4.1", why), false, stage});
    return r;
}

}  // namespace

LmtpClient::LmtpClient(config::LmtpEndpoint endpoint, LmtpOptions options, LmtpConnector connector)
    : endpoint_(std::move(endpoint)), options_(std::move(options)), connector_(std::move(connector)) {}

LmtpClient::~LmtpClient() { close(); }

std::chrono::steady_clock::time_point LmtpClient::now() const {
    return options_.now ? options_.now() : std::chrono::steady_clock::now();
}

void LmtpClient::restart_deadline() {
    const bool data = session_ && session_->waiting_for() == "end of data";
    deadline_ = now() + (data ? options_.data_timeout : options_.reply_timeout);
    if (session_) {
        replies_seen_ = session_->replies_received();
        waited_for_ = std::string(session_->waiting_for());
    }
}

void LmtpClient::drop() {
    connection_.reset();
    session_.reset();
    broken_ = false;
}

void LmtpClient::handle(std::vector<smtp::ClientAction> actions) {
    for (auto& a : actions) {
        if (auto* send = std::get_if<smtp::ClientSend>(&a)) {
            if (!connection_ || broken_) continue;
            std::string error;
            if (!connection_->write(send->bytes, options_.reply_timeout, error)) broken_ = true;
            restart_deadline();
        } else if (auto* done = std::get_if<smtp::ClientDone>(&a)) {
            result_ = std::move(done->result);
        } else if (std::holds_alternative<smtp::ClientClose>(a)) {
            connection_.reset();
        } else if (std::holds_alternative<smtp::ClientStartTls>(a)) {
            // Never asked for (ClientTls::none); answered as a failure all the same.
            handle(session_->on(smtp::ClientTlsFailed{"TLS is not used over LMTP"}));
            return;
        }
        // ClientIdle: nothing to do; deliver() returns once its ClientDone is in.
    }
    if (broken_ && session_ && !session_->closed()) {
        broken_ = false;
        handle(session_->put_eof());  // a write that failed: the store is gone
    }
}

void LmtpClient::pump() {
    if (session_->replies_received() != replies_seen_ || session_->waiting_for() != waited_for_)
        restart_deadline();
    const auto left = std::chrono::duration_cast<milliseconds>(deadline_ - now());
    if (left <= milliseconds(0)) {
        handle(session_->on(smtp::ClientTimeout{}));
        return;
    }
    LmtpConnection::Read r = connection_->read(left);
    switch (r.status) {
        case LmtpConnection::ReadStatus::data: handle(session_->put(r.bytes)); break;
        case LmtpConnection::ReadStatus::timeout:
            if (now() >= deadline_) handle(session_->on(smtp::ClientTimeout{}));
            break;
        case LmtpConnection::ReadStatus::eof:
        case LmtpConnection::ReadStatus::error: handle(session_->put_eof()); break;
    }
}

smtp::TransactionResult LmtpClient::deliver(smtp::ClientMessage message) {
    if (session_ && (session_->closed() || !connection_)) drop();
    if (session_ && now() - last_used_ >= options_.idle_timeout) close();  // the store may have dropped it
    if (!session_) {
        std::string error;
        connection_ = connector_(endpoint_, options_.connect_timeout, error);
        if (!connection_) {
            return all_transient(message, "LMTP connection to " + endpoint_.text() + " failed: " + error,
                                 "connect");
        }
        ++connections_;
        smtp::ClientConfig config;
        config.hostname = options_.hostname;
        config.tls = smtp::ClientTls::none;  // a local store: a Unix socket or loopback
        config.lmtp = true;
        config.trace = options_.trace;
        session_ = smtp::make_client_session(std::move(config));
        restart_deadline();
        handle(session_->start());
    }
    const smtp::ClientMessage copy = message;  // for a result if the session never answers
    result_.reset();
    handle(session_->on(smtp::Deliver{std::move(message)}));
    // Each pass reads, times out or closes; the session answers every Deliver exactly once,
    // at the latest when the connection ends, so this loop ends.
    while (!result_ && connection_ && session_ && !session_->closed()) pump();
    if (session_ && (session_->closed() || !connection_)) drop();
    last_used_ = now();
    if (!result_) return all_transient(copy, "LMTP session to " + endpoint_.text() + " ended", "connect");
    return std::move(*result_);
}

void LmtpClient::close_idle() {
    if (session_ && now() - last_used_ >= options_.idle_timeout) close();
}

void LmtpClient::close() {
    if (!session_) return;
    if (connection_ && !session_->closed()) {
        handle(session_->on(smtp::Quit{}));
        restart_deadline();
        while (connection_ && !session_->closed()) pump();
    }
    drop();
}

LmtpPool::LmtpPool(LmtpOptions options, LmtpConnector connector)
    : options_(std::move(options)), connector_(std::move(connector)) {}

smtp::TransactionResult LmtpPool::deliver(const std::string& endpoint, smtp::ClientMessage message) {
    auto it = clients_.find(endpoint);
    if (it == clients_.end()) {
        auto parsed = config::parse_lmtp_endpoint(endpoint);
        if (!parsed) return all_transient(message, parsed.error().message, "connect");
        it = clients_.emplace(endpoint, std::make_unique<LmtpClient>(parsed.value(), options_, connector_)).first;
    }
    return it->second->deliver(std::move(message));
}

void LmtpPool::close_idle() {
    for (auto& [endpoint, client] : clients_) client->close_idle();
}

void LmtpPool::close() {
    for (auto& [endpoint, client] : clients_) client->close();
}

}  // namespace pigeon::delivery
