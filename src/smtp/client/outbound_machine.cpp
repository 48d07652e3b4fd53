// pigeon/smtp/client/outbound_machine.cpp: the outbound (client) role as an explicit Boost.MSM state
// machine: the SMTP client that delivers to an MX host or a relayhost.
// The table below is spec/machines/outbound.tsv, row for row; tests/smtp/machine_table_test.cpp
// keeps the two equal. ClientBase (client_base.cpp) handles what means the same in every
// state: end of input, ClientTimeout, 421, malformed and out-of-sequence replies, unsolicited
// bytes. The table lives in its own translation unit to keep MSM's compile cost here.
#include "smtp/client/machine_vocabulary.hpp"
#include "smtp/server/machine_vocabulary.hpp"  // machine::rows_of

namespace pigeon::smtp {
namespace client_machine {
namespace {

struct OutboundDef : ClientMachineDef<OutboundDef> {
    using initial_state = AwaitGreeting;

    // clang-format off
    using transition_table = boost::mpl::vector<
    //    source          event      target         action                guard                          
    Row < AwaitGreeting,  Reply,     AwaitEhlo,     send_ehlo,            ok                           >,  // RFC 5321 3.1, 4.1.1.1
    Row < AwaitGreeting,  Reply,     AwaitQuit,     give_up,              negative                     >,  // RFC 5321 3.1 (554: QUIT)
    Row < AwaitEhlo,      Reply,     AwaitStartTls, send_starttls,        tls_next                     >,  // RFC 3207 4
    Row < AwaitEhlo,      Reply,     AwaitQuit,     tls_unavailable,      tls_missing                  >,  // RFC 3207 4, 6 (policy)
    Row < AwaitEhlo,      Reply,     AwaitAuth,     send_auth,            auth_next                    >,  // RFC 4954 4
    Row < AwaitEhlo,      Reply,     AwaitQuit,     auth_unavailable,     auth_missing                 >,  // RFC 4954 4, 14
    Row < AwaitEhlo,      Reply,     Idle,          greeted,              ready                        >,  // RFC 5321 4.1.1.1
    Row < AwaitEhlo,      Reply,     AwaitHelo,     send_helo,            helo_fallback                >,  // RFC 5321 3.2, 4.1.4
    Row < AwaitEhlo,      Reply,     AwaitQuit,     tls_unavailable,      refused_tls_required         >,  // RFC 3207 4 (no TLS after HELO)
    Row < AwaitEhlo,      Reply,     AwaitQuit,     give_up,              transient                    >,  // RFC 5321 4.2.1
    Row < AwaitHelo,      Reply,     AwaitQuit,     auth_unavailable,     auth_missing                 >,  // RFC 4954 4
    Row < AwaitHelo,      Reply,     Idle,          greeted,              ready                        >,  // RFC 5321 4.1.1.1
    Row < AwaitHelo,      Reply,     AwaitQuit,     give_up,              negative                     >,  // RFC 5321 4.1.1.1
    Row < AwaitStartTls,  Reply,     TlsHandshake,  start_tls,            ok                           >,  // RFC 3207 4
    Row < AwaitStartTls,  Reply,     AwaitQuit,     give_up,              negative                     >,  // RFC 3207 4
    Row < TlsHandshake,   TlsReady,  AwaitEhlo,     tls_established,      none                         >,  // RFC 3207 4.2
    Row < TlsHandshake,   TlsFailed, Closed,        tls_failed,           none                         >,  // RFC 3207 4.1
    Row < AwaitAuth,      Reply,     Idle,          authenticated,        ok                           >,  // RFC 4954 4, 6
    Row < AwaitAuth,      Reply,     none,          answer_challenge,     go_ahead                     >,  // RFC 4954 4
    Row < AwaitAuth,      Reply,     AwaitQuit,     give_up,              transient                    >,  // RFC 4954 6
    Row < AwaitAuth,      Reply,     AwaitQuit,     auth_rejected,        permanent                    >,  // RFC 4954 6
    Row < Idle,           Deliver,   none,          refuse_message,       refused_locally              >,  // RFC 1870 6, 6152 3, 6531 3.4
    Row < Idle,           Deliver,   AwaitRset,     send_rset,            needs_rset                   >,  // RFC 5321 4.1.1.5
    Row < Idle,           Deliver,   AwaitMail,     send_mail,            mail_ready                   >,  // RFC 5321 3.3, 2920 3.1
    Row < Idle,           Quit,      AwaitQuit,     send_quit,            none                         >,  // RFC 5321 4.1.1.10
    Row < AwaitRset,      Reply,     Idle,          rset_done,            ok                           >,  // RFC 5321 4.1.1.5
    Row < AwaitRset,      Reply,     AwaitQuit,     give_up,              negative                     >,  // RFC 5321 4.1.1.5
    Row < AwaitMail,      Reply,     AwaitRcpt,     mail_accepted,        ok                           >,  // RFC 5321 4.1.1.2
    Row < AwaitMail,      Reply,     AwaitRcpt,     record_mail_refusal,  negative_pipelined           >,  // RFC 2920 3.1
    Row < AwaitMail,      Reply,     Idle,          finish_mail_refused,  negative_alone               >,  // RFC 5321 4.1.1.2
    Row < AwaitRcpt,      Reply,     none,          take_rcpt_reply,      more_rcpt_replies            >,  // RFC 5321 4.1.1.3, 2920 3.1
    Row < AwaitRcpt,      Reply,     AwaitData,     take_last_rcpt_reply, last_rcpt_pipelined          >,  // RFC 2920 3.1
    Row < AwaitRcpt,      Reply,     AwaitData,     send_data,            last_rcpt_some_accepted      >,  // RFC 5321 3.3
    Row < AwaitRcpt,      Reply,     Idle,          no_recipients,        last_rcpt_none_accepted      >,  // RFC 5321 3.3
    Row < AwaitData,      Reply,     AwaitDataEnd,  send_message,         go_ahead_with_recipients     >,  // RFC 5321 4.1.1.4, 4.5.2
    Row < AwaitData,      Reply,     AwaitDataEnd,  send_empty_message,   go_ahead_without_recipients  >,  // RFC 2920 3.1
    Row < AwaitData,      Reply,     Idle,          data_refused,         negative                     >,  // RFC 5321 4.1.1.4, 2920 3.1
    Row < AwaitDataEnd,   Reply,     Idle,          message_accepted,     ok                           >,  // RFC 5321 4.1.1.4, 6.1
    Row < AwaitDataEnd,   Reply,     Idle,          message_refused,      negative                     >,  // RFC 5321 4.1.1.4, 4.2.5
    Row < AwaitQuit,      Reply,     Closed,        close_connection,     none                         >   // RFC 5321 4.1.1.10
    >;
    // clang-format on
};

}  // namespace
}  // namespace client_machine

namespace detail {

std::unique_ptr<ClientSession> make_outbound_session(ClientConfig config) {
    return std::make_unique<client_machine::ClientMachineSession<client_machine::OutboundDef>>(
        std::move(config));
}

std::vector<TransitionRow> outbound_rows() { return machine::rows_of<client_machine::OutboundDef>(); }

}  // namespace detail

std::unique_ptr<ClientSession> make_client_session(ClientConfig config) {
    return detail::make_outbound_session(std::move(config));
}

std::vector<TransitionRow> outbound_transition_table() { return detail::outbound_rows(); }

}  // namespace pigeon::smtp
