// pigeon/smtp/client/client_security.cpp: ClientBase's actions for STARTTLS (RFC 3207) and
// AUTH (RFC 4954) towards a relayhost, and the choice of mechanism. The rest of ClientBase is
// in client_base.cpp.
#include <string>
#include <string_view>

#include "core/ascii.hpp"
#include "core/base64.hpp"
#include "smtp/client/client_base.hpp"

namespace pigeon::smtp::detail {

std::string choose_mechanism(const Extensions& ext) {
    auto it = ext.find("AUTH");
    if (it == ext.end()) return {};
    bool plain = false, login = false;
    std::string_view rest(it->second);
    while (!rest.empty()) {
        auto sp = rest.find(' ');
        const std::string_view word = rest.substr(0, sp);
        plain = plain || core::iequals(word, "PLAIN");
        login = login || core::iequals(word, "LOGIN");
        if (sp == std::string_view::npos) break;
        rest.remove_prefix(sp + 1);
    }
    return plain ? "PLAIN" : login ? "LOGIN" : "";
}

void ClientBase::tls_unavailable(const PeerReply& e) {
    extensions_ = e.extensions;
    fail_connection(core::Reply(451, "4.7.4", "TLS is required, the peer does not offer STARTTLS"),
                    false, Outcome::transient, false);
    send_quit();
}

void ClientBase::auth_unavailable(const PeerReply& e) {
    extensions_ = e.extensions;
    fail_connection(core::Reply(451, "4.7.0",
                                tls_active_ ? "AUTH is configured, the peer offers no usable mechanism"
                                            : "AUTH is configured, credentials are never sent without TLS"),
                    false, Outcome::transient, false);
    send_quit();
}

void ClientBase::auth_rejected(const PeerReply& e) {
    // RFC 4954 6: 535 and other 5xx mean these credentials will not do here: permanent for
    // every message (a misconfigured relayhost), yet about the host, not the recipients.
    fail_connection(e.reply, true, Outcome::permanent, false);
    send_quit();
}

void ClientBase::send_starttls(const PeerReply& e) {
    extensions_ = e.extensions;
    send_line("STARTTLS");
}

void ClientBase::start_tls() {
    parser_.reset();
    tls_to_start_ = true;  // put() hands out ClientStartTls when its input is used up
}

void ClientBase::tls_established() {
    // RFC 3207 4.2: forget what was learnt in clear and ask again.
    tls_active_ = true;
    extensions_.clear();
    send_ehlo();
}

void ClientBase::tls_failed(const TlsDown& e) {
    trace("!: ", "TLS handshake failed: " + e.reason);
    fail_connection(core::Reply(451, "4.7.0", "TLS handshake failed"), false, Outcome::transient,
                    false);
    emit(ClientClose{});
}

void ClientBase::send_auth(const PeerReply& e) {
    extensions_ = e.extensions;
    const auto& c = *config_.credentials;
    if (choose_mechanism(extensions_) == "PLAIN") {
        // RFC 4954 4 with the initial response; RFC 4616 2: authzid NUL authcid NUL passwd.
        std::string message;
        message += '\0';
        message += c.username;
        message += '\0';
        message += c.password;
        auth_login_step_ = -1;
        send_line("AUTH PLAIN " + core::base64_encode(message), "AUTH PLAIN <credentials hidden>");
    } else {
        auth_login_step_ = 0;
        send_line("AUTH LOGIN");
    }
}

void ClientBase::answer_challenge() {
    const auto& c = *config_.credentials;
    if (auth_login_step_ == 0) {
        auth_login_step_ = 1;
        send_line(core::base64_encode(c.username), "<SASL response hidden>");
    } else {
        auth_login_step_ = 2;
        send_line(core::base64_encode(c.password), "<SASL response hidden>");
    }
}

void ClientBase::greeted(const PeerReply& e) { extensions_ = e.extensions; }

void ClientBase::authenticated() {
    auth_login_step_ = -1;
    trace("!: ", "authenticated");
}

}  // namespace pigeon::smtp::detail
