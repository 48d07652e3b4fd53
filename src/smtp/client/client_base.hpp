// pigeon/smtp/client/client_base.hpp (internal): ClientBase, what the outbound machine
// (outbound_machine.cpp) runs on: reply framing, the transaction and its results, the queue
// of Delivers, and the one place every command is sent from.
//
// Contract: as for SessionBase, "check, then proceed". Guards are the const members below and
// read only the session and the event; actions are the non-const members and are the only code
// that changes the session. What means the same in every state is handled here rather than in
// the table: end of input and ClientTimeout (fail what is unfinished, close), 421 (RFC 5321
// 3.8: the peer is closing), a malformed reply, a reply code that RFC 5321 4.3.2 does not
// allow at this step, and bytes nobody asked for (connection-level failure, close).
// Every command goes through send_line(), every state change through enter_state().
#pragma once
#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/reply.hpp"
#include "smtp/client/session.hpp"
#include "smtp/machine_table.hpp"

namespace pigeon::smtp::detail {

// What the peer waits on us for / we wait on the peer for, one per machine state.
enum class ClientWait {
    greeting, ehlo, helo, starttls, tls_handshake, auth, idle, rset, mail, rcpt, data,
    data_end, quit, closed
};

// The keywords of an EHLO reply (RFC 5321 4.1.1.1): upper-cased keyword -> its parameters.
using Extensions = std::map<std::string, std::string>;
Extensions parse_extensions(const core::Reply& ehlo_reply);
// The AUTH mechanism to use with a server that offers `ext`, best first: "PLAIN" (one round
// trip with the initial response), then "LOGIN" (RFC 4954 4; LOGIN is
// draft-murchison-sasl-login); empty when it offers neither (client_security.cpp).
std::string choose_mechanism(const Extensions& ext);

// ---- events inside the machine ----
struct PeerReply {
    static constexpr const char* name = "Reply";
    core::Reply reply;
    Extensions extensions;  // when answering EHLO: what it advertises (parsed before the machine)
};
struct NextMessage {  // a Deliver is at the front of the queue and the session is Idle
    static constexpr const char* name = "Deliver";
};
struct QuitNow {  // Quit was asked for and nothing is left to deliver
    static constexpr const char* name = "Quit";
};
struct TlsUp {
    static constexpr const char* name = "TlsReady";
};
struct TlsDown {
    static constexpr const char* name = "TlsFailed";
    std::string reason;
};
using ClientMachineEvent = std::variant<PeerReply, NextMessage, QuitNow, TlsUp, TlsDown>;

// After a positive EHLO/HELO: what comes next (RFC 3207 4, RFC 4954 4).
enum class AfterHello { starttls, tls_missing, auth, auth_missing, ready };

class ClientBase : public ClientSession {
public:
    explicit ClientBase(ClientConfig config);

    std::vector<ClientAction> start() final;
    std::vector<ClientAction> put(std::string_view bytes) final;
    std::vector<ClientAction> put_eof() final;
    std::vector<ClientAction> on(const ClientEvent& event) final;
    bool closed() const final { return wait_ == ClientWait::closed; }
    std::string_view state() const final { return state_; }
    bool peer_offers(std::string_view keyword) const final;
    std::string_view waiting_for() const final;
    std::uint64_t replies_received() const final { return replies_received_; }

    // ---- guards (pure) ----
    AfterHello after_hello(const PeerReply& e) const;
    std::optional<core::Reply> local_refusal() const;  // of the message at the queue's front
    bool tls_required_in_clear() const {
        return config_.tls == ClientTls::required && !tls_active_;
    }
    bool rset_needed() const { return rset_needed_; }
    bool pipelined() const { return pipelined_; }
    bool more_rcpt_replies() const { return rcpt_replies_ + 1 < tx_results_.size(); }
    bool accepted_with(const PeerReply& e) const;  // some RCPT accepted, counting this reply
    bool any_accepted() const { return accepted_ > 0; }

    // ---- actions ----
    void enter_state(const char* name, ClientWait wait);
    void send_ehlo();
    void send_helo();
    void give_up(const PeerReply& e);  // transient, connection-level; QUIT
    void tls_unavailable(const PeerReply& e);
    void auth_unavailable(const PeerReply& e);
    void auth_rejected(const PeerReply& e);  // 5xx to AUTH: permanent, connection-level; QUIT
    void send_starttls(const PeerReply& e);
    void start_tls();
    void tls_established();
    void tls_failed(const TlsDown& e);
    void send_auth(const PeerReply& e);
    void answer_challenge();
    void greeted(const PeerReply& e);
    void authenticated();
    void refuse_message();
    void send_rset();
    void rset_done();
    void send_mail();
    void send_quit();
    void mail_accepted();
    void record_mail_refusal(const PeerReply& e);
    void finish_mail_refused(const PeerReply& e);
    void take_rcpt_reply(const PeerReply& e);
    void take_last_rcpt_reply(const PeerReply& e);
    void send_data(const PeerReply& e);
    void no_recipients(const PeerReply& e);
    void send_message();
    void send_empty_message();
    void data_refused(const PeerReply& e);
    void message_accepted(const PeerReply& e);
    void message_refused(const PeerReply& e);
    void close_connection();
    void machine_error(const char* what);  // no row, or no guard held: a bug, fail safe

protected:
    virtual void fire(const ClientMachineEvent& event) = 0;

private:
    enum class RcptState { pending, accepted, done };

    void handle_reply(core::Reply reply);
    // LMTP after the final ".": settles the first accepted recipient still open with `r`
    // and says true while more accepted recipients wait for their replies.
    bool lmtp_reply_settles_one(const core::Reply& r);
    void advance();  // Idle with work queued: start it; else announce ClientIdle
    bool reply_allowed(const core::Reply& r) const;  // RFC 5321 4.3.2
    void fail_connection(const core::Reply& reply, bool from_peer, Outcome outcome,
                         bool maybe_delivered);
    void abort_connection(const core::Reply& reply, bool from_peer);  // fail + ClientClose
    void finish_transaction(bool rset_after);
    void settle_recipient(std::size_t i, const core::Reply& r, bool from_peer, const char* stage);
    void send_line(std::string line, std::string_view shown = {});  // shown: what the trace gets
    void emit(ClientAction action);
    void trace(std::string_view prefix, std::string_view text) const;
    void record_rcpt(const PeerReply& e);
    std::vector<ClientAction> take_actions();

    ClientConfig config_;
    const char* state_ = "AwaitGreeting";
    ClientWait wait_ = ClientWait::greeting;

    core::ReplyParser parser_;
    std::uint64_t replies_received_ = 0;
    bool tls_active_ = false;
    bool esmtp_ = true;           // the last greeting command was EHLO
    Extensions extensions_;       // from the last EHLO (empty after HELO or STARTTLS)
    bool tls_to_start_ = false;   // STARTTLS accepted: ClientStartTls once this input is used
    int auth_login_step_ = -1;    // AUTH LOGIN: 0 user name next, 1 password next, -1 none

    std::deque<ClientMessage> queue_;  // Delivers not yet started (front is next)
    bool quit_requested_ = false;
    bool idle_announced_ = false;
    bool rset_needed_ = false;

    // The transaction in progress (tx_ set while one is).
    std::optional<ClientMessage> tx_;
    std::vector<RecipientResult> tx_results_;
    std::vector<RcptState> rcpt_state_;
    bool pipelined_ = false;
    bool mail_refused_ = false;
    std::size_t rcpt_sent_ = 0;      // RCPT commands sent
    std::size_t rcpt_replies_ = 0;   // RCPT replies received
    std::size_t accepted_ = 0;       // RCPTs accepted
    bool message_sent_ = false;      // a non-empty message and its "." went out

    std::vector<ClientAction> actions_;
    std::string out_;  // commands not yet handed out as one ClientSend
};

std::unique_ptr<ClientSession> make_outbound_session(ClientConfig config);
std::vector<TransitionRow> outbound_rows();

}  // namespace pigeon::smtp::detail
