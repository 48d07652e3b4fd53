// pigeon/smtp/server/inbound_machine.cpp: the inbound (MX) role as an explicit Boost.MSM state machine.
// No AUTH; RCPT is gated by the recipient policy (CheckRecipient), the end of DATA by the
// message verdict (CheckMessage) before the final reply.
// The table below is spec/machines/inbound.tsv, row for row; tests/smtp/machine_table_test.cpp
// keeps the two equal. It lives in its own translation unit to keep MSM's compile cost here.
#include "smtp/server/machine_vocabulary.hpp"

namespace pigeon::smtp {
namespace machine {
namespace {

struct InboundDef : MachineDef<InboundDef> {
    using initial_state = Connected;

    // clang-format off
    using transition_table = boost::mpl::vector<
    //    source              event           target              action                 guard                  
    Row < Connected,          EHLO,           Greeted,            send_ehlo,             none                    >,  // RFC 5321 4.1.1.1
    Row < Connected,          HELO,           Greeted,            send_helo,             none                    >,  // RFC 5321 4.1.1.1
    Row < Connected,          RSET,           none,               reply_ok,              none                    >,  // RFC 5321 4.1.1.5
    Row < Greeted,            EHLO,           Greeted,            send_ehlo,             none                    >,  // RFC 5321 4.1.4
    Row < Greeted,            HELO,           Greeted,            send_helo,             none                    >,  // RFC 5321 4.1.4
    Row < Greeted,            RSET,           none,               reply_ok,              none                    >,  // RFC 5321 4.1.1.5
    Row < Greeted,            STARTTLS,       TlsHandshake,       start_tls,             tls_offered             >,  // RFC 3207 4
    Row < Greeted,            STARTTLS,       none,               refuse_tls,            tls_not_offered         >,  // RFC 3207 4
    Row < Greeted,            AUTH,           none,               auth_not_available,    none                    >,  // RFC 4954
    Row < Greeted,            MAIL,           CheckingSender,     check_sender,          size_within_limit       >,  // RFC 5321 4.1.1.2, 1870 6
    Row < Greeted,            MAIL,           none,               reject_size,           size_over_limit         >,  // RFC 1870 6
    Row < CheckingSender,     Verdict,        MailGiven,          accept_sender,         accepted                >,  // RFC 5321 4.1.1.2
    Row < CheckingSender,     Verdict,        Greeted,            reject_sender,         rejected                >,  // RFC 5321 4.1.1.2
    Row < MailGiven,          RCPT,           CheckingRecipient,  check_recipient,       below_recipient_limit   >,  // RFC 5321 4.1.1.3
    Row < MailGiven,          DATA,           none,               no_valid_recipients,   none                    >,  // RFC 5321 3.3
    Row < MailGiven,          RSET,           Greeted,            reset_transaction,     none                    >,  // RFC 5321 4.1.1.5
    Row < MailGiven,          EHLO,           Greeted,            send_ehlo,             none                    >,  // RFC 5321 4.1.4
    Row < MailGiven,          HELO,           Greeted,            send_helo,             none                    >,  // RFC 5321 4.1.4
    Row < CheckingRecipient,  Verdict,        RcptGiven,          accept_recipient,      accepted                >,  // RFC 5321 4.1.1.3
    Row < CheckingRecipient,  Verdict,        MailGiven,          reject_recipient,      rejected_none_accepted  >,  // RFC 5321 4.1.1.3
    Row < CheckingRecipient,  Verdict,        RcptGiven,          reject_recipient,      rejected_some_accepted  >,  // RFC 5321 4.1.1.3
    Row < RcptGiven,          RCPT,           CheckingRecipient,  check_recipient,       below_recipient_limit   >,  // RFC 5321 4.1.1.3
    Row < RcptGiven,          RCPT,           none,               too_many_recipients,   at_recipient_limit      >,  // RFC 5321 4.5.3.1.10
    Row < RcptGiven,          DATA,           ReceivingData,      start_data,            message_memory_available>,  // RFC 5321 4.1.1.4
    Row < RcptGiven,          DATA,           none,               refuse_data_memory,    message_memory_full     >,  // RFC 5321 4.2.1, 3463 3.4
    Row < RcptGiven,          RSET,           Greeted,            reset_transaction,     none                    >,  // RFC 5321 4.1.1.5
    Row < RcptGiven,          EHLO,           Greeted,            send_ehlo,             none                    >,  // RFC 5321 4.1.4
    Row < RcptGiven,          HELO,           Greeted,            send_helo,             none                    >,  // RFC 5321 4.1.4
    Row < ReceivingData,      DataComplete,   CheckingMessage,    check_message,         none                    >,  // RFC 5321 4.1.1.4
    Row < ReceivingData,      DataRejected,   Greeted,            reject_data,           none                    >,  // RFC 5321 2.3.8, 4.5.3.1
    Row < CheckingMessage,    Verdict,        Enqueuing,          enqueue,               accepted                >,  // RFC 5321 4.1.1.4
    Row < CheckingMessage,    Verdict,        Greeted,            reject_message,        rejected                >,  // RFC 5321 4.1.1.4
    Row < Enqueuing,          Enqueued,       Greeted,            reply_queued,          none                    >,  // RFC 5321 4.1.1.4, 6.1
    Row < Enqueuing,          EnqueueFailed,  Greeted,            reply_enqueue_failed,  none                    >,  // RFC 5321 4.2.3
    Row < TlsHandshake,       TlsReady,       Connected,          tls_established,       none                    >   // RFC 3207 4.2
    >;
    // clang-format on
};

}  // namespace
}  // namespace machine

namespace detail {

std::unique_ptr<Session> make_inbound_session(SessionConfig config, PeerInfo peer) {
    return std::make_unique<machine::MachineSession<machine::InboundDef>>(std::move(config), std::move(peer));
}

std::vector<TransitionRow> inbound_rows() { return machine::rows_of<machine::InboundDef>(); }

}  // namespace detail
}  // namespace pigeon::smtp
