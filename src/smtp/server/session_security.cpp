// pigeon/smtp/server/session_security.cpp: SessionBase's actions for STARTTLS (RFC 3207) and
// AUTH (RFC 4954): what the role machines call on those rows. The rest of SessionBase is in
// session_base.cpp.
#include <string>

#include "smtp/server/replies.hpp"
#include "smtp/server/session_base.hpp"

namespace pigeon::smtp::detail {

void SessionBase::start_tls() {
    reply(replies::tls_ready.reply());
    // RFC 3207 4.2 / CVE-2011-0411: anything the client pipelined after STARTTLS was sent in
    // clear and must not be executed inside the TLS session.
    if (in_pos_ < in_.size())
        trace("C: ", "<" + std::to_string(in_.size() - in_pos_) +
                         " octets after STARTTLS discarded>");
    in_.clear();
    in_pos_ = 0;
    emit(BeginTls{});
    await(Awaiting::tls);
}

void SessionBase::refuse_tls() {
    if (tls_active_)
        reply(replies::tls_already_active.reply());
    else
        reply(replies::tls_not_available.reply());
}

void SessionBase::tls_established() {
    // RFC 3207 4.2: forget everything learnt from the client before TLS; it must EHLO again.
    tls_active_ = true;
    esmtp_ = false;
    helo_.clear();
    envelope_ = {};
}

void SessionBase::auth_not_available() {
    reply(replies::auth_not_available.reply());
}

void SessionBase::require_tls() {
    reply(replies::must_starttls_first.reply());
}

void SessionBase::reject_mechanism() {
    reply(replies::unknown_mechanism.reply());
}

void SessionBase::reject_sasl_syntax(const SaslStep& step) {
    sasl_ = {};
    if (step.outcome == SaslStep::Outcome::too_long)
        reply(replies::auth_line_too_long.reply());
    else
        reply(replies::cannot_decode.reply());
}

void SessionBase::send_challenge(const SaslStep& step) {
    sasl_ = step.next;
    reply(replies::auth_challenge.reply({step.challenge}));
    input_ = Input::sasl;
}

void SessionBase::cancel_auth() {
    sasl_ = {};
    reply(replies::auth_cancelled.reply());
}

void SessionBase::verify_credentials(const SaslStep& step) {
    emit(Authenticate{sasl_.mechanism.empty() ? std::string("PLAIN") : sasl_.mechanism,
                      step.authzid, step.authcid, step.password, tls_active_});
    sasl_ = {};
    await(Awaiting::auth);
}

void SessionBase::accept_auth(const AuthResult& r) {
    auth_identity_ = r.identity;
    reply(replies::auth_succeeded.reply());
}

void SessionBase::reject_auth(const AuthResult& r) {
    if (r.outcome == AuthResult::Outcome::temporary_failure)
        reply(replies::auth_temporary_failure.reply());
    else
        reply(replies::auth_failed.reply());
}

void SessionBase::already_authenticated() {
    reply(replies::already_authenticated.reply());
}

void SessionBase::require_auth() { reply(replies::auth_required.reply()); }

}  // namespace pigeon::smtp::detail
