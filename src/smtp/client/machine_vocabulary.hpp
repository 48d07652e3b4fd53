// pigeon/smtp/client/machine_vocabulary.hpp (internal): the vocabulary of the outbound (client) machine's
// transition table: states, guards and actions as Boost.MSM functors over detail::ClientBase.
// Included only by outbound_machine.cpp.
//
// Contract: as server/machine_vocabulary.hpp for the servers. Every functor has a `name`, which is what
// spec/machines/outbound.tsv calls it. Guards only read (ClientBase's const members and the
// event) and, per (state, event), are mutually exclusive and cover every case that reaches the
// machine (ClientBase has already taken 421, malformed and out-of-sequence replies); actions
// are the only writers.
#pragma once
#include <boost/msm/back/state_machine.hpp>
#include <boost/msm/front/functor_row.hpp>
#include <boost/msm/front/state_machine_def.hpp>
#include <variant>

#include "smtp/client/client_base.hpp"
#include "smtp/machine_check.hpp"

namespace pigeon::smtp::client_machine {

namespace msmf = boost::msm::front;
using msmf::none;
using msmf::Row;
using detail::AfterHello;
using detail::ClientWait;

// ---- states: named after what the client waits for; entering one goes through
// ClientBase::enter_state ----
template <class Derived>
struct State : msmf::state<> {
    template <class Event, class Fsm>
    void on_entry(const Event&, Fsm& fsm) {
        fsm.client->enter_state(Derived::name, Derived::wait);
    }
};

#define PIGEON_CLIENT_STATE(N, W)                      \
    struct N : State<N> {                              \
        static constexpr const char* name = #N;        \
        static constexpr ClientWait wait = ClientWait::W; \
    }

PIGEON_CLIENT_STATE(AwaitGreeting, greeting);  // connected, the 220 not yet read
PIGEON_CLIENT_STATE(AwaitEhlo, ehlo);          // EHLO sent
PIGEON_CLIENT_STATE(AwaitHelo, helo);          // EHLO refused with 5xx, HELO sent
PIGEON_CLIENT_STATE(AwaitStartTls, starttls);  // STARTTLS sent
PIGEON_CLIENT_STATE(TlsHandshake, tls_handshake);  // ClientStartTls given, the driver handshakes
PIGEON_CLIENT_STATE(AwaitAuth, auth);          // AUTH (or a LOGIN response) sent
PIGEON_CLIENT_STATE(Idle, idle);               // ready; no transaction
PIGEON_CLIENT_STATE(AwaitRset, rset);          // RSET sent after a failed transaction
PIGEON_CLIENT_STATE(AwaitMail, mail);          // MAIL sent (pipelined: with RCPTs and DATA)
PIGEON_CLIENT_STATE(AwaitRcpt, rcpt);          // reading RCPT replies
PIGEON_CLIENT_STATE(AwaitData, data);          // reading DATA's reply
PIGEON_CLIENT_STATE(AwaitDataEnd, data_end);   // the message and "." sent
PIGEON_CLIENT_STATE(AwaitQuit, quit);          // QUIT sent
PIGEON_CLIENT_STATE(Closed, closed);           // ClientClose given; nothing more happens
#undef PIGEON_CLIENT_STATE

// ---- actions ----
#define PIGEON_CLIENT_ACTION(N, CALL)                                              \
    struct N {                                                                     \
        static constexpr const char* name = #N;                                    \
        template <class E, class F, class S, class T>                              \
        void operator()([[maybe_unused]] const E& e, F& f, S&, T&) const {         \
            detail::ClientBase& s = *f.client;                                     \
            CALL;                                                                  \
        }                                                                          \
    }

PIGEON_CLIENT_ACTION(send_ehlo, s.send_ehlo());
PIGEON_CLIENT_ACTION(send_helo, s.send_helo());
PIGEON_CLIENT_ACTION(give_up, s.give_up(e));
PIGEON_CLIENT_ACTION(tls_unavailable, s.tls_unavailable(e));
PIGEON_CLIENT_ACTION(auth_unavailable, s.auth_unavailable(e));
PIGEON_CLIENT_ACTION(auth_rejected, s.auth_rejected(e));
PIGEON_CLIENT_ACTION(send_starttls, s.send_starttls(e));
PIGEON_CLIENT_ACTION(start_tls, s.start_tls());
PIGEON_CLIENT_ACTION(tls_established, s.tls_established());
PIGEON_CLIENT_ACTION(tls_failed, s.tls_failed(e));
PIGEON_CLIENT_ACTION(send_auth, s.send_auth(e));
PIGEON_CLIENT_ACTION(answer_challenge, s.answer_challenge());
PIGEON_CLIENT_ACTION(greeted, s.greeted(e));
PIGEON_CLIENT_ACTION(authenticated, s.authenticated());
PIGEON_CLIENT_ACTION(refuse_message, s.refuse_message());
PIGEON_CLIENT_ACTION(send_rset, s.send_rset());
PIGEON_CLIENT_ACTION(rset_done, s.rset_done());
PIGEON_CLIENT_ACTION(send_mail, s.send_mail());
PIGEON_CLIENT_ACTION(send_quit, s.send_quit());
PIGEON_CLIENT_ACTION(mail_accepted, s.mail_accepted());
PIGEON_CLIENT_ACTION(record_mail_refusal, s.record_mail_refusal(e));
PIGEON_CLIENT_ACTION(finish_mail_refused, s.finish_mail_refused(e));
PIGEON_CLIENT_ACTION(take_rcpt_reply, s.take_rcpt_reply(e));
PIGEON_CLIENT_ACTION(take_last_rcpt_reply, s.take_last_rcpt_reply(e));
PIGEON_CLIENT_ACTION(send_data, s.send_data(e));
PIGEON_CLIENT_ACTION(no_recipients, s.no_recipients(e));
PIGEON_CLIENT_ACTION(send_message, s.send_message());
PIGEON_CLIENT_ACTION(send_empty_message, s.send_empty_message());
PIGEON_CLIENT_ACTION(data_refused, s.data_refused(e));
PIGEON_CLIENT_ACTION(message_accepted, s.message_accepted(e));
PIGEON_CLIENT_ACTION(message_refused, s.message_refused(e));
PIGEON_CLIENT_ACTION(close_connection, s.close_connection());
#undef PIGEON_CLIENT_ACTION

// ---- guards ----
#define PIGEON_CLIENT_GUARD(N, EXPR)                                               \
    struct N {                                                                     \
        static constexpr const char* name = #N;                                    \
        template <class E, class F, class S, class T>                              \
        bool operator()([[maybe_unused]] const E& e, F& f, S&, T&) const {         \
            [[maybe_unused]] const detail::ClientBase& s = *f.client;              \
            return EXPR;                                                           \
        }                                                                          \
    }

// Reply classes (RFC 5321 4.2.1): 2yz success, 3yz intermediate, 4yz transient, 5yz permanent.
PIGEON_CLIENT_GUARD(ok, e.reply.code < 300);
PIGEON_CLIENT_GUARD(go_ahead, e.reply.code >= 300 && e.reply.code < 400);
PIGEON_CLIENT_GUARD(transient, e.reply.code >= 400 && e.reply.code < 500);
PIGEON_CLIENT_GUARD(permanent, e.reply.code >= 500);
PIGEON_CLIENT_GUARD(negative, e.reply.code >= 400);
// After a successful EHLO / HELO.
PIGEON_CLIENT_GUARD(tls_next, e.reply.code < 300 && s.after_hello(e) == AfterHello::starttls);
PIGEON_CLIENT_GUARD(tls_missing, e.reply.code < 300 && s.after_hello(e) == AfterHello::tls_missing);
PIGEON_CLIENT_GUARD(auth_next, e.reply.code < 300 && s.after_hello(e) == AfterHello::auth);
PIGEON_CLIENT_GUARD(auth_missing, e.reply.code < 300 && s.after_hello(e) == AfterHello::auth_missing);
PIGEON_CLIENT_GUARD(ready, e.reply.code < 300 && s.after_hello(e) == AfterHello::ready);
// EHLO refused with 5xx: HELO, unless TLS is required (HELO cannot lead to STARTTLS).
PIGEON_CLIENT_GUARD(helo_fallback, e.reply.code >= 500 && !s.tls_required_in_clear());
PIGEON_CLIENT_GUARD(refused_tls_required, e.reply.code >= 500 && s.tls_required_in_clear());
// Idle with a message at the front of the queue.
PIGEON_CLIENT_GUARD(refused_locally, s.local_refusal().has_value());
PIGEON_CLIENT_GUARD(needs_rset, !s.local_refusal() && s.rset_needed());
PIGEON_CLIENT_GUARD(mail_ready, !s.local_refusal() && !s.rset_needed());
// MAIL's reply.
PIGEON_CLIENT_GUARD(negative_pipelined, e.reply.code >= 400 && s.pipelined());
PIGEON_CLIENT_GUARD(negative_alone, e.reply.code >= 400 && !s.pipelined());
// RCPT replies, any class: the action records each.
PIGEON_CLIENT_GUARD(more_rcpt_replies, s.more_rcpt_replies());
PIGEON_CLIENT_GUARD(last_rcpt_pipelined, !s.more_rcpt_replies() && s.pipelined());
PIGEON_CLIENT_GUARD(last_rcpt_some_accepted,
                    !s.more_rcpt_replies() && !s.pipelined() && s.accepted_with(e));
PIGEON_CLIENT_GUARD(last_rcpt_none_accepted,
                    !s.more_rcpt_replies() && !s.pipelined() && !s.accepted_with(e));
// DATA's reply.
PIGEON_CLIENT_GUARD(go_ahead_with_recipients,
                    e.reply.code >= 300 && e.reply.code < 400 && s.any_accepted());
PIGEON_CLIENT_GUARD(go_ahead_without_recipients,
                    e.reply.code >= 300 && e.reply.code < 400 && !s.any_accepted());
#undef PIGEON_CLIENT_GUARD

// ---- the front-end ----
template <class Derived>
struct ClientMachineDef : msmf::state_machine_def<Derived> {
    detail::ClientBase* client = nullptr;

    // No row for this (state, event): ClientBase only fires what the state expects, so this
    // is a bug; fail safe (connection-level failure, close) rather than guess.
    template <class Fsm, class Event>
    void no_transition(const Event&, Fsm&, int) {
        PIGEON_ASSERT(false, "the outbound machine has a row for every event ClientBase fires");
        client->machine_error("no transition");
    }
};

template <class Def>
class ClientMachineSession final : public detail::ClientBase {
public:
    explicit ClientMachineSession(ClientConfig config) : ClientBase(std::move(config)) {
        machine_.client = this;
        machine_.start();
    }

protected:
    void fire(const detail::ClientMachineEvent& event) override {
        std::visit(
            [this](const auto& e) {
                machine_check::assert_one_row_enabled(machine_, e);
                if (machine_.process_event(e) == boost::msm::back::HANDLED_GUARD_REJECT)
                    machine_error("no guard held");
            },
            event);
    }

private:
    boost::msm::back::state_machine<Def> machine_;
};

// Event aliases so the table reads like spec/machines/outbound.tsv.
using Reply = detail::PeerReply;
using Deliver = detail::NextMessage;
using Quit = detail::QuitNow;
using TlsReady = detail::TlsUp;
using TlsFailed = detail::TlsDown;

}  // namespace pigeon::smtp::client_machine
