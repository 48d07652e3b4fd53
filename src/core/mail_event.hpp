// pigeon/core/mail_event.hpp: what happened to a connection or a message, as a value, for the
// operator's log. The server, the spool's committer and the deliverers make these; the log
// (app/log_format.hpp) writes each as the one line Postfix would write for it (so pflogsumm and
// operators' greps work) or as one JSON object.
//
// Contract:
//   - Plain data: no I/O, no clock. Times are whole seconds from the injected core::Clock of
//     whoever makes the event, so deterministic code stays deterministic.
//   - Text fields are as received (addresses, HELO, replies); the log escapes them.
//   - `service` is the Postfix program the line stands for: smtpd (inbound), submission/smtpd,
//     qmgr (the spool), local (Maildir), smtp (outbound), pickup (pigeon sendmail).
#pragma once
#include <cstdint>
#include <string>
#include <variant>

#include "core/address.hpp"
#include "core/reply.hpp"

namespace pigeon::core {

// "a@b" for <a@b>, "" for <>: how events carry addresses (the line adds the brackets).
inline std::string event_address(const Path& path) {
    const std::string s = path.to_string();
    return s.size() >= 2 ? s.substr(1, s.size() - 2) : s;
}

// "550 5.1.1 no such user" on one line (a multi-line reply's lines joined by " / ").
inline std::string one_line(const Reply& r) {
    std::string s = std::to_string(r.code);
    if (r.enhanced) s += " " + r.enhanced->to_string();
    for (std::size_t i = 0; i < r.lines.size(); ++i) s += (i == 0 ? " " : " / ") + r.lines[i];
    return s;
}

enum class MailService { smtpd, submission, qmgr, local, smtp, pickup };

// "smtpd", "submission/smtpd", "qmgr", "local", "smtp", "pickup".
inline const char* mail_service_name(MailService s) {
    switch (s) {
        case MailService::smtpd: return "smtpd";
        case MailService::submission: return "submission/smtpd";
        case MailService::qmgr: return "qmgr";
        case MailService::local: return "local";
        case MailService::smtp: return "smtp";
        case MailService::pickup: return "pickup";
    }
    return "?";
}

// A client connected, or its connection ended ("connect from unknown[192.0.2.1]").
struct ClientConnected {
    MailService service = MailService::smtpd;
    std::string client_ip;
    bool disconnected = false;  // "disconnect from ..."
};

// A message was accepted from a client: "QUEUEID: client=unknown[ip], sasl_username=alice".
struct MessageReceived {
    MailService service = MailService::smtpd;
    std::string queue_id;
    std::string client_ip;
    std::string sasl_username;  // empty: not authenticated
};

// A local program's message (pigeon sendmail) was accepted, as Postfix's pickup says it:
// "QUEUEID: uid=1000 from=<alice@example.org>".
struct MessagePickedUp {
    std::string queue_id;
    std::uint32_t uid = 0;  // the caller's, from SO_PEERCRED
    std::string from;       // the reverse path, without angle brackets
};

// A message is durable in the spool: "QUEUEID: from=<a@b>, size=N, nrcpt=N (queue active)".
struct MessageQueued {
    std::string queue_id;
    std::string from;  // the reverse path, without angle brackets; empty for <>
    std::uint64_t size = 0;
    std::size_t nrcpt = 0;
};

// One recipient's delivery attempt: "QUEUEID: to=<c@d>, relay=..., delay=S,
// delays=a/b/c/d, dsn=2.0.0, status=sent (250 ...)".
struct RecipientDelivery {
    enum class Status { sent, deferred, bounced };
    MailService service = MailService::local;
    std::string queue_id;
    std::string to;
    std::string relay;        // "local", "mx.example[192.0.2.7]:25", or "none"
    std::int64_t delay = 0;   // seconds from arrival to the end of this attempt
    // delays=a/b/c/d (Postfix): a before the attempt started, b in the queue manager (always
    // 0: Pigeon has none), c connection setup, d the transmission; whole seconds.
    std::int64_t delay_before = 0, delay_setup = 0, delay_transmission = 0;
    std::string dsn;          // enhanced status "2.0.0"
    Status status = Status::sent;
    std::string detail;       // the reply or the reason, e.g. "250 2.0.0 OK"
};

inline const char* delivery_status_name(RecipientDelivery::Status s) {
    switch (s) {
        case RecipientDelivery::Status::sent: return "sent";
        case RecipientDelivery::Status::deferred: return "deferred";
        case RecipientDelivery::Status::bounced: return "bounced";
    }
    return "?";
}

// The message left the spool: "QUEUEID: removed".
struct MessageRemoved {
    std::string queue_id;
};

// A refusal during the dialogue: "NOQUEUE: reject: RCPT from unknown[ip]: 550 5.1.1 text;
// from=<a@b> to=<c@d> proto=ESMTP helo=<client.test>".
struct Refused {
    MailService service = MailService::smtpd;
    std::string stage;  // the command refused: "MAIL", "RCPT", "DATA"
    std::string client_ip;
    std::string reply;  // "550 5.1.1 No such user here", on one line
    std::string from;
    std::string to;     // empty unless stage is RCPT
    bool esmtp = true;  // proto=ESMTP or SMTP
    std::string helo;
};

using MailEvent = std::variant<ClientConnected, MessageReceived, MessagePickedUp, MessageQueued,
                               RecipientDelivery, MessageRemoved, Refused>;

}  // namespace pigeon::core
