// pigeon/queue/dsn.hpp: delivery status notifications (bounces and delay warnings) as
// messages ready to be queued: RFC 3464 (message/delivery-status) inside RFC 6522
// (multipart/report), field names as RFC 3461 and RFC 3464 define them.
//
// Contract: make_dsn() is pure (no clock, no random source: now_unix and boundary_random come
// in the request) and never throws on its input. It returns nullopt when the original
// reverse-path is null or no recipient is reported: a DSN is never sent about a DSN or other
// null-sender mail (RFC 5321 6.1 and 4.5.5, RFC 3464 2), so bounce loops cannot start here.
// Otherwise the Submission is:
//   envelope  MAIL FROM:<> (RFC 5321 4.5.5), one recipient: the original reverse-path;
//             BODY=8BITMIME when the original header section has 8-bit octets (it is quoted
//             in part 3), else 7BIT; SMTPUTF8 when the sender's address is not ASCII.
//   header    Date (RFC 5322 3.3, from now_unix, "+0000"), From: Mail Delivery System
//             <MAILER-DAEMON@reporting_mta>, To: the sender, Subject, Message-ID
//             <queue_id.dsn.NOW-XXXXXXXX@reporting_mta>, Auto-Submitted: auto-replied
//             (RFC 3834 5), MIME-Version, Content-Type: multipart/report;
//             report-type=delivery-status; boundary="..."
//   part 1    text/plain; charset=us-ascii: what happened, per recipient, for a person
//   part 2    message/delivery-status: Reporting-MTA, X-Pigeon-Queue-ID, X-Pigeon-Sender,
//             Arrival-Date; per recipient Final-Recipient, Action (failed | delayed),
//             Status, Remote-MTA (when one was reached), Diagnostic-Code: smtp; (only a
//             reply the peer sent: RFC 3464 2.3.6 says the field carries "the actual
//             diagnostic code issued by the mail transport"; our own reasons go into the
//             extension field X-Pigeon-Reason), Last-Attempt-Date, Will-Retry-Until (delayed)
//   part 3    text/rfc822-headers: the original message's header section, body left out
// Every line ends in CRLF and has at most 998 octets (long fields are folded at spaces; a
// run of more than 900 octets without one is split, which unfolds with an added space).
// Parts 1 and 2 are 7-bit: non-ASCII and control octets in diagnostics become '?', and a
// non-ASCII address is written as RFC 6533 utf-8-addr-xtext (\x{HEX}). The boundary is
// derived from boundary_random and re-derived until it occurs nowhere in the content.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.hpp"
#include "core/envelope.hpp"
#include "core/reply.hpp"
#include "queue/spool.hpp"

namespace pigeon::queue {

struct DsnRecipient {
    core::Path recipient;
    enum class Action { failed, delayed } action = Action::failed;
    core::EnhancedStatus status;        // e.g. 5.1.1; the default 2.0.0 becomes 5.0.0 / 4.0.0
    std::string remote_mta;             // "mx.example.org" (empty when none was reached)
    std::string diagnostic;             // the peer's reply as one line, or our reason
    bool diagnostic_from_peer = false;  // Diagnostic-Code: smtp; only then
    std::int64_t last_attempt_unix = 0; // 0: no attempt was made (field left out)
};

struct DsnRequest {
    std::string reporting_mta;          // our hostname
    std::string queue_id;               // of the original message
    std::int64_t arrival_unix = 0, now_unix = 0;
    std::int64_t will_retry_until_unix = 0;  // for delayed recipients; 0: field left out
    core::Envelope original_envelope;   // reverse_path is who gets the DSN
    std::string_view original_message;  // only its header section is included
    std::vector<DsnRecipient> recipients;
    std::uint64_t boundary_random = 0;  // from the injected RNG
};

std::optional<Submission> make_dsn(const DsnRequest& request);

// "Thu, 01 Jan 1970 00:00:00 +0000" (RFC 5322 3.3), UTC. Times outside years 1970..9999 are
// clamped into that range.
std::string rfc5322_date(std::int64_t unix_seconds);

// How an address appears in a DSN field: "rfc822; local@domain", or for a non-ASCII address
// "utf-8; " with RFC 6533 utf-8-addr-xtext escapes. <Postmaster> is postmaster@reporting_mta.
std::string dsn_address(const core::Path& path, std::string_view reporting_mta);

}  // namespace pigeon::queue
