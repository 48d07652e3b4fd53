// pigeon/smtp/server/submission_machine.cpp: the submission (MSA) role as an explicit Boost.MSM state machine.
// AUTH (PLAIN, LOGIN) is required before MAIL, and TLS before AUTH unless
// auth_without_tls; the sender policy (CheckSender) decides who may send as whom.
// The table below is spec/machines/submission.tsv, row for row; tests/smtp/machine_table_test.cpp
// keeps the two equal. It lives in its own translation unit to keep MSM's compile cost here.
#include "smtp/server/machine_vocabulary.hpp"

namespace pigeon::smtp {
namespace machine {
namespace {

struct SubmissionDef : MachineDef<SubmissionDef> {
    using initial_state = Connected;

    // clang-format off
    using transition_table = boost::mpl::vector<
    //    source                event           target                action                  guard                  
    Row < Connected,            EHLO,           Greeted,              send_ehlo,              none                    >,  // RFC 5321 4.1.1.1
    Row < Connected,            HELO,           Greeted,              send_helo,              none                    >,  // RFC 5321 4.1.1.1
    Row < Connected,            RSET,           none,                 reply_ok,               none                    >,  // RFC 5321 4.1.1.5
    Row < Greeted,              EHLO,           Greeted,              send_ehlo,              none                    >,  // RFC 5321 4.1.4
    Row < Greeted,              HELO,           Greeted,              send_helo,              none                    >,  // RFC 5321 4.1.4
    Row < Greeted,              RSET,           none,                 reply_ok,               none                    >,  // RFC 5321 4.1.1.5
    Row < Greeted,              STARTTLS,       TlsHandshake,         start_tls,              tls_offered             >,  // RFC 3207 4
    Row < Greeted,              STARTTLS,       none,                 refuse_tls,             tls_not_offered         >,  // RFC 3207 4
    Row < Greeted,              AUTH,           none,                 require_tls,            auth_needs_tls          >,  // RFC 3207 4, 4954 4
    Row < Greeted,              AUTH,           none,                 reject_mechanism,       auth_unknown_mechanism  >,  // RFC 4954 4
    Row < Greeted,              AUTH,           none,                 reject_sasl_syntax,     auth_malformed          >,  // RFC 4954 4
    Row < Greeted,              AUTH,           Authenticating,       send_challenge,         auth_needs_response     >,  // RFC 4954 4
    Row < Greeted,              AUTH,           CheckingCredentials,  verify_credentials,     auth_complete           >,  // RFC 4954 4, 4616
    Row < Greeted,              MAIL,           none,                 require_auth,           none                    >,  // RFC 4954 6, 6409 4.3
    Row < Authenticating,       SaslResponse,   Greeted,              cancel_auth,            sasl_cancelled          >,  // RFC 4954 4
    Row < Authenticating,       SaslResponse,   Greeted,              reject_sasl_syntax,     sasl_malformed          >,  // RFC 4954 4
    Row < Authenticating,       SaslResponse,   none,                 send_challenge,         sasl_needs_more         >,  // RFC 4954 4
    Row < Authenticating,       SaslResponse,   CheckingCredentials,  verify_credentials,     sasl_complete           >,  // RFC 4954 4
    Row < CheckingCredentials,  AuthResult,     Authenticated,        accept_auth,            credentials_ok          >,  // RFC 4954 6
    Row < CheckingCredentials,  AuthResult,     Greeted,              reject_auth,            credentials_bad         >,  // RFC 4954 6
    Row < Authenticated,        EHLO,           Authenticated,        send_ehlo,              none                    >,  // RFC 5321 4.1.4
    Row < Authenticated,        HELO,           Authenticated,        send_helo,              none                    >,  // RFC 5321 4.1.4
    Row < Authenticated,        RSET,           none,                 reply_ok,               none                    >,  // RFC 5321 4.1.1.5
    Row < Authenticated,        AUTH,           none,                 already_authenticated,  none                    >,  // RFC 4954 4
    Row < Authenticated,        MAIL,           CheckingSender,       check_sender,           size_within_limit       >,  // RFC 5321 4.1.1.2, 1870 6
    Row < Authenticated,        MAIL,           none,                 reject_size,            size_over_limit         >,  // RFC 1870 6
    Row < CheckingSender,       Verdict,        MailGiven,            accept_sender,          accepted                >,  // RFC 6409 6.1
    Row < CheckingSender,       Verdict,        Authenticated,        reject_sender,          rejected                >,  // RFC 6409 6.1
    Row < MailGiven,            RCPT,           CheckingRecipient,    check_recipient,        below_recipient_limit   >,  // RFC 5321 4.1.1.3
    Row < MailGiven,            DATA,           none,                 no_valid_recipients,    none                    >,  // RFC 5321 3.3
    Row < MailGiven,            RSET,           Authenticated,        reset_transaction,      none                    >,  // RFC 5321 4.1.1.5
    Row < MailGiven,            EHLO,           Authenticated,        send_ehlo,              none                    >,  // RFC 5321 4.1.4
    Row < MailGiven,            HELO,           Authenticated,        send_helo,              none                    >,  // RFC 5321 4.1.4
    Row < CheckingRecipient,    Verdict,        RcptGiven,            accept_recipient,       accepted                >,  // RFC 5321 4.1.1.3
    Row < CheckingRecipient,    Verdict,        MailGiven,            reject_recipient,       rejected_none_accepted  >,  // RFC 5321 4.1.1.3
    Row < CheckingRecipient,    Verdict,        RcptGiven,            reject_recipient,       rejected_some_accepted  >,  // RFC 5321 4.1.1.3
    Row < RcptGiven,            RCPT,           CheckingRecipient,    check_recipient,        below_recipient_limit   >,  // RFC 5321 4.1.1.3
    Row < RcptGiven,            RCPT,           none,                 too_many_recipients,    at_recipient_limit      >,  // RFC 5321 4.5.3.1.10
    Row < RcptGiven,            DATA,           ReceivingData,        start_data,             message_memory_available>,  // RFC 5321 4.1.1.4
    Row < RcptGiven,            DATA,           none,                 refuse_data_memory,     message_memory_full     >,  // RFC 5321 4.2.1, 3463 3.4
    Row < RcptGiven,            RSET,           Authenticated,        reset_transaction,      none                    >,  // RFC 5321 4.1.1.5
    Row < RcptGiven,            EHLO,           Authenticated,        send_ehlo,              none                    >,  // RFC 5321 4.1.4
    Row < RcptGiven,            HELO,           Authenticated,        send_helo,              none                    >,  // RFC 5321 4.1.4
    Row < ReceivingData,        DataComplete,   CheckingMessage,      check_message,          none                    >,  // RFC 5321 4.1.1.4
    Row < ReceivingData,        DataRejected,   Authenticated,        reject_data,            none                    >,  // RFC 5321 2.3.8, 4.5.3.1
    Row < CheckingMessage,      Verdict,        Enqueuing,            enqueue,                accepted                >,  // RFC 6409 8
    Row < CheckingMessage,      Verdict,        Authenticated,        reject_message,         rejected                >,  // RFC 6409 8
    Row < Enqueuing,            Enqueued,       Authenticated,        reply_queued,           none                    >,  // RFC 5321 4.1.1.4, 6.1
    Row < Enqueuing,            EnqueueFailed,  Authenticated,        reply_enqueue_failed,   none                    >,  // RFC 5321 4.2.3
    Row < TlsHandshake,         TlsReady,       Connected,            tls_established,        none                    >   // RFC 3207 4.2
    >;
    // clang-format on
};

}  // namespace
}  // namespace machine

namespace detail {

std::unique_ptr<Session> make_submission_session(SessionConfig config, PeerInfo peer) {
    return std::make_unique<machine::MachineSession<machine::SubmissionDef>>(std::move(config), std::move(peer));
}

std::vector<TransitionRow> submission_rows() { return machine::rows_of<machine::SubmissionDef>(); }

}  // namespace detail
}  // namespace pigeon::smtp
