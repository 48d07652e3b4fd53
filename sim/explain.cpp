// pigeon/sim/explain.cpp: notes for --explain (see explain.hpp).
#include "sim/explain.hpp"

#include <string_view>

namespace pigeon::sim {
namespace {

bool has(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }


// One note: the line it explains (a test on the trace line) and the text under it.
struct Note {
    bool (*applies)(std::string_view line);
    const char* text;
};

// A group of notes: in a `first_match` group only the first note that applies is given (the
// cases exclude each other); otherwise every note that applies is, in order.
struct NoteGroup {
    bool first_match;
    std::vector<Note> notes;
};

bool starts(std::string_view s, std::string_view prefix) { return s.starts_with(prefix); }
bool dmarc_line(std::string_view s) { return has(s, " DMARC "); }
bool outbound_line(std::string_view s) { return s.starts_with("outbound: "); }
bool dns_line(std::string_view s) { return s.starts_with("DNS "); }

// What a reader needs to know under a trace line, in the order the notes are printed.
const std::vector<NoteGroup>& note_groups() {
    using V = std::string_view;
    static const std::vector<NoteGroup> groups = {
        // The client's commands, the server's replies and the DNS questions: one note a line.
        {true, {
            {[](V s) { return starts(s, "C: EHLO"); },
             "EHLO names the client and asks which extensions the server offers (RFC 5321 4.1.1.1)."},
            {[](V s) { return starts(s, "C: HELO"); }, "HELO: the old greeting, no extensions (RFC 5321 4.1.1.1)."},
            {[](V s) { return starts(s, "C: STARTTLS"); },
             "STARTTLS asks to continue over TLS; afterwards everything starts again with EHLO (RFC 3207 4, 4.2)."},
            {[](V s) { return starts(s, "C: AUTH"); },
             "AUTH logs the user in; submission accepts mail only from authenticated users (RFC 4954 4, RFC 6409 4.3)."},
            {[](V s) { return starts(s, "C: MAIL FROM"); },
             "MAIL FROM gives the envelope sender (reverse-path): where bounces will go (RFC 5321 4.1.1.2). "
             "A receiving MX checks SPF for this domain now (RFC 7208 2.4)."},
            {[](V s) { return starts(s, "C: RCPT TO"); },
             "RCPT TO names one recipient; each is accepted or refused on its own (RFC 5321 4.1.1.3)."},
            {[](V s) { return s == "C: DATA"; },
             "DATA: the message follows, ended by a line holding only \".\" (RFC 5321 4.1.1.4)."},
            {[](V s) { return s == "C: ."; },
             "End of data. The server checks DKIM and DMARC now, and replies 250 only once the message is "
             "safely stored (RFC 5321 4.1.1.4, 6.1)."},
            {[](V s) { return starts(s, "C: QUIT"); }, "QUIT ends the session politely (RFC 5321 4.1.1.10)."},
            {[](V s) { return starts(s, "C: RSET"); }, "RSET abandons the current transaction (RFC 5321 4.1.1.5)."},
            {[](V s) { return starts(s, "S: 220 ") && !has(s, "TLS"); },
             "220: the server's greeting; the client may begin (RFC 5321 4.2, 3.1)."},
            {[](V s) { return starts(s, "S: 250-STARTTLS") || starts(s, "S: 250 STARTTLS"); },
             "The server offers STARTTLS (RFC 3207 4)."},
            {[](V s) { return starts(s, "S: 354"); }, "354: send the message now (RFC 5321 4.1.1.4)."},
            {[](V s) { return starts(s, "S: 235"); }, "235: authentication succeeded (RFC 4954 6)."},
            {[](V s) { return starts(s, "S: 535"); }, "535: wrong credentials (RFC 4954 6)."},
            {[](V s) { return starts(s, "S: 550 5.7.23"); },
             "550 5.7.23: SPF says this host may not send for the sender's domain (RFC 7208 8.4, RFC 7372 3.2). "
             "The sender keeps the failure and bounces (RFC 3464)."},
            {[](V s) { return starts(s, "S: 550 5.7.1") && has(s, "DMARC"); },
             "550 5.7.1: the From: domain publishes p=reject and the message is not aligned with SPF or "
             "DKIM (RFC 7489 6.3, 6.6.4, 10.3)."},
            {[](V s) { return starts(s, "S: 4"); },
             "A 4xx reply is a transient failure: the sender keeps the message and tries again later "
             "(RFC 5321 4.2.1, 4.5.4.1). Greylisting relies on this (RFC 6647 2.1)."},
            {[](V s) { return starts(s, "S: 5"); },
             "A 5xx reply is a permanent failure: the sender must not retry as is; a relay then sends a "
             "bounce (DSN) to the envelope sender (RFC 5321 4.2.1, 6.1; RFC 3464)."},
            {[](V s) { return starts(s, "DNS MX"); },
             "MX records name the hosts that accept mail for the domain; lowest preference first, no MX "
             "means the domain's own address (RFC 5321 5.1)."},
            {[](V s) { return starts(s, "DNS TXT _dmarc."); },
             "The DMARC policy record of the From: domain (RFC 7489 6.1, 6.6.3)."},
            {[](V s) { return starts(s, "DNS TXT") && has(s, "._domainkey."); },
             "The DKIM public key for the signature's selector and domain (RFC 6376 3.6.2.1)."},
            {[](V s) { return starts(s, "DNS TXT"); },
             "A TXT lookup; for SPF, the sender domain's policy record \"v=spf1 ...\" (RFC 7208 4.4)."},
            {[](V s) { return starts(s, "DNS TLSA"); },
             "TLSA records pin the MX's certificate; with DNSSEC (\"secure\") the sender must use TLS and "
             "check the certificate against them (RFC 7672 2.2, 3.1)."},
            {[](V s) { return starts(s, "DNS A "); }, "The address of a host (RFC 1035 3.4.1)."},
        }},
        // What a DNS answer says.
        {false, {
            {[](V s) { return starts(s, "DNS MX") && has(s, "MX 0 ."); },
             "\"MX 0 .\" is a null MX: the domain accepts no mail; the sender fails at once "
             "(RFC 7505 3, 4.2)."},
            {[](V s) { return dns_line(s) && has(s, "servfail"); },
             "SERVFAIL: the DNS could not answer. Nothing is decided on it: mail is deferred, SPF gives "
             "temperror (RFC 5321 5.1, RFC 7208 5)."},
            {[](V s) { return dns_line(s) && has(s, " timeout "); },
             "The DNS did not answer in time: a temporary error (RFC 7208 4.6.4, 5)."},
            {[](V s) { return dns_line(s) && has(s, " secure"); },
             "\"secure\": the answer is validated by DNSSEC (RFC 4035 4.3)."},
        }},
        // The SPF verdict.
        {true, {
            {[](V s) { return has(s, " SPF pass"); },
             "SPF pass: the client's address is authorized by the sender domain's record (RFC 7208 2.6.3)."},
            {[](V s) { return has(s, " SPF fail"); },
             "SPF fail: the domain says this address may not send for it (\"-all\", RFC 7208 2.6.4); Pigeon "
             "refuses the MAIL FROM (RFC 7208 8.4)."},
            {[](V s) { return has(s, " SPF softfail"); },
             "SPF softfail: probably not authorized, accepted and recorded (RFC 7208 2.6.5)."},
            {[](V s) { return has(s, " SPF none"); }, "SPF none: the domain publishes no SPF record (RFC 7208 2.6.1)."},
            {[](V s) { return has(s, " SPF temperror"); },
             "SPF temperror: a DNS failure; Pigeon answers 451 so the sender retries (RFC 7208 2.6.6, 8.6)."},
            {[](V s) { return has(s, " SPF permerror"); },
             "SPF permerror: the domain's record is broken (RFC 7208 2.6.7)."},
        }},
        // The DKIM results on a DMARC line.
        {false, {
            {[](V s) { return dmarc_line(s) && has(s, "DKIM pass"); },
             "DKIM pass: a signature verified with the key in DNS (RFC 6376 6.1, 6.3)."},
            {[](V s) { return dmarc_line(s) && has(s, "DKIM fail"); },
             "DKIM fail: a signature did not verify: the message changed or the key does not match "
             "(RFC 6376 6.3; RFC 8601 2.7.1)."},
        }},
        // The DMARC verdict.
        {true, {
            {[](V s) { return dmarc_line(s) && has(s, " DMARC pass"); },
             "DMARC pass: SPF or DKIM passed for a domain aligned with the From: domain (RFC 7489 3.1, 4.2)."},
            {[](V s) { return dmarc_line(s) && has(s, " DMARC fail"); },
             "DMARC fail: neither SPF nor DKIM passed for a domain aligned with From: (RFC 7489 4.2); the "
             "domain's policy decides (RFC 7489 6.3)."},
            {[](V s) { return dmarc_line(s) && has(s, " DMARC none"); },
             "DMARC none: the From: domain publishes no DMARC record (RFC 7489 6.6.3)."},
        }},
        // What the DMARC policy did.
        {true, {
            {[](V s) { return dmarc_line(s) && has(s, ": to Junk"); },
             "p=quarantine: accepted, but filed as suspicious (RFC 7489 6.3, 6.6.4)."},
            {[](V s) { return dmarc_line(s) && has(s, ": refused"); },
             "p=reject: the message is refused during the SMTP transaction (RFC 7489 6.3, 10.3)."},
        }},
        // The queue and delivery.
        {false, {
            {dmarc_line, "The result is recorded in an Authentication-Results field (RFC 8601 2.2)."},
            {[](V s) { return has(s, "committed (synced)"); },
             "The message is on stable storage; only now may the server answer 250 to the data "
             "(RFC 5321 6.1: it has taken responsibility)."},
            {[](V s) { return starts(s, "deliver: "); },
             "Local delivery into the user's mailbox (the folder comes from the DMARC verdict)."},
            {[](V s) { return outbound_line(s) && has(s, "defer"); },
             "Deferred: the message stays queued and is retried later with backoff (RFC 5321 4.5.4.1)."},
            {[](V s) { return outbound_line(s) && (has(s, "DSN") || has(s, "bounce")); },
             "A delivery status notification goes back to the envelope sender (RFC 3461, RFC 3464); a "
             "bounce never bounces (its sender is <>, RFC 5321 4.5.5)."},
            {[](V s) { return outbound_line(s) && has(s, "DANE"); },
             "DANE: TLS is mandatory and the certificate must match the TLSA records (RFC 7672 2.2, 3.1)."},
            {[](V s) { return starts(s, "CRASH"); },
             "A crash loses everything not yet synced; every message that got its 250 was synced first, so "
             "no accepted message is lost (RFC 5321 6.1)."},
            {[](V s) { return starts(s, "RESTART"); },
             "On restart the spool is read back and every pending recipient is tried again."},
        }},
    };
    return groups;
}

}  // namespace

std::vector<std::string> explain_line(const std::string& w) {
    std::vector<std::string> n;
    for (const NoteGroup& group : note_groups()) {
        for (const Note& note : group.notes) {
            if (!note.applies(w)) continue;
            n.emplace_back(note.text);
            if (group.first_match) break;
        }
    }
    return n;
}

}  // namespace pigeon::sim
