// pigeon/smtp/server/session_base.hpp (internal): what both role machines share. SessionBase owns the
// input buffer, line framing, the DATA reader, the reply choke point and the transaction; the
// machines (inbound_machine.cpp, submission_machine.cpp) own only the order of things.
//
// Style: "check, then proceed" (OpenSMTPD). Guards are the const member functions below and
// never change anything; actions are the non-const ones and are the only code that mutates
// the session. Every reply goes through reply(); every state change through enter_state().
#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/envelope.hpp"
#include "core/reply.hpp"
#include "smtp/command.hpp"
#include "smtp/data_reader.hpp"
#include "smtp/machine_table.hpp"
#include "smtp/server/sasl.hpp"
#include "smtp/server/session.hpp"

namespace pigeon::smtp::detail {

// ---- events that exist only inside the machines ----
// AUTH, with the first SASL step already worked out (a pure function of the command), so the
// guards only read it.
struct AuthEvent : Auth {
    static constexpr const char* name = "AUTH";
    SaslStep step;
};
struct SaslResponse {
    static constexpr const char* name = "SaslResponse";
    SaslStep step;
};
struct DataComplete {
    static constexpr const char* name = "DataComplete";
};
struct DataRejected {
    static constexpr const char* name = "DataRejected";
    DataReader::Status status;
};

// Everything a machine's process_event() is ever called with.
using MachineEvent = std::variant<Helo, Ehlo, Mail, Rcpt, Data, Rset, StartTls, AuthEvent,
                                  SaslResponse, DataComplete, DataRejected, TlsReady, AuthResult,
                                  Verdict, Enqueued, EnqueueFailed>;

class SessionBase : public Session {
public:
    SessionBase(SessionConfig config, PeerInfo peer);
    ~SessionBase() override;

    std::vector<Action> start() final;
    std::vector<Action> put(std::string_view bytes) final;
    std::vector<Action> put_eof() final;
    std::vector<Action> on(const Event& event) final;
    bool closed() const final { return closed_; }
    std::string_view state() const final { return state_; }
    bool idle() const final;

    // ---- guards (pure) ----
    bool tls_offered() const;
    bool tls_not_offered() const { return !tls_offered(); }
    bool size_within_limit(const Mail& m) const;
    bool size_over_limit(const Mail& m) const { return !size_within_limit(m); }
    bool message_memory_available() const;  // ResourceGate::message_memory_fits(SIZE= or 1)
    bool message_memory_full() const { return !message_memory_available(); }
    bool below_recipient_limit() const;
    bool at_recipient_limit() const { return !below_recipient_limit(); }
    bool has_recipients() const { return !envelope_.recipients.empty(); }
    bool auth_allowed_here() const;  // TLS active, or auth_without_tls

    // ---- actions ----
    void enter_state(const char* name);
    void send_ehlo(const Ehlo& e);
    void send_helo(const Helo& e);
    void reply_ok();
    void reset_transaction();  // RSET in a transaction: reply 250 and forget it
    void start_tls();
    void refuse_tls();
    void tls_established();
    void auth_not_available();
    void require_tls();
    void reject_mechanism();
    void reject_sasl_syntax(const SaslStep& step);
    void send_challenge(const SaslStep& step);
    void cancel_auth();
    void verify_credentials(const SaslStep& step);
    void accept_auth(const AuthResult& r);
    void reject_auth(const AuthResult& r);
    void already_authenticated();
    void require_auth();
    void check_sender(const Mail& m);
    void accept_sender(const Verdict& v);
    void reject_sender(const Verdict& v);
    void reject_size();
    void check_recipient(const Rcpt& r);
    void accept_recipient(const Verdict& v);
    void reject_recipient(const Verdict& v);
    void too_many_recipients();
    void no_valid_recipients();
    void start_data();
    void refuse_data_memory();  // 452 4.3.1: the server's message memory is used up
    void reject_data(const DataRejected& e);
    void check_message();
    void enqueue(const Verdict& v);
    void reject_message(const Verdict& v);
    void reply_queued(const Enqueued& e);
    void reply_enqueue_failed(const EnqueueFailed& e);
    void bad_sequence();  // no_transition

protected:
    // Implemented by each machine's translation unit: run the event through the MSM.
    virtual void fire(const MachineEvent& event) = 0;

private:
    enum class Input { commands, sasl, data, waiting, tls_handshake, closed };
    enum class Awaiting { nothing, tls, auth, sender, recipient, message, enqueue };

    void pump();
    void handle_line(std::string_view line);
    void handle_command(Command&& command);
    void reply(const core::Reply& r);  // THE reply choke point (counts errors, see max_errors)
    void reply_text(const core::Reply& r);  // formats, traces and queues one reply
    void emit(Action action);          // before BeginTls and Close, flushes pending replies
    void flush();
    void await(Awaiting what);
    void close_session();
    void charge_message_memory();   // reserve what the DATA reader holds now, or refuse it
    void spill_message();           // past the threshold: move what the reader holds to the spill
    bool finish_spill();            // end of an ok message: the spill's octets become message_
    std::size_t memory_octets_for(std::size_t octets) const;  // of a message this size, with a spill
    void release_message_memory();  // give back everything reserved
    std::size_t declared_message_octets() const;  // SIZE= of this transaction, 0 if none
    void trace(std::string_view prefix, std::string_view text) const;
    std::string help_text() const;
    std::string received_header() const;
    std::vector<Action> take_actions();

    SessionConfig config_;
    PeerInfo peer_;
    const char* state_ = "Connected";

    Input input_ = Input::commands;
    Awaiting awaiting_ = Awaiting::nothing;
    bool closed_ = false;
    bool eof_ = false;             // put_eof() seen: close once the buffered input is used up
    std::size_t errors_ = 0;       // error replies so far, for max_errors
    std::string in_;            // received, not yet processed
    std::size_t in_pos_ = 0;    // processed prefix of in_
    bool discarding_line_ = false;  // an over-long line is being skipped to its CRLF
    bool discarding_auth_ = false;  // ... and it was an AUTH command (500 5.5.6, RFC 4954 4)

    std::string out_;           // replies not yet handed out as a Send
    std::vector<Action> actions_;

    bool tls_active_ = false;
    bool esmtp_ = false;
    std::string helo_;
    std::string auth_identity_;
    SaslState sasl_;
    core::Envelope envelope_;
    std::optional<DataReader> data_;
    core::MessageRef message_;          // as received, from end of DATA until queued or refused
    std::unique_ptr<MessageSpill::File> spill_file_;  // the message being received, past the threshold
    std::size_t memory_reserved_ = 0;  // message octets taken from config_.resources
    core::Path pending_recipient_;
};

// Each machine's translation unit provides these two.
std::unique_ptr<Session> make_inbound_session(SessionConfig config, PeerInfo peer);
std::unique_ptr<Session> make_submission_session(SessionConfig config, PeerInfo peer);
std::vector<TransitionRow> inbound_rows();
std::vector<TransitionRow> submission_rows();

}  // namespace pigeon::smtp::detail
