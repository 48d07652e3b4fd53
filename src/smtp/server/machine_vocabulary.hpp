// pigeon/smtp/server/machine_vocabulary.hpp (internal): the vocabulary of the role machines' transition
// tables: states, guards and actions as Boost.MSM functors. Included only by
// inbound_machine.cpp and submission_machine.cpp, each of which compiles one table.
//
// Every functor has a `name`, which is what spec/machines/*.tsv calls it; rows_of<Def>() reads
// a compiled table back as text so tests/smtp/machine_table_test.cpp can compare the two.
// Guards only read (SessionBase's const members and the event); actions are the only writers.
#pragma once
#include <boost/mpl/for_each.hpp>
#include <boost/mpl/vector.hpp>
#include <boost/msm/back/state_machine.hpp>
#include <boost/msm/front/functor_row.hpp>
#include <boost/msm/front/state_machine_def.hpp>
#include <boost/type_traits/add_pointer.hpp>
#include <type_traits>
#include <variant>
#include <vector>

#include "smtp/machine_check.hpp"
#include "smtp/machine_table.hpp"
#include "smtp/server/session_base.hpp"

namespace pigeon::smtp::machine {

namespace msmf = boost::msm::front;
using msmf::none;
using msmf::Row;
using Outcome = SaslStep::Outcome;

// ---- states: entering one is logged through SessionBase::enter_state ----
template <class Derived>
struct State : msmf::state<> {
    template <class Event, class Fsm>
    void on_entry(const Event&, Fsm& fsm) {
        fsm.session->enter_state(Derived::name);
    }
};

#define PIGEON_STATE(N) \
    struct N : State<N> { static constexpr const char* name = #N; }

PIGEON_STATE(Connected);            // greeting sent, no EHLO/HELO yet
PIGEON_STATE(Greeted);              // EHLO/HELO done, no transaction (submission: not authenticated)
PIGEON_STATE(TlsHandshake);         // 220 to STARTTLS sent; the driver runs the handshake
PIGEON_STATE(Authenticating);       // a SASL exchange: the next line is a response, not a command
PIGEON_STATE(CheckingCredentials);  // waiting for AuthResult
PIGEON_STATE(Authenticated);        // submission: may start transactions
PIGEON_STATE(CheckingSender);       // MAIL given, waiting for the sender Verdict
PIGEON_STATE(MailGiven);            // sender accepted, no recipient accepted yet
PIGEON_STATE(CheckingRecipient);    // RCPT given, waiting for its Verdict
PIGEON_STATE(RcptGiven);            // at least one recipient accepted
PIGEON_STATE(ReceivingData);        // 354 sent; bytes go to the DataReader
PIGEON_STATE(CheckingMessage);      // end of data, waiting for the message Verdict
PIGEON_STATE(Enqueuing);            // waiting for the spool: 250 only once it is durable
#undef PIGEON_STATE

// ---- actions: "proceed" ----
#define PIGEON_ACTION(N, CALL)                                                     \
    struct N {                                                                     \
        static constexpr const char* name = #N;                                    \
        template <class E, class F, class S, class T>                              \
        void operator()([[maybe_unused]] const E& e, F& f, S&, T&) const {         \
            detail::SessionBase& s = *f.session;                                   \
            CALL;                                                                  \
        }                                                                          \
    }

PIGEON_ACTION(send_ehlo, s.send_ehlo(e));
PIGEON_ACTION(send_helo, s.send_helo(e));
PIGEON_ACTION(reply_ok, s.reply_ok());
PIGEON_ACTION(reset_transaction, s.reset_transaction());
PIGEON_ACTION(start_tls, s.start_tls());
PIGEON_ACTION(refuse_tls, s.refuse_tls());
PIGEON_ACTION(tls_established, s.tls_established());
PIGEON_ACTION(auth_not_available, s.auth_not_available());
PIGEON_ACTION(require_tls, s.require_tls());
PIGEON_ACTION(reject_mechanism, s.reject_mechanism());
PIGEON_ACTION(reject_sasl_syntax, s.reject_sasl_syntax(e.step));
PIGEON_ACTION(send_challenge, s.send_challenge(e.step));
PIGEON_ACTION(cancel_auth, s.cancel_auth());
PIGEON_ACTION(verify_credentials, s.verify_credentials(e.step));
PIGEON_ACTION(accept_auth, s.accept_auth(e));
PIGEON_ACTION(reject_auth, s.reject_auth(e));
PIGEON_ACTION(already_authenticated, s.already_authenticated());
PIGEON_ACTION(require_auth, s.require_auth());
PIGEON_ACTION(check_sender, s.check_sender(e));
PIGEON_ACTION(accept_sender, s.accept_sender(e));
PIGEON_ACTION(reject_sender, s.reject_sender(e));
PIGEON_ACTION(reject_size, s.reject_size());
PIGEON_ACTION(check_recipient, s.check_recipient(e));
PIGEON_ACTION(accept_recipient, s.accept_recipient(e));
PIGEON_ACTION(reject_recipient, s.reject_recipient(e));
PIGEON_ACTION(too_many_recipients, s.too_many_recipients());
PIGEON_ACTION(no_valid_recipients, s.no_valid_recipients());
PIGEON_ACTION(start_data, s.start_data());
PIGEON_ACTION(refuse_data_memory, s.refuse_data_memory());
PIGEON_ACTION(reject_data, s.reject_data(e));
PIGEON_ACTION(check_message, s.check_message());
PIGEON_ACTION(enqueue, s.enqueue(e));
PIGEON_ACTION(reject_message, s.reject_message(e));
PIGEON_ACTION(reply_queued, s.reply_queued(e));
PIGEON_ACTION(reply_enqueue_failed, s.reply_enqueue_failed(e));
#undef PIGEON_ACTION

// ---- guards: "check"; the guards of one (state, event) are mutually exclusive and cover
// every case, so exactly one row fires ----
#define PIGEON_GUARD(N, EXPR)                                                      \
    struct N {                                                                     \
        static constexpr const char* name = #N;                                    \
        template <class E, class F, class S, class T>                              \
        bool operator()([[maybe_unused]] const E& e, F& f, S&, T&) const {         \
            [[maybe_unused]] const detail::SessionBase& s = *f.session;            \
            return EXPR;                                                           \
        }                                                                          \
    }

PIGEON_GUARD(tls_offered, s.tls_offered());
PIGEON_GUARD(tls_not_offered, s.tls_not_offered());
PIGEON_GUARD(size_within_limit, s.size_within_limit(e));
PIGEON_GUARD(size_over_limit, s.size_over_limit(e));
PIGEON_GUARD(message_memory_available, s.message_memory_available());
PIGEON_GUARD(message_memory_full, s.message_memory_full());
PIGEON_GUARD(below_recipient_limit, s.below_recipient_limit());
PIGEON_GUARD(at_recipient_limit, s.at_recipient_limit());
PIGEON_GUARD(accepted, e.accept);
PIGEON_GUARD(rejected, !e.accept);
PIGEON_GUARD(rejected_none_accepted, !e.accept && !s.has_recipients());
PIGEON_GUARD(rejected_some_accepted, !e.accept && s.has_recipients());
PIGEON_GUARD(auth_needs_tls, !s.auth_allowed_here());
PIGEON_GUARD(auth_unknown_mechanism,
             s.auth_allowed_here() && e.step.outcome == Outcome::unknown_mechanism);
PIGEON_GUARD(auth_needs_response, s.auth_allowed_here() && e.step.outcome == Outcome::challenge);
PIGEON_GUARD(auth_complete, s.auth_allowed_here() && e.step.outcome == Outcome::complete);
PIGEON_GUARD(auth_malformed, s.auth_allowed_here() && e.step.outcome != Outcome::unknown_mechanism &&
                                 e.step.outcome != Outcome::challenge &&
                                 e.step.outcome != Outcome::complete);
PIGEON_GUARD(sasl_cancelled, e.step.outcome == Outcome::cancelled);
PIGEON_GUARD(sasl_needs_more, e.step.outcome == Outcome::challenge);
PIGEON_GUARD(sasl_complete, e.step.outcome == Outcome::complete);
PIGEON_GUARD(sasl_malformed, e.step.outcome != Outcome::cancelled &&
                                 e.step.outcome != Outcome::challenge &&
                                 e.step.outcome != Outcome::complete);
PIGEON_GUARD(credentials_ok, e.outcome == AuthResult::Outcome::ok);
PIGEON_GUARD(credentials_bad, e.outcome != AuthResult::Outcome::ok);
#undef PIGEON_GUARD

// ---- the front-end every role machine derives from ----
template <class Derived>
struct MachineDef : msmf::state_machine_def<Derived> {
    detail::SessionBase* session = nullptr;

    // No row for this (state, event): the command is out of sequence (RFC 5321 4.3.2, 503).
    template <class Fsm, class Event>
    void no_transition(const Event&, Fsm&, int) {
        session->bad_sequence();
    }
};

// ---- the session type for a machine definition ----
template <class Def>
class MachineSession final : public detail::SessionBase {
public:
    MachineSession(SessionConfig config, PeerInfo peer)
        : SessionBase(std::move(config), std::move(peer)) {
        machine_.session = this;
        machine_.start();
    }

protected:
    void fire(const detail::MachineEvent& event) override {
        std::visit(
            [this](const auto& e) {
                // No row at all: MSM calls no_transition (503). Rows whose guards all refused
                // (HANDLED_GUARD_REJECT) do not; the guards are exhaustive (asserted), but
                // should one ever not be, the client still gets its one reply.
                machine_check::assert_one_row_enabled(machine_, e);
                if (machine_.process_event(e) == boost::msm::back::HANDLED_GUARD_REJECT)
                    bad_sequence();
            },
            event);
    }

private:
    boost::msm::back::state_machine<Def> machine_;
};

// ---- reading a compiled table back as text ----
template <class T>
const char* name_of() {
    if constexpr (std::is_same_v<T, none>)
        return "-";
    else
        return T::name;
}

// An internal row (target `none`) reports its source as Target; its tag tells it apart.
template <class R>
constexpr bool is_internal_row =
    std::is_same_v<typename R::row_type_tag, boost::msm::a_irow_tag> ||
    std::is_same_v<typename R::row_type_tag, boost::msm::g_irow_tag> ||
    std::is_same_v<typename R::row_type_tag, boost::msm::irow_tag> ||
    std::is_same_v<typename R::row_type_tag, boost::msm::_irow_tag>;

struct RowCollector {
    std::vector<TransitionRow>* rows;
    template <class R>
    void operator()(R*) const {
        rows->push_back({name_of<typename R::Source>(), name_of<typename R::Evt>(),
                         is_internal_row<R> ? "-" : name_of<typename R::Target>(),
                         name_of<typename R::Action>(), name_of<typename R::Guard>()});
    }
};

template <class Def>
std::vector<TransitionRow> rows_of() {
    std::vector<TransitionRow> rows;
    boost::mpl::for_each<typename Def::transition_table,
                         boost::add_pointer<boost::mpl::placeholders::_1>>(RowCollector{&rows});
    return rows;
}

// Event aliases so the tables read like spec/machines/*.tsv.
using EHLO = Ehlo;
using HELO = Helo;
using MAIL = Mail;
using RCPT = Rcpt;
using DATA = Data;
using RSET = Rset;
using STARTTLS = StartTls;
using AUTH = detail::AuthEvent;
using detail::DataComplete;
using detail::DataRejected;
using detail::SaslResponse;

}  // namespace pigeon::smtp::machine
