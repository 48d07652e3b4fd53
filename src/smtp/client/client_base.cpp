#include "smtp/client/client_base.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <type_traits>
#include <utility>

#include "core/overloaded.hpp"

namespace pigeon::smtp::detail {
namespace {

using core::overloaded;

std::string upper(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

Outcome outcome_of(const core::Reply& r) {
    if (r.code < 400) return Outcome::delivered;
    return r.code < 500 ? Outcome::transient : Outcome::permanent;
}

const std::string& text_of(const ClientMessage& m) {
    static const std::string empty;
    return m.message ? *m.message : empty;
}

bool ends_with_crlf(const std::string& s) {
    return s.size() >= 2 && s[s.size() - 2] == '\r' && s[s.size() - 1] == '\n';
}

// RFC 1870 3: the size of the message as it will be sent, CRLFs included, without the
// dot-stuffing and the final "."; we add a CRLF to a message that lacks one.
std::uint64_t wire_size(const ClientMessage& m) {
    const std::string& t = text_of(m);
    return t.size() + (t.empty() || ends_with_crlf(t) ? 0 : 2);
}

bool has_eight_bit(const std::string& s) {
    return std::any_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// The SIZE keyword's parameter (RFC 1870 4): the largest message the peer takes, 0 or absent
// meaning "no fixed limit". A value we cannot read is treated as no limit: the peer still
// says no at MAIL or at the end of data if it means it.
std::optional<std::uint64_t> size_limit(const Extensions& ext) {
    auto it = ext.find("SIZE");
    if (it == ext.end() || it->second.empty()) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : it->second) {
        if (c < '0' || c > '9') return std::nullopt;
        if (v > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (v == 0) return std::nullopt;
    return v;
}

}  // namespace

Extensions parse_extensions(const core::Reply& ehlo_reply) {
    // RFC 5321 4.1.1.1: the first line is the greeting; each further line is
    // ehlo-keyword *( SP ehlo-param ). Keywords are case-insensitive.
    Extensions ext;
    for (std::size_t i = 1; i < ehlo_reply.lines.size(); ++i) {
        std::string_view line(ehlo_reply.lines[i]);
        while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
        if (line.empty()) continue;
        auto sp = line.find(' ');
        std::string keyword = upper(line.substr(0, sp));
        std::string params = sp == std::string_view::npos ? std::string()
                                                          : std::string(line.substr(sp + 1));
        ext.emplace(std::move(keyword), std::move(params));
    }
    return ext;
}

ClientBase::ClientBase(ClientConfig config) : config_(std::move(config)) {
    tls_active_ = config_.tls_active;
}

// ---------------------------------------------------------------- driver interface

std::vector<ClientAction> ClientBase::start() {
    trace("state: ", std::string("start in ") + state_);
    return take_actions();
}

std::vector<ClientAction> ClientBase::put(std::string_view bytes) {
    while (!bytes.empty() && !closed()) {
        if (wait_ == ClientWait::idle || wait_ == ClientWait::tls_handshake) {
            // Nothing was asked: a broken peer, or plaintext injected behind the 220 to
            // STARTTLS (the client-side twin of CVE-2011-0411). Never act on it.
            trace("S: ", "<" + std::to_string(bytes.size()) + " unsolicited octets>");
            abort_connection(core::Reply(451, "4.5.0", "Protocol error: unsolicited data from the peer"),
                             false);
            break;
        }
        const std::size_t used = parser_.put(bytes);
        bytes.remove_prefix(used);
        if (parser_.failed()) {
            trace("S: ", "<malformed reply: " + parser_.error() + ">");
            abort_connection(core::Reply(451, "4.5.0", "Protocol error: malformed reply: " + parser_.error()),
                             false);
            break;
        }
        if (parser_.done()) {
            core::Reply r = parser_.reply();
            parser_.reset();
            ++replies_received_;
            handle_reply(std::move(r));
        } else if (used == 0) {
            break;  // cannot happen while reading; never spin
        }
    }
    // Only now, with all of this input looked at: plaintext behind the 220 to STARTTLS has
    // closed the session above, and the driver must not start a handshake for it.
    if (std::exchange(tls_to_start_, false) && wait_ == ClientWait::tls_handshake)
        emit(ClientStartTls{});
    return take_actions();
}

std::vector<ClientAction> ClientBase::put_eof() {
    if (closed()) return {};
    trace("S: ", "<end of input>");
    if (wait_ == ClientWait::quit || (wait_ == ClientWait::idle && queue_.empty())) {
        emit(ClientClose{});
        enter_state("Closed", ClientWait::closed);
    } else {
        abort_connection(core::Reply(451, "4.4.2",
                                     "Connection closed by the peer while waiting for " +
                                         std::string(waiting_for())),
                         false);
    }
    return take_actions();
}

std::vector<ClientAction> ClientBase::on(const ClientEvent& event) {
    std::visit(
        overloaded{
            [this](const ClientTlsReady&) {
                if (wait_ == ClientWait::tls_handshake)
                    fire(TlsUp{});
                else
                    trace("!: ", "ignored ClientTlsReady: no handshake was asked for");
            },
            [this](const ClientTlsFailed& e) {
                if (wait_ == ClientWait::tls_handshake)
                    fire(TlsDown{e.reason});
                else
                    trace("!: ", "ignored ClientTlsFailed: no handshake was asked for");
            },
            [this](const ClientTimeout&) {
                if (closed()) return;
                if (wait_ == ClientWait::quit || wait_ == ClientWait::idle) {
                    // Nothing of ours is lost: close (RFC 5321 4.5.3.2 lets either side).
                    emit(ClientClose{});
                    enter_state("Closed", ClientWait::closed);
                    return;
                }
                // RFC 5321 4.5.3.2: a timed-out client fails what is unfinished; after the
                // "." the peer may already have the message (RFC 1047).
                abort_connection(core::Reply(451, "4.4.2",
                                             "Timeout waiting for the " +
                                                 std::string(waiting_for()) + " reply"),
                                 false);
            },
            [this](const Deliver& d) {
                if (closed() || wait_ == ClientWait::quit) {
                    // Too late for this connection: answer at once, the engine retries. (Every
                    // earlier Deliver is answered by now, so the order holds. Before QUIT goes
                    // out, a Deliver given after Quit is still delivered.)
                    TransactionResult result;
                    result.connection_level = true;
                    for (const auto& rcpt : d.message.recipients)
                        result.recipients.push_back(
                            {rcpt, Outcome::transient,
                             core::Reply(451, "4.4.0", "Not sent: the session had ended"), false,
                             "connect"});
                    emit(ClientDone{std::move(result)});
                    return;
                }
                queue_.push_back(d.message);
            },
            [this](const Quit&) { quit_requested_ = true; },
        },
        event);
    advance();
    return take_actions();
}

bool ClientBase::peer_offers(std::string_view keyword) const {
    return extensions_.count(upper(keyword)) > 0;
}

std::string_view ClientBase::waiting_for() const {
    switch (wait_) {
        case ClientWait::greeting: return "greeting";
        case ClientWait::ehlo: return config_.lmtp ? "LHLO" : "EHLO";
        case ClientWait::helo: return "HELO";
        case ClientWait::starttls: return "STARTTLS";
        case ClientWait::tls_handshake: return "TLS handshake";
        case ClientWait::auth: return "AUTH";
        case ClientWait::rset: return "RSET";
        case ClientWait::mail: return "MAIL";
        case ClientWait::rcpt: return "RCPT";
        case ClientWait::data: return "DATA";
        case ClientWait::data_end: return "end of data";
        case ClientWait::quit: return "QUIT";
        case ClientWait::idle:
        case ClientWait::closed: return "";
    }
    return "";
}

// ---------------------------------------------------------------- replies

bool ClientBase::reply_allowed(const core::Reply& r) const {
    // RFC 5321 4.2.1 and 4.3.2: the first digit says success (2), intermediate (3) or
    // failure (4, 5); an intermediate reply is right only where the sequence has one
    // (354 to DATA, 334 to AUTH), a success reply only where there is none.
    if (r.code >= 400) return true;
    const bool success = r.code < 300;
    switch (wait_) {
        case ClientWait::data: return !success;
        case ClientWait::auth: return success || auth_login_step_ == 0 || auth_login_step_ == 1;
        case ClientWait::quit: return true;
        default: return success;
    }
}

void ClientBase::handle_reply(core::Reply reply) {
    if (config_.trace) {
        std::string text = core::format_reply(reply);
        std::size_t start = 0;
        while (start < text.size()) {
            auto end = text.find("\r\n", start);
            trace("S: ", std::string_view(text).substr(start, end - start));
            start = end + 2;
        }
    }
    if (wait_ != ClientWait::quit) {
        if (reply.code == 421) {
            // RFC 5321 3.8: the peer is closing the channel; it reads nothing more.
            abort_connection(reply, true);
            return;
        }
        if (!reply_allowed(reply)) {
            abort_connection(core::Reply(451, "4.5.0",
                                         "Protocol error: unexpected reply " +
                                             std::to_string(reply.code) + " to " +
                                             std::string(waiting_for())),
                             false);
            return;
        }
    }
    if (config_.lmtp && wait_ == ClientWait::ehlo && reply.code >= 400) {
        // RFC 2033 4.1: LMTP has no HELO to fall back to; the store is unusable for now.
        abort_connection(reply, true);
        return;
    }
    if (config_.lmtp && wait_ == ClientWait::data_end && message_sent_ && lmtp_reply_settles_one(reply))
        return;  // the last recipient's reply goes through the machine as SMTP's one reply does
    PeerReply e{std::move(reply), {}};
    if (wait_ == ClientWait::ehlo && e.reply.code < 300) e.extensions = parse_extensions(e.reply);
    fire(e);
    advance();
}

bool ClientBase::lmtp_reply_settles_one(const core::Reply& r) {
    // RFC 2033 4.2: after the final ".", one reply for each RCPT that got a 2xx, in order.
    std::size_t open = 0;
    std::size_t first = tx_results_.size();
    for (std::size_t i = 0; i < tx_results_.size(); ++i) {
        if (rcpt_state_[i] != RcptState::accepted) continue;
        if (open++ == 0) first = i;
    }
    if (open < 2) return false;
    settle_recipient(first, r, true, "end of data");
    return true;
}

void ClientBase::advance() {
    // Each NextMessage either takes the front of the queue or leaves Idle, and QuitNow
    // always leaves it, so this loop ends.
    while (wait_ == ClientWait::idle) {
        if (!queue_.empty()) {
            fire(NextMessage{});
            continue;
        }
        if (quit_requested_) {
            fire(QuitNow{});
            continue;
        }
        if (!idle_announced_) {
            idle_announced_ = true;
            emit(ClientIdle{});
        }
        break;
    }
}

// ---------------------------------------------------------------- guards

AfterHello ClientBase::after_hello(const PeerReply& e) const {
    const Extensions& ext = e.extensions;  // empty for HELO
    if (!tls_active_ && config_.tls != ClientTls::none) {
        if (ext.count("STARTTLS")) return AfterHello::starttls;  // RFC 3207 4
        if (config_.tls == ClientTls::required) return AfterHello::tls_missing;
    }
    if (config_.credentials) {
        // RFC 4954 4 and 14: credentials only inside TLS, whatever the policy.
        if (!tls_active_ || choose_mechanism(ext).empty()) return AfterHello::auth_missing;
        return AfterHello::auth;
    }
    return AfterHello::ready;
}

std::optional<core::Reply> ClientBase::local_refusal() const {
    if (queue_.empty()) return std::nullopt;
    const ClientMessage& m = queue_.front();
    if (m.recipients.empty()) return core::Reply(554, "5.5.1", "No recipients");
    if (auto limit = size_limit(extensions_); limit && wire_size(m) > *limit)
        return core::Reply(552, "5.3.4",
                           "Message size " + std::to_string(wire_size(m)) +
                               " exceeds the peer's limit of " + std::to_string(*limit));
    if (has_eight_bit(text_of(m)) && !extensions_.count("8BITMIME"))
        return core::Reply(554, "5.6.3",
                           "8-bit message, the peer does not offer 8BITMIME (not converted)");
    if (m.smtputf8 && !extensions_.count("SMTPUTF8"))
        return core::Reply(553, "5.6.7", "The message needs SMTPUTF8, the peer does not offer it");
    return std::nullopt;
}

bool ClientBase::accepted_with(const PeerReply& e) const {
    if (mail_refused_) return false;
    return accepted_ > 0 || e.reply.code < 400;
}

// ---------------------------------------------------------------- actions

void ClientBase::enter_state(const char* name, ClientWait wait) {
    if (std::string_view(name) != state_) trace("state: ", std::string(state_) + " -> " + name);
    state_ = name;
    wait_ = wait;
    idle_announced_ = false;
}

void ClientBase::send_ehlo() {
    esmtp_ = true;
    send_line((config_.lmtp ? "LHLO " : "EHLO ") + config_.hostname);  // RFC 2033 4.1
}

void ClientBase::send_helo() {
    // RFC 5321 3.2 and 4.1.4: a server that does not know EHLO answers 5xx; HELO then.
    esmtp_ = false;
    extensions_.clear();
    send_line("HELO " + config_.hostname);
}

void ClientBase::give_up(const PeerReply& e) {
    fail_connection(e.reply, true, Outcome::transient, false);
    send_quit();
}

// STARTTLS and AUTH: client_security.cpp.

void ClientBase::refuse_message() {
    // Refused before MAIL (RFC 1870 6, RFC 6152 3, RFC 6531 3.7.4): the peer could only say no.
    const core::Reply r = local_refusal().value_or(core::Reply(554, "5.5.1", "Not sent"));
    ClientMessage m = std::move(queue_.front());
    queue_.pop_front();
    TransactionResult result;
    for (const auto& rcpt : m.recipients)
        result.recipients.push_back({rcpt, Outcome::permanent, r, false, "MAIL"});
    trace("!: ", "not sent: " + std::to_string(r.code) + " " +
                     (r.lines.empty() ? std::string() : r.lines.front()));
    emit(ClientDone{std::move(result)});
    idle_announced_ = false;
}

void ClientBase::send_rset() { send_line("RSET"); }

void ClientBase::rset_done() { rset_needed_ = false; }

void ClientBase::send_mail() {
    tx_ = std::move(queue_.front());
    queue_.pop_front();
    const ClientMessage& m = *tx_;
    tx_results_.clear();
    rcpt_state_.assign(m.recipients.size(), RcptState::pending);
    for (const auto& rcpt : m.recipients)
        tx_results_.push_back({rcpt, Outcome::transient, core::Reply(451, "4.4.0", "Not decided"),
                               false, "MAIL"});
    pipelined_ = extensions_.count("PIPELINING") > 0;
    mail_refused_ = false;
    rcpt_sent_ = rcpt_replies_ = accepted_ = 0;
    message_sent_ = false;

    std::string line = "MAIL FROM:" + m.reverse_path.to_string();
    if (extensions_.count("SIZE")) line += " SIZE=" + std::to_string(wire_size(m));  // RFC 1870 3
    if (has_eight_bit(text_of(m))) line += " BODY=8BITMIME";                          // RFC 6152 2
    if (m.smtputf8) line += " SMTPUTF8";                                               // RFC 6531 3.4
    send_line(std::move(line));
    if (pipelined_) {
        // RFC 2920 3.1: MAIL, every RCPT and DATA in one group (DATA is its last command).
        for (const auto& rcpt : m.recipients) send_line("RCPT TO:" + rcpt.to_string());
        rcpt_sent_ = m.recipients.size();
        send_line("DATA");
    }
}

void ClientBase::send_quit() { send_line("QUIT"); }

void ClientBase::mail_accepted() {
    if (!pipelined_) {
        send_line("RCPT TO:" + tx_->recipients[0].to_string());
        rcpt_sent_ = 1;
    }
}

void ClientBase::record_mail_refusal(const PeerReply& e) {
    // RFC 5321 4.1.1.2: no transaction; every recipient shares MAIL's fate.
    mail_refused_ = true;
    for (std::size_t i = 0; i < tx_results_.size(); ++i)
        settle_recipient(i, e.reply, true, "MAIL");
}

void ClientBase::finish_mail_refused(const PeerReply& e) {
    record_mail_refusal(e);
    finish_transaction(true);
}

void ClientBase::record_rcpt(const PeerReply& e) {
    const std::size_t i = rcpt_replies_++;
    if (mail_refused_ || i >= tx_results_.size()) return;  // MAIL's reply decided already
    if (e.reply.code < 400) {
        rcpt_state_[i] = RcptState::accepted;
        ++accepted_;
        tx_results_[i].reply = e.reply;
        tx_results_[i].from_peer = true;
        tx_results_[i].stage = "RCPT";
    } else {
        settle_recipient(i, e.reply, true, "RCPT");
    }
}

void ClientBase::take_rcpt_reply(const PeerReply& e) {
    record_rcpt(e);
    if (!pipelined_) {
        send_line("RCPT TO:" + tx_->recipients[rcpt_sent_].to_string());
        ++rcpt_sent_;
    }
}

void ClientBase::take_last_rcpt_reply(const PeerReply& e) { record_rcpt(e); }

void ClientBase::send_data(const PeerReply& e) {
    record_rcpt(e);
    send_line("DATA");
}

void ClientBase::no_recipients(const PeerReply& e) {
    record_rcpt(e);
    finish_transaction(true);
}

void ClientBase::send_message() {
    // RFC 5321 4.5.2: a line that starts with "." gets one more; 4.1.1.4: the data ends with
    // CRLF "." CRLF, so a message without a final CRLF gets one.
    const std::string& text = text_of(*tx_);
    std::string wire;
    wire.reserve(text.size() + text.size() / 64 + 8);
    bool line_start = true;
    for (char c : text) {
        if (line_start && c == '.') wire += '.';
        wire += c;
        line_start = c == '\n';
    }
    if (!text.empty() && !ends_with_crlf(text)) wire += "\r\n";
    wire += ".\r\n";
    trace("C: ", "<message: " + std::to_string(text.size()) + " octets>");
    trace("C: ", ".");
    out_ += wire;
    message_sent_ = true;
}

void ClientBase::send_empty_message() {
    // RFC 2920 3.1: DATA went out in the group, no recipient was accepted and yet the peer
    // said 354: end the (empty) data at once; its reply decides nothing.
    send_line(".");
}

void ClientBase::data_refused(const PeerReply& e) {
    for (std::size_t i = 0; i < tx_results_.size(); ++i)
        if (rcpt_state_[i] == RcptState::accepted) settle_recipient(i, e.reply, true, "DATA");
    finish_transaction(true);
}

void ClientBase::message_accepted(const PeerReply& e) {
    if (message_sent_) {
        for (std::size_t i = 0; i < tx_results_.size(); ++i)
            if (rcpt_state_[i] == RcptState::accepted)
                settle_recipient(i, e.reply, true, "end of data");
    }
    finish_transaction(!message_sent_);
}

void ClientBase::message_refused(const PeerReply& e) {
    if (message_sent_) {
        for (std::size_t i = 0; i < tx_results_.size(); ++i)
            if (rcpt_state_[i] == RcptState::accepted)
                settle_recipient(i, e.reply, true, "end of data");
    }
    finish_transaction(true);
}

void ClientBase::close_connection() { emit(ClientClose{}); }

void ClientBase::machine_error(const char* what) {
    trace("!: ", std::string("machine: ") + what + " in " + state_);
    abort_connection(core::Reply(451, "4.5.0", "Protocol error: unexpected event"), false);
}

// ---------------------------------------------------------------- helpers

void ClientBase::settle_recipient(std::size_t i, const core::Reply& r, bool from_peer,
                                  const char* stage) {
    auto& result = tx_results_[i];
    result.outcome = outcome_of(r);
    result.reply = r;
    result.from_peer = from_peer;
    result.stage = stage;
    rcpt_state_[i] = RcptState::done;
}

void ClientBase::finish_transaction(bool rset_after) {
    for (std::size_t i = 0; i < tx_results_.size(); ++i) {
        if (rcpt_state_[i] != RcptState::done) {
            // Cannot happen with a consistent table; never report an undecided recipient.
            tx_results_[i].outcome = Outcome::transient;
            rcpt_state_[i] = RcptState::done;
        }
    }
    TransactionResult result;
    result.recipients = std::move(tx_results_);
    tx_results_.clear();
    tx_.reset();
    rset_needed_ = rset_after;
    emit(ClientDone{std::move(result)});
    idle_announced_ = false;
}

void ClientBase::fail_connection(const core::Reply& reply, bool from_peer, Outcome outcome,
                                 bool maybe_delivered) {
    // The handshake's stage is "TLS" (the engine falls back to plain text on "STARTTLS" and
    // "TLS" failures under the opportunistic policy, RFC 7435); waiting_for() names the wait.
    const std::string stage(wait_ == ClientWait::tls_handshake ? std::string_view("TLS")
                            : waiting_for().empty()            ? std::string_view("connect")
                                                               : waiting_for());
    if (tx_) {
        TransactionResult result;
        for (std::size_t i = 0; i < tx_results_.size(); ++i) {
            if (rcpt_state_[i] != RcptState::done) {
                tx_results_[i].outcome = outcome;
                tx_results_[i].reply = reply;
                tx_results_[i].from_peer = from_peer;
                tx_results_[i].stage = stage;
            }
        }
        result.recipients = std::move(tx_results_);
        result.connection_level = true;
        result.maybe_delivered = maybe_delivered && message_sent_;
        tx_results_.clear();
        tx_.reset();
        emit(ClientDone{std::move(result)});
    }
    while (!queue_.empty()) {
        TransactionResult result;
        result.connection_level = true;
        for (const auto& rcpt : queue_.front().recipients)
            result.recipients.push_back({rcpt, outcome, reply, from_peer, stage});
        queue_.pop_front();
        emit(ClientDone{std::move(result)});
    }
}

void ClientBase::abort_connection(const core::Reply& reply, bool from_peer) {
    // After the "." and before a well-formed reply to it, the peer may hold the message.
    const bool maybe = wait_ == ClientWait::data_end && !from_peer;
    fail_connection(reply, from_peer, Outcome::transient, maybe);
    emit(ClientClose{});
    enter_state("Closed", ClientWait::closed);
}

void ClientBase::send_line(std::string line, std::string_view shown) {
    trace("C: ", shown.empty() ? std::string_view(line) : shown);
    out_ += line;
    out_ += "\r\n";
}

void ClientBase::emit(ClientAction action) {
    // Bytes queued so far go out before anything else the driver must act on.
    if (!out_.empty()) actions_.push_back(ClientSend{std::exchange(out_, {})});
    actions_.push_back(std::move(action));
}

void ClientBase::trace(std::string_view prefix, std::string_view text) const {
    if (!config_.trace) return;
    std::string line(prefix);
    line += text;
    config_.trace(line);
}

std::vector<ClientAction> ClientBase::take_actions() {
    if (!out_.empty()) actions_.push_back(ClientSend{std::exchange(out_, {})});
    return std::exchange(actions_, {});
}

}  // namespace pigeon::smtp::detail
