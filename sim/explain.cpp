// pigeon/sim/explain.cpp: notes for --explain (see explain.hpp).
#include "sim/explain.hpp"

#include <string_view>

namespace pigeon::sim {
namespace {

bool has(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

}  // namespace

std::vector<std::string> explain_line(const std::string& w) {
    std::vector<std::string> n;
    const std::string_view s = w;
    // ---- the client's commands
    if (s.starts_with("C: EHLO"))
        n.push_back("EHLO names the client and asks which extensions the server offers (RFC 5321 4.1.1.1).");
    else if (s.starts_with("C: HELO"))
        n.push_back("HELO: the old greeting, no extensions (RFC 5321 4.1.1.1).");
    else if (s.starts_with("C: STARTTLS"))
        n.push_back("STARTTLS asks to continue over TLS; afterwards everything starts again with EHLO (RFC 3207 4, 4.2).");
    else if (s.starts_with("C: AUTH"))
        n.push_back("AUTH logs the user in; submission accepts mail only from authenticated users (RFC 4954 4, RFC 6409 4.3).");
    else if (s.starts_with("C: MAIL FROM"))
        n.push_back("MAIL FROM gives the envelope sender (reverse-path): where bounces will go (RFC 5321 4.1.1.2). "
                    "A receiving MX checks SPF for this domain now (RFC 7208 2.4).");
    else if (s.starts_with("C: RCPT TO"))
        n.push_back("RCPT TO names one recipient; each is accepted or refused on its own (RFC 5321 4.1.1.3).");
    else if (s == "C: DATA")
        n.push_back("DATA: the message follows, ended by a line holding only \".\" (RFC 5321 4.1.1.4).");
    else if (s == "C: .")
        n.push_back("End of data. The server checks DKIM and DMARC now, and replies 250 only once the message is "
                    "safely stored (RFC 5321 4.1.1.4, 6.1).");
    else if (s.starts_with("C: QUIT"))
        n.push_back("QUIT ends the session politely (RFC 5321 4.1.1.10).");
    else if (s.starts_with("C: RSET"))
        n.push_back("RSET abandons the current transaction (RFC 5321 4.1.1.5).");
    // ---- the server's replies
    else if (s.starts_with("S: 220 ") && !has(s, "TLS"))
        n.push_back("220: the server's greeting; the client may begin (RFC 5321 4.2, 3.1).");
    else if (s.starts_with("S: 250-STARTTLS") || s.starts_with("S: 250 STARTTLS"))
        n.push_back("The server offers STARTTLS (RFC 3207 4).");
    else if (s.starts_with("S: 354"))
        n.push_back("354: send the message now (RFC 5321 4.1.1.4).");
    else if (s.starts_with("S: 235"))
        n.push_back("235: authentication succeeded (RFC 4954 6).");
    else if (s.starts_with("S: 535"))
        n.push_back("535: wrong credentials (RFC 4954 6).");
    else if (s.starts_with("S: 550 5.7.23"))
        n.push_back("550 5.7.23: SPF says this host may not send for the sender's domain (RFC 7208 8.4, RFC 7372 3.2). "
                    "The sender keeps the failure and bounces (RFC 3464).");
    else if (s.starts_with("S: 550 5.7.1") && has(s, "DMARC"))
        n.push_back("550 5.7.1: the From: domain publishes p=reject and the message is not aligned with SPF or "
                    "DKIM (RFC 7489 6.3, 6.6.4, 10.3).");
    else if (s.starts_with("S: 4"))
        n.push_back("A 4xx reply is a transient failure: the sender keeps the message and tries again later "
                    "(RFC 5321 4.2.1, 4.5.4.1). Greylisting relies on this (RFC 6647 2.1).");
    else if (s.starts_with("S: 5"))
        n.push_back("A 5xx reply is a permanent failure: the sender must not retry as is; a relay then sends a "
                    "bounce (DSN) to the envelope sender (RFC 5321 4.2.1, 6.1; RFC 3464).");
    // ---- DNS
    else if (s.starts_with("DNS MX")) {
        n.push_back("MX records name the hosts that accept mail for the domain; lowest preference first, no MX "
                    "means the domain's own address (RFC 5321 5.1).");
        if (has(s, "MX 0 ."))
            n.push_back("\"MX 0 .\" is a null MX: the domain accepts no mail; the sender fails at once "
                        "(RFC 7505 3, 4.2).");
    } else if (s.starts_with("DNS TXT _dmarc."))
        n.push_back("The DMARC policy record of the From: domain (RFC 7489 6.1, 6.6.3).");
    else if (s.starts_with("DNS TXT") && has(s, "._domainkey."))
        n.push_back("The DKIM public key for the signature's selector and domain (RFC 6376 3.6.2.1).");
    else if (s.starts_with("DNS TXT"))
        n.push_back("A TXT lookup; for SPF, the sender domain's policy record \"v=spf1 ...\" (RFC 7208 4.4).");
    else if (s.starts_with("DNS TLSA"))
        n.push_back("TLSA records pin the MX's certificate; with DNSSEC (\"secure\") the sender must use TLS and "
                    "check the certificate against them (RFC 7672 2.2, 3.1).");
    else if (s.starts_with("DNS A "))
        n.push_back("The address of a host (RFC 1035 3.4.1).");
    if (s.starts_with("DNS ") && has(s, "servfail"))
        n.push_back("SERVFAIL: the DNS could not answer. Nothing is decided on it: mail is deferred, SPF gives "
                    "temperror (RFC 5321 5.1, RFC 7208 5).");
    if (s.starts_with("DNS ") && has(s, " timeout "))
        n.push_back("The DNS did not answer in time: a temporary error (RFC 7208 4.6.4, 5).");
    if (s.starts_with("DNS ") && has(s, " secure"))
        n.push_back("\"secure\": the answer is validated by DNSSEC (RFC 4035 4.3).");
    // ---- policy decisions
    if (has(s, " SPF pass"))
        n.push_back("SPF pass: the client's address is authorized by the sender domain's record (RFC 7208 2.6.3).");
    else if (has(s, " SPF fail"))
        n.push_back("SPF fail: the domain says this address may not send for it (\"-all\", RFC 7208 2.6.4); Pigeon "
                    "refuses the MAIL FROM (RFC 7208 8.4).");
    else if (has(s, " SPF softfail"))
        n.push_back("SPF softfail: probably not authorized, accepted and recorded (RFC 7208 2.6.5).");
    else if (has(s, " SPF none"))
        n.push_back("SPF none: the domain publishes no SPF record (RFC 7208 2.6.1).");
    else if (has(s, " SPF temperror"))
        n.push_back("SPF temperror: a DNS failure; Pigeon answers 451 so the sender retries (RFC 7208 2.6.6, 8.6).");
    else if (has(s, " SPF permerror"))
        n.push_back("SPF permerror: the domain's record is broken (RFC 7208 2.6.7).");
    if (has(s, " DMARC ")) {
        if (has(s, "DKIM pass"))
            n.push_back("DKIM pass: a signature verified with the key in DNS (RFC 6376 6.1, 6.3).");
        if (has(s, "DKIM fail"))
            n.push_back("DKIM fail: a signature did not verify: the message changed or the key does not match "
                        "(RFC 6376 6.3; RFC 8601 2.7.1).");
        if (has(s, " DMARC pass"))
            n.push_back("DMARC pass: SPF or DKIM passed for a domain aligned with the From: domain (RFC 7489 3.1, 4.2).");
        else if (has(s, " DMARC fail"))
            n.push_back("DMARC fail: neither SPF nor DKIM passed for a domain aligned with From: (RFC 7489 4.2); the "
                        "domain's policy decides (RFC 7489 6.3).");
        else if (has(s, " DMARC none"))
            n.push_back("DMARC none: the From: domain publishes no DMARC record (RFC 7489 6.6.3).");
        if (has(s, ": to Junk"))
            n.push_back("p=quarantine: accepted, but filed as suspicious (RFC 7489 6.3, 6.6.4).");
        else if (has(s, ": refused"))
            n.push_back("p=reject: the message is refused during the SMTP transaction (RFC 7489 6.3, 10.3).");
        n.push_back("The result is recorded in an Authentication-Results field (RFC 8601 2.2).");
    }
    // ---- the queue and delivery
    if (has(s, "committed (synced)"))
        n.push_back("The message is on stable storage; only now may the server answer 250 to the data "
                    "(RFC 5321 6.1: it has taken responsibility).");
    if (s.starts_with("deliver: "))
        n.push_back("Local delivery into the user's mailbox (the folder comes from the DMARC verdict).");
    if (s.starts_with("outbound: ") && has(s, "defer"))
        n.push_back("Deferred: the message stays queued and is retried later with backoff (RFC 5321 4.5.4.1).");
    if (s.starts_with("outbound: ") && (has(s, "DSN") || has(s, "bounce")))
        n.push_back("A delivery status notification goes back to the envelope sender (RFC 3461, RFC 3464); a "
                    "bounce never bounces (its sender is <>, RFC 5321 4.5.5).");
    if (s.starts_with("outbound: ") && has(s, "DANE"))
        n.push_back("DANE: TLS is mandatory and the certificate must match the TLSA records (RFC 7672 2.2, 3.1).");
    if (s.starts_with("CRASH"))
        n.push_back("A crash loses everything not yet synced; every message that got its 250 was synced first, so "
                    "no accepted message is lost (RFC 5321 6.1).");
    if (s.starts_with("RESTART"))
        n.push_back("On restart the spool is read back and every pending recipient is tried again.");
    return n;
}

}  // namespace pigeon::sim
