// pigeon-dsn-sample: writes one sample DSN (queue/dsn.hpp) to standard output, for
// tests/queue/check_dsn.py, which parses it with Python's email package.
// Usage: pigeon-dsn-sample failed|delayed|mixed|utf8|long
// The envelope goes to standard error as "MAIL FROM:<> BODY=... SMTPUTF8=... RCPT TO:<...>".
#include <iostream>
#include <string>

#include "queue/dsn.hpp"

using namespace pigeon;

namespace {

core::Path path(const std::string& text) {
    auto m = core::Mailbox::parse(text, core::AddressSyntax{true});
    return m ? core::Path::of(std::move(m).value()) : core::Path::postmaster();
}

}  // namespace

int main(int argc, char** argv) {
    const std::string variant = argc > 1 ? argv[1] : "failed";
    std::string original =
        "Received: from client.example ([192.0.2.7]) by mx.pigeon.example\r\n"
        "From: Alice <alice@example.org>\r\n"
        "To: bob@example.net, carol@example.com\r\n"
        "Subject: Quarterly numbers\r\n"
        "Message-ID: <original.1@example.org>\r\n"
        "\r\n"
        "The body is never quoted in a DSN.\r\n";
    queue::DsnRequest r;
    r.reporting_mta = "mx.pigeon.example";
    r.queue_id = "0123456789ABCDEF";
    r.arrival_unix = 1'790'000'000;
    r.now_unix = 1'790'003'600;
    r.will_retry_until_unix = r.arrival_unix + 5 * 86400;
    r.original_envelope.reverse_path = path("alice@example.org");
    r.boundary_random = 0x1234'5678'9ABC'DEF0ull;

    queue::DsnRecipient bob;
    bob.recipient = path("bob@example.net");
    bob.action = queue::DsnRecipient::Action::failed;
    bob.status = {5, 1, 1};
    bob.remote_mta = "mx.example.net";
    bob.diagnostic = "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown";
    bob.diagnostic_from_peer = true;
    bob.last_attempt_unix = r.now_unix;

    queue::DsnRecipient carol;
    carol.recipient = path("carol@example.com");
    carol.action = queue::DsnRecipient::Action::delayed;
    carol.status = {4, 4, 1};
    carol.diagnostic = "connection to mx.example.com timed out";
    carol.last_attempt_unix = r.now_unix - 60;

    if (variant == "failed") {
        r.recipients = {bob};
    } else if (variant == "delayed") {
        r.recipients = {carol};
    } else if (variant == "mixed") {
        r.recipients = {bob, carol};
    } else if (variant == "utf8") {
        original = "From: J\xC3\xB6rg <j\xC3\xB6rg@b\xC3\xBC" "cher.example>\r\n"
                   "Subject: Gr\xC3\xBC\xC3\x9F" "e\r\n\r\nbody\r\n";
        r.original_envelope.reverse_path = path("j\xC3\xB6rg@example.org");
        r.original_envelope.smtputf8 = true;
        queue::DsnRecipient u = bob;
        u.recipient = path("\xE6\x97\xA5\xE6\x9C\xAC+x@example.net");
        u.diagnostic = "550 5.1.1 unknown user \xE6\x97\xA5\xE6\x9C\xAC\r\nsecond line";
        r.recipients = {u};
    } else if (variant == "long") {
        queue::DsnRecipient l = bob;
        l.diagnostic = "550-5.7.1 " + std::string(1500, 'x') + " and then many words";
        for (int i = 0; i < 60; ++i) l.diagnostic += " word" + std::to_string(i);
        original = "X-Long: " + std::string(2000, 'y') + "\r\nSubject: long\r\n\r\n";
        r.recipients = {l, carol};
    } else {
        std::cerr << "usage: pigeon-dsn-sample failed|delayed|mixed|utf8|long\n";
        return 2;
    }
    r.original_message = original;
    const auto dsn = queue::make_dsn(r);
    if (!dsn) {
        std::cerr << "no DSN\n";
        return 1;
    }
    const auto& e = dsn->envelope;
    std::cerr << "MAIL FROM:" << e.reverse_path.to_string()
              << " BODY=" << (e.body == core::BodyType::eight_bit_mime ? "8BITMIME" : "7BIT")
              << " SMTPUTF8=" << (e.smtputf8 ? "yes" : "no") << " RCPT TO:" << e.recipients.at(0).to_string()
              << "\n";
    std::cout << dsn->message.to_string();
    return 0;
}
