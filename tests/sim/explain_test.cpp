// sim/explain.hpp: which notes a trace line gets, and in what order.
#include "sim/explain.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using pigeon::sim::explain_line;

namespace {

// Whether each note contains the matching fragment, in order (and there are as many of both).
bool notes_are(const std::string& line, const std::vector<std::string>& fragments) {
    const auto notes = explain_line(line);
    if (notes.size() != fragments.size()) return false;
    for (std::size_t i = 0; i < notes.size(); ++i)
        if (notes[i].find(fragments[i]) == std::string::npos) return false;
    return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(explain)

BOOST_AUTO_TEST_CASE(a_command_gets_its_one_note_with_the_rfc) {
    BOOST_TEST(notes_are("C: MAIL FROM:<a@example.org>", {"RFC 5321 4.1.1.2"}));
    BOOST_TEST(notes_are("C: .", {"replies 250 only once the message is safely stored"}));
    BOOST_TEST(explain_line("C: NOOP").empty());  // nothing to say
}

BOOST_AUTO_TEST_CASE(only_the_first_matching_reply_note_is_given) {
    // 550 5.7.23 is also a 5xx reply: the specific note wins, the general one is not repeated.
    BOOST_TEST(notes_are("S: 550 5.7.23 rejected by the SPF record of example.org", {"550 5.7.23: SPF says"}));
    BOOST_TEST(notes_are("S: 550 5.1.1 no such user", {"A 5xx reply is a permanent failure"}));
    BOOST_TEST(notes_are("S: 451 4.4.3 try later", {"A 4xx reply is a transient failure"}));
    // A 220 that mentions TLS is STARTTLS's answer, not the greeting.
    BOOST_TEST(explain_line("S: 220 2.0.0 Ready to start TLS").empty());
}

BOOST_AUTO_TEST_CASE(a_dns_answer_adds_what_it_says_after_what_it_is) {
    BOOST_TEST(notes_are("DNS MX nomail.test? NOERROR secure | MX 0 .",
                         {"MX records name the hosts", "null MX", "validated by DNSSEC"}));
    BOOST_TEST(notes_are("DNS A mx.example.org? servfail", {"The address of a host", "SERVFAIL"}));
    BOOST_TEST(notes_are("DNS TXT sel._domainkey.example.org? NOERROR insecure", {"DKIM public key"}));
}

BOOST_AUTO_TEST_CASE(a_dmarc_line_gets_dkim_dmarc_policy_and_the_record_in_order) {
    BOOST_TEST(notes_are("relay>mx#2 DKIM fail DMARC fail for careful.test: to Junk",
                         {"DKIM fail", "DMARC fail", "p=quarantine", "Authentication-Results"}));
    BOOST_TEST(notes_are("relay>mx#1 DMARC pass for example.org", {"DMARC pass", "Authentication-Results"}));
    BOOST_TEST(notes_are("relay>mx#1 DMARC fail for strict.test: refused",
                         {"DMARC fail", "p=reject", "Authentication-Results"}));
}

BOOST_AUTO_TEST_CASE(queue_lines_get_every_note_that_applies) {
    BOOST_TEST(notes_are("outbound: 1a2b deferred; DSN delay notice queued",
                         {"Deferred", "delivery status notification"}));
    BOOST_TEST(notes_are("CRASH mx", {"A crash loses everything not yet synced"}));
}

BOOST_AUTO_TEST_SUITE_END()
