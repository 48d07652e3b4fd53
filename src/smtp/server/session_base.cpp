#include "smtp/server/session_base.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "core/assert.hpp"
#include "core/limits.hpp"
#include "core/overloaded.hpp"
#include "smtp/server/replies.hpp"

namespace pigeon::smtp::detail {
namespace {

// More unprocessed input than this, in whatever state the session is left after using what it
// can (in practice: waiting on the driver for a check or the spool), is not pipelining but
// abuse: RFC 2920 groups are a few commands. A line the session is still reading never counts
// (an over-long one is skipped as it arrives), DATA is consumed as it arrives, and bytes sent
// during a TLS handshake are discarded, so this bounds the session's input buffer everywhere.
constexpr std::size_t max_pending_input_octets = 1024 * 1024;
// Processed input is dropped from the buffer's front once it is this large (or all used).
constexpr std::size_t compact_threshold_octets = 64 * 1024;

bool starts_with_auth(std::string_view line) {
    if (line.size() < 5) return false;
    std::string verb(line.substr(0, 5));
    for (auto& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return verb == "AUTH ";
}

// "AUTH PLAIN <base64>" carries the password: logs get the verb and mechanism only.
std::string redact_credentials(std::string_view line) {
    if (!starts_with_auth(line)) return std::string(line);
    auto mechanism_end = line.find(' ', 5);
    if (mechanism_end == std::string_view::npos) return std::string(line);
    return std::string(line.substr(0, mechanism_end)) + " <initial response hidden>";
}

using core::overloaded;

// A policy's verdict may bring its own reply; one of the wrong class is a driver bug, and the
// client must still get a reply that matches what the session does.
core::Reply verdict_reply(const Verdict& v, core::Reply fallback) {
    if (!v.reply) return fallback;
    if (v.accept != v.reply->positive()) return fallback;
    return *v.reply;
}

}  // namespace

SessionBase::SessionBase(SessionConfig config, PeerInfo peer)
    : config_(std::move(config)), peer_(std::move(peer)) {
    if (config_.clock == nullptr) throw std::invalid_argument("SessionConfig.clock is required");
    if (config_.max_recipients == 0) throw std::invalid_argument("max_recipients must be >= 1");
    tls_active_ = config_.tls_active;
}

SessionBase::~SessionBase() { release_message_memory(); }

// ---------------------------------------------------------------- driver interface

std::vector<Action> SessionBase::start() {
    reply(replies::greeting.reply({config_.hostname}));
    flush();
    return take_actions();
}

std::vector<Action> SessionBase::put(std::string_view bytes) {
    if (closed_ || eof_) return {};
    if (input_ == Input::tls_handshake) {
        // Bytes the driver hands over before TlsReady were sent in clear after our 220 to
        // STARTTLS: never act on them (CVE-2011-0411).
        trace("C: ", "<" + std::to_string(bytes.size()) + " octets discarded during TLS handshake>");
        return {};
    }
    in_.append(bytes);
    pump();
    // Checked after pump(), in every state: one put() may carry a command that makes the
    // session wait together with megabytes of what follows it.
    if (!closed_ && in_.size() - in_pos_ > max_pending_input_octets) {
        reply(replies::too_much_input.reply({config_.hostname}));
        close_session();
    }
    flush();
    return take_actions();
}

std::vector<Action> SessionBase::put_eof() {
    if (closed_) return {};
    trace("C: ", "<end of input>");
    // The client sent all it will send (it may have half-closed right after a pipeline):
    // what is buffered is still answered, and the session closes once it runs dry.
    eof_ = true;
    pump();
    flush();
    return take_actions();
}

std::vector<Action> SessionBase::on(const Event& event) {
    if (closed_) return {};
    if (std::holds_alternative<Timeout>(event)) {
        // RFC 5321 4.5.3.2: the server may close after its timeout, with 421 (4.2.2).
        reply(replies::timeout.reply({config_.hostname}));
        close_session();
        return take_actions();
    }
    if (std::holds_alternative<Shutdown>(event)) {
        // RFC 5321 3.8: a server that must shut down answers 421 and closes.
        reply(replies::shutting_down.reply({config_.hostname}));
        close_session();
        return take_actions();
    }
    const Awaiting expected = std::visit(
        overloaded{
            [](const TlsReady&) { return Awaiting::tls; },
            [](const AuthResult&) { return Awaiting::auth; },
            [this](const Verdict&) {
                return awaiting_ == Awaiting::sender || awaiting_ == Awaiting::recipient ||
                               awaiting_ == Awaiting::message
                           ? awaiting_
                           : Awaiting::sender;
            },
            [](const Enqueued&) { return Awaiting::enqueue; },
            [](const EnqueueFailed&) { return Awaiting::enqueue; },
            [](const Timeout&) { return Awaiting::nothing; },
            [](const Shutdown&) { return Awaiting::nothing; },
        },
        event);
    if (expected != awaiting_) {
        // An answer to a question the session did not ask: a driver bug, never the client's.
        // Release builds survive it by ignoring the event.
        PIGEON_ASSERT(expected == awaiting_, "an event answers the question the session awaits");
        trace("!: ", "ignored an event the session was not waiting for");
        return {};
    }
    awaiting_ = Awaiting::nothing;
    input_ = Input::commands;
    std::visit(
        overloaded{
            [](const Timeout&) {},
            [](const Shutdown&) {},
            [this](const auto& e) { fire(MachineEvent{e}); },
        },
        event);
    pump();
    flush();
    return take_actions();
}

// ---------------------------------------------------------------- input

void SessionBase::pump() {
    while (true) {
        const std::string_view avail(in_.data() + in_pos_, in_.size() - in_pos_);
        if (input_ == Input::waiting || input_ == Input::tls_handshake || input_ == Input::closed ||
            avail.empty())
            break;

        if (input_ == Input::data) {
            in_pos_ += data_->put(avail);
            spill_message();
            charge_message_memory();
            if (!data_->done()) continue;  // consumed everything; loop ends on empty input
            trace("C: ", "<message: " + std::to_string(data_->message_octets()) +
                             " octets, end of data>");
            input_ = Input::commands;
            if (data_->status() == DataReader::Status::ok && !finish_spill())
                data_->refuse_storage();
            const auto status = data_->status();
            if (status == DataReader::Status::ok)
                fire(DataComplete{});
            else
                fire(DataRejected{status});
            continue;
        }

        // Command and SASL lines end only at CRLF; a bare CR or LF is part of the line and
        // the parser rejects it (RFC 5321 2.3.8).
        const auto crlf = avail.find("\r\n");
        if (crlf == std::string_view::npos) {
            if (avail.size() > core::auth_line_max_octets) {
                // Longer than any legal line: drop it, keep a trailing CR (it may start the
                // CRLF), and answer once its end arrives so replies stay in order. Whether it
                // was an AUTH line decides the reply, as it does for a line that arrives whole.
                if (!discarding_line_) discarding_auth_ = starts_with_auth(avail);
                discarding_line_ = true;
                const bool keep_cr = avail.back() == '\r';
                in_.clear();
                in_pos_ = 0;
                if (keep_cr) in_.push_back('\r');
            }
            break;
        }
        const std::string line(avail.substr(0, crlf));
        in_pos_ += crlf + 2;
        if (discarding_line_) {
            discarding_line_ = false;
            trace("C: ", "<over-long line discarded>");
            if (input_ == Input::sasl) {
                input_ = Input::commands;
                SaslStep step;
                step.outcome = SaslStep::Outcome::too_long;
                fire(SaslResponse{step});
            } else if (discarding_auth_) {
                reply(replies::auth_line_too_long.reply());
            } else {
                reply(replies::line_too_long.reply());
            }
            continue;
        }
        handle_line(line);
    }
    if (in_pos_ == in_.size() || in_pos_ > compact_threshold_octets) {
        in_.erase(0, in_pos_);
        in_pos_ = 0;
    }
    // Input has ended and nothing more can come of it (a partial line, an unfinished DATA or
    // a TLS handshake never completes): close, unless the driver still owes an answer.
    if (eof_ && !closed_ && input_ != Input::waiting) close_session();
}

void SessionBase::handle_line(std::string_view line) {
    if (input_ == Input::sasl) {
        trace("C: ", "<SASL response>");  // credentials never reach a log
        input_ = Input::commands;
        fire(SaslResponse{sasl_continue(sasl_, line)});
        return;
    }
    CommandSyntax syntax;
    syntax.utf8_recipients = envelope_.smtputf8;
    auto parsed = parse_command(line, syntax);
    if (auto* error = std::get_if<core::Reply>(&parsed)) {
        // A line that is no command at all may be a SASL response the client sent after its
        // AUTH was refused (base64 credentials): its length is all the trace gets.
        if (error->code == 500)
            trace("C: ", "<not a command: " + std::to_string(line.size()) + " octets>");
        else
            trace("C: ", redact_credentials(line));
        reply(*error);
        return;
    }
    trace("C: ", redact_credentials(line));
    handle_command(std::get<Command>(std::move(parsed)));
}

void SessionBase::handle_command(Command&& command) {
    // NOOP, HELP, VRFY, EXPN and QUIT mean the same in every state (RFC 5321 4.1.4), so they
    // are answered here rather than repeated in every row of every table.
    std::visit(
        overloaded{
            [this](const Noop&) { reply(replies::ok.reply()); },
            [this](const Help&) { reply(replies::help.reply({help_text()})); },
            [this](const Vrfy&) {
                // RFC 5321 3.5.3: 252 when the server will not verify but will accept.
                reply(replies::vrfy.reply());
            },
            [this](const Expn&) { reply(replies::expn.reply()); },
            [this](const Quit&) {
                reply(replies::quit.reply({config_.hostname}));
                close_session();
            },
            [this](const Auth& a) {
                AuthEvent e;
                static_cast<Auth&>(e) = a;
                e.step = sasl_begin(a);
                fire(e);
            },
            [this](const auto& c) { fire(MachineEvent{c}); },
        },
        command);
}

// ---------------------------------------------------------------- output

void SessionBase::reply(const core::Reply& r) {
    if (r.code >= 400 && r.code != 421 && config_.max_errors > 0 &&
        ++errors_ >= config_.max_errors && !closed_) {
        // This reply is the last straw: send it, then 421 and close (like Postfix's
        // smtpd_hard_error_limit). Input still buffered is never looked at.
        reply_text(r);
        reply_text(replies::too_many_errors.reply({config_.hostname}));
        close_session();
        return;
    }
    reply_text(r);
}

void SessionBase::reply_text(const core::Reply& r) {
    std::string text = core::format_reply(r);
    if (config_.trace) {
        std::size_t start = 0;
        while (start < text.size()) {
            auto end = text.find("\r\n", start);
            trace("S: ", std::string_view(text).substr(start, end - start));
            start = end + 2;
        }
    }
    out_ += text;
}

void SessionBase::emit(Action action) {
    // Replies already queued must reach the client before TLS starts or the connection
    // closes; any other action may overtake them (the driver answers it later anyway), so
    // they stay buffered and go out together with what follows (RFC 2920 3.2).
    if (std::holds_alternative<BeginTls>(action) || std::holds_alternative<Close>(action)) flush();
    actions_.push_back(std::move(action));
}

void SessionBase::flush() {
    if (out_.empty()) return;
    actions_.push_back(Send{std::move(out_)});
    out_.clear();
}

std::vector<Action> SessionBase::take_actions() { return std::exchange(actions_, {}); }

void SessionBase::await(Awaiting what) {
    awaiting_ = what;
    input_ = what == Awaiting::tls ? Input::tls_handshake : Input::waiting;
}

void SessionBase::close_session() {
    release_message_memory();  // the buffers go with the session; no more is taken
    emit(Close{});
    closed_ = true;
    input_ = Input::closed;
    in_.clear();
    in_pos_ = 0;
}

void SessionBase::trace(std::string_view prefix, std::string_view text) const {
    if (!config_.trace) return;
    std::string line;
    line.reserve(prefix.size() + text.size());
    line.append(prefix).append(text);
    config_.trace(line);
}

std::string SessionBase::help_text() const {
    std::string text = "Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP";
    if (tls_offered()) text += " STARTTLS";
    if (config_.role == Role::submission) text += " AUTH";
    return text;
}

// RFC 5321 4.4 Time-stamp-line, with the RFC 3848 / RFC 6531 protocol names.
std::string SessionBase::received_header() const {
    std::string protocol = envelope_.smtputf8 ? "UTF8SMTP" : esmtp_ ? "ESMTP" : "SMTP";
    if (esmtp_ || envelope_.smtputf8) {
        if (tls_active_) protocol += "S";
        if (!auth_identity_.empty()) protocol += "A";
    }
    const std::string& addr = peer_.address;
    const std::string literal =
        addr.find(':') != std::string::npos ? "[IPv6:" + addr + "]" : "[" + addr + "]";
    std::string h = "Received: from " + helo_ + " (" + literal + ")\r\n\tby " + config_.hostname +
                    " (Pigeon) with " + protocol;
    if (envelope_.recipients.size() == 1 &&
        envelope_.recipients.front().kind == core::Path::Kind::mailbox)
        h += "\r\n\tfor " + envelope_.recipients.front().to_string();
    h += "; " + core::format_rfc5322_date(config_.clock->now_unix_seconds()) + "\r\n";
    return h;
}

// ---------------------------------------------------------------- guards

bool SessionBase::idle() const {
    return !closed_ && awaiting_ == Awaiting::nothing && input_ == Input::commands &&
           (state_ == std::string_view("Connected") || state_ == std::string_view("Greeted") ||
            state_ == std::string_view("Authenticated"));
}

bool SessionBase::tls_offered() const { return config_.tls_available && !tls_active_; }

bool SessionBase::size_within_limit(const Mail& m) const {
    return !m.params.size || *m.params.size <= config_.max_message_octets;
}

std::size_t SessionBase::declared_message_octets() const {
    // What the client declared (RFC 1870), already checked against max_message_octets at MAIL.
    return static_cast<std::size_t>(envelope_.declared_size.value_or(0));
}

std::size_t SessionBase::memory_octets_for(std::size_t octets) const {
    // With a spill a message holds at most the threshold, one spill chunk and one input slice
    // in memory; a spill_chunk_octets margin covers the last two.
    if (config_.spill == nullptr) return octets;
    return static_cast<std::size_t>(std::min<std::uint64_t>(
        octets, config_.spill_threshold_octets + spill_chunk_octets));
}

bool SessionBase::message_memory_available() const {
    return config_.resources == nullptr ||
           config_.resources->message_memory_fits(
               std::max<std::size_t>(memory_octets_for(declared_message_octets()), 1));
}

bool SessionBase::below_recipient_limit() const {
    return envelope_.recipients.size() < config_.max_recipients;
}

bool SessionBase::auth_allowed_here() const { return tls_active_ || config_.auth_without_tls; }

// ---------------------------------------------------------------- actions

void SessionBase::enter_state(const char* name) {
    if (std::string_view(state_) != name) trace("state: ", std::string(state_) + " -> " + name);
    state_ = name;
}

void SessionBase::send_ehlo(const Ehlo& e) {
    envelope_ = {};  // EHLO in a transaction resets it (RFC 5321 4.1.4)
    esmtp_ = true;
    helo_ = e.domain.text();
    std::vector<std::string> lines{replies::ehlo.text_with({config_.hostname, helo_}), "PIPELINING",
                                   "SIZE " + std::to_string(config_.max_message_octets),
                                   "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"};
    if (tls_offered()) lines.push_back("STARTTLS");
    if (config_.role == Role::submission && auth_identity_.empty() && auth_allowed_here())
        lines.push_back("AUTH PLAIN LOGIN");
    reply(core::Reply(250, std::nullopt, std::move(lines)));  // RFC 2034: no enhanced code on EHLO
}

void SessionBase::send_helo(const Helo& e) {
    envelope_ = {};
    esmtp_ = false;
    helo_ = e.domain.text();
    reply(replies::helo.reply({config_.hostname}));
}

void SessionBase::reply_ok() { reply(replies::ok.reply()); }

void SessionBase::reset_transaction() {
    envelope_ = {};
    reply(replies::ok.reply());
}

// STARTTLS and AUTH: session_security.cpp.

void SessionBase::check_sender(const Mail& m) {
    envelope_ = {};
    envelope_.reverse_path = m.reverse_path;
    envelope_.body = m.params.body;
    envelope_.smtputf8 = m.params.smtputf8;
    envelope_.declared_size = m.params.size;
    envelope_.helo = helo_;
    envelope_.esmtp = esmtp_;
    envelope_.client_address = peer_.address;
    envelope_.auth_identity = auth_identity_;
    envelope_.tls = tls_active_;
    emit(CheckSender{envelope_});
    await(Awaiting::sender);
}

void SessionBase::accept_sender(const Verdict& v) {
    envelope_.trace_fields += v.prepend;  // e.g. Received-SPF:, kept for the stored message
    if (v.sender_facts.has_value()) envelope_.sender_facts = v.sender_facts;
    reply(verdict_reply(v, replies::sender_ok.reply()));
}

void SessionBase::reject_sender(const Verdict& v) {
    envelope_ = {};
    reply(verdict_reply(v, replies::rejected_sender.reply()));
}

void SessionBase::reject_size() {
    reply(replies::size_over_limit.reply());
}

void SessionBase::check_recipient(const Rcpt& r) {
    pending_recipient_ = r.forward_path;
    emit(CheckRecipient{envelope_, r.forward_path});
    await(Awaiting::recipient);
}

void SessionBase::accept_recipient(const Verdict& v) {
    envelope_.recipients.push_back(std::move(pending_recipient_));
    reply(verdict_reply(v, replies::recipient_ok.reply()));
}

void SessionBase::reject_recipient(const Verdict& v) {
    reply(verdict_reply(v, replies::rejected_recipient.reply()));
}

void SessionBase::too_many_recipients() {
    reply(replies::too_many_recipients.reply());
}

void SessionBase::no_valid_recipients() {
    reply(replies::no_valid_recipients.reply());
}

void SessionBase::start_data() {
    reply(replies::start_data.reply());
    data_.emplace(config_.max_message_octets);
    input_ = Input::data;
    // Reserve the declared size now (first come, first served); growth past it is charged as
    // it arrives. Another session may have taken the room since the guard: then nothing is
    // reserved here and the growth is charged (or refused) as for an undeclared size.
    const std::size_t declared = memory_octets_for(declared_message_octets());
    if (config_.resources != nullptr && declared > 0 &&
        config_.resources->reserve_message_memory(declared))
        memory_reserved_ = declared;
}

void SessionBase::refuse_data_memory() {
    // The transaction stays: the client may try DATA again, or RSET (RFC 5321 4.2.5).
    reply(replies::no_memory_for_message.reply());
}

void SessionBase::charge_message_memory() {
    if (config_.resources == nullptr || !data_) return;
    const std::size_t held = data_->stored_octets();
    if (held <= memory_reserved_) return;
    if (config_.resources->reserve_message_memory(held - memory_reserved_)) {
        memory_reserved_ = held;
        return;
    }
    trace("!: ", "message memory budget reached: the rest of this message is discarded");
    data_->refuse_storage();
    release_message_memory();
}

void SessionBase::spill_message() {
    if (config_.spill == nullptr || !data_) return;
    if (data_->status() != DataReader::Status::ok) {
        spill_file_.reset();  // the message is refused: what was written goes with it
        return;
    }
    const std::size_t held = data_->stored_octets();
    if (!spill_file_) {
        if (held < config_.spill_threshold_octets) return;
        spill_file_ = config_.spill->open();
        if (!spill_file_) {
            trace("!: ", "no spill file for a large message: the rest of it is discarded");
            data_->refuse_storage();
            release_message_memory();
            return;
        }
    } else if (held < spill_chunk_octets) {
        return;
    }
    if (!spill_file_->write(data_->take_stored())) {
        trace("!: ", "the spill file could not be written: the rest of this message is discarded");
        spill_file_.reset();
        data_->refuse_storage();
        release_message_memory();
    }
}

bool SessionBase::finish_spill() {
    if (!spill_file_) return true;  // all of it is in memory
    auto file = std::move(spill_file_);
    if (!file->write(data_->take_stored())) return false;
    message_ = file->finish();
    if (!message_) return false;
    release_message_memory();  // the octets are in the file now, not in memory
    return true;
}

void SessionBase::release_message_memory() {
    if (config_.resources != nullptr && memory_reserved_ > 0)
        config_.resources->release_message_memory(memory_reserved_);
    memory_reserved_ = 0;
}

void SessionBase::reject_data(const DataRejected& e) {
    envelope_ = {};
    data_.reset();
    spill_file_.reset();
    message_ = {};
    release_message_memory();
    reply(DataReader::reply_for(e.status));
}

void SessionBase::check_message() {
    if (!message_) message_ = core::MessageRef(data_->take_message());  // else finish_spill() set it
    data_.reset();
    emit(CheckMessage{envelope_, message_});
    await(Awaiting::message);
}

void SessionBase::enqueue(const Verdict& v) {
    // Our trace field goes on top (RFC 5321 4.4); the verdict's fields (Date:, Message-ID:,
    // later Authentication-Results:) right below it; then the message, never copied.
    std::string prefix = received_header();
    prefix.append(envelope_.trace_fields).append(v.prepend);
    core::MessageRef stored = v.replacement
                                  ? message_.with_prefix(prefix.append(*v.replacement), v.replaced_octets)
                                  : message_.with_prefix(std::move(prefix));
    message_ = {};
    emit(Enqueue{envelope_, std::move(stored), v.folder});
    await(Awaiting::enqueue);
}

void SessionBase::reject_message(const Verdict& v) {
    envelope_ = {};
    message_ = {};
    release_message_memory();
    reply(verdict_reply(v, replies::rejected_message.reply()));
}

void SessionBase::reply_queued(const Enqueued& e) {
    envelope_ = {};
    release_message_memory();  // the spool has it now
    reply(replies::queued.reply({e.queue_id}));
}

void SessionBase::reply_enqueue_failed(const EnqueueFailed& e) {
    envelope_ = {};
    release_message_memory();
    trace("!: ", "enqueue failed: " + e.reason);
    reply(replies::spool_failed.reply());
}

void SessionBase::bad_sequence() { reply(replies::bad_sequence.reply()); }

}  // namespace pigeon::smtp::detail
