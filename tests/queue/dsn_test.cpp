// Tests for queue/dsn.hpp: the multipart/report structure read back with core/header.hpp,
// the RFC 3464 fields, never a DSN about a null-sender message, and as properties: the
// boundary occurs nowhere but where it belongs, every line is CRLF-terminated and at most 998
// octets, and parts 1 and 2 are 7-bit, whatever the original headers and diagnostics hold.
#include "queue/dsn.hpp"

#include <rapidcheck/boost_test.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/header.hpp"
#include "queue/spool_fixtures.hpp"

using namespace pigeon;
using queue::DsnRecipient;
using queue::DsnRequest;

namespace {

constexpr std::int64_t t0 = 1'790'000'000;

const std::string original =
    "Received: from client.example by mx.pigeon.example\r\n"
    "From: Alice <alice@example.org>\r\n"
    "Subject: Quarterly numbers\r\n"
    "Message-ID: <original.1@example.org>\r\n"
    "\r\n"
    "Body text that must not be quoted.\r\n";

DsnRequest request(std::vector<DsnRecipient> recipients) {
    DsnRequest r;
    r.reporting_mta = "mx.pigeon.example";
    r.queue_id = "0123456789ABCDEF";
    r.arrival_unix = t0;
    r.now_unix = t0 + 3600;
    r.will_retry_until_unix = t0 + 5 * 86400;
    r.original_envelope = test::make_envelope("alice@example.org", {"bob@example.net"});
    r.original_message = original;
    r.recipients = std::move(recipients);
    r.boundary_random = 77;
    return r;
}

DsnRecipient failed_bob() {
    DsnRecipient b;
    b.recipient = test::path_of("bob@example.net");
    b.action = DsnRecipient::Action::failed;
    b.status = {5, 1, 1};
    b.remote_mta = "mx.example.net";
    b.diagnostic = "550 5.1.1 no such user";
    b.diagnostic_from_peer = true;
    b.last_attempt_unix = t0 + 3600;
    return b;
}

DsnRecipient delayed_carol() {
    DsnRecipient c;
    c.recipient = test::path_of("carol@example.com");
    c.action = DsnRecipient::Action::delayed;
    c.status = {4, 4, 1};
    c.diagnostic = "connection refused by every MX host";
    c.last_attempt_unix = t0 + 3000;
    return c;
}

std::string value_of(const std::vector<core::HeaderField>& fields, std::string_view name) {
    for (const auto& f : fields) {
        if (!core::field_is(f, name)) continue;
        std::string v = core::unfold(f.value);
        v.erase(0, v.find_first_not_of(" \t"));
        return v;
    }
    return "<missing>";
}

std::size_t count_of(std::string_view text, std::string_view what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

struct Parsed {
    std::string boundary;
    std::vector<core::HeaderField> top;
    std::vector<std::string> parts;  // each part whole: its header, blank line, body
};

// Splits a DSN at its boundary. The boundary must appear once in Content-Type and once per
// delimiter line: nowhere else.
Parsed parse(const std::string& m) {
    Parsed p;
    auto top = core::parse_header(m);
    BOOST_REQUIRE_MESSAGE(top.ok(), "top header does not parse");
    p.top = top.value();
    const std::string ct = value_of(p.top, "Content-Type");
    const auto at = ct.find("boundary=\"");
    BOOST_REQUIRE(at != std::string::npos);
    p.boundary = ct.substr(at + 10, ct.find('"', at + 10) - at - 10);
    const std::string delimiter = "\r\n--" + p.boundary;
    std::size_t pos = m.find(delimiter);
    BOOST_REQUIRE(pos != std::string::npos);
    while (true) {
        pos += delimiter.size();
        if (m.compare(pos, 4, "--\r\n") == 0) break;
        BOOST_REQUIRE(m.compare(pos, 2, "\r\n") == 0);
        const std::size_t next = m.find(delimiter, pos);
        BOOST_REQUIRE(next != std::string::npos);
        p.parts.push_back(m.substr(pos + 2, next - pos - 2 + 2));  // keep the part's last CRLF
        pos = next;
    }
    BOOST_CHECK_EQUAL(count_of(m, p.boundary), p.parts.size() + 2);
    return p;
}

std::string body_of(const std::string& part) { return part.substr(part.find("\r\n\r\n") + 4); }

// The blocks of a message/delivery-status body (separated by empty lines), each parsed as a
// header section.
std::vector<std::vector<core::HeaderField>> blocks_of(const std::string& body, std::vector<std::string>& storage) {
    storage.clear();
    std::size_t pos = 0;
    while (pos < body.size()) {
        std::size_t end = body.find("\r\n\r\n", pos);
        if (end == std::string::npos) end = body.size();
        else end += 2;
        storage.push_back(body.substr(pos, end - pos) + "\r\n");  // a header section ends blank
        pos = end + 2;
    }
    std::vector<std::vector<core::HeaderField>> out;
    for (const auto& s : storage) {  // the fields point into storage: it is complete now
        if (s == "\r\n" || s == "\r\n\r\n") continue;
        auto h = core::parse_header(s);
        BOOST_REQUIRE_MESSAGE(h.ok(), "block does not parse: " << s);
        out.push_back(h.value());
    }
    return out;
}

bool lines_ok(const std::string& m) {
    std::size_t pos = 0;
    while (pos < m.size()) {
        const auto end = m.find("\r\n", pos);
        if (end == std::string::npos) return false;  // not CRLF-terminated
        const std::string_view line(m.data() + pos, end - pos);
        if (line.size() > 998 || line.find('\r') != std::string_view::npos ||
            line.find('\n') != std::string_view::npos)
            return false;
        pos = end + 2;
    }
    return true;
}

bool seven_bit(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dsn)

BOOST_AUTO_TEST_CASE(a_bounce_is_a_multipart_report_with_the_rfc_3464_fields) {
    const auto dsn = queue::make_dsn(request({failed_bob()}));
    BOOST_REQUIRE(dsn.has_value());
    // Envelope: from <>, to the original sender.
    BOOST_TEST(dsn->envelope.reverse_path.is_null());
    BOOST_REQUIRE(dsn->envelope.recipients.size() == 1u);
    BOOST_TEST(dsn->envelope.recipients[0].to_string() == "<alice@example.org>");
    BOOST_TEST((dsn->envelope.body == core::BodyType::seven_bit));
    BOOST_TEST(!dsn->envelope.smtputf8);
    BOOST_TEST(dsn->folder.empty());

    const std::string m = dsn->message.to_string();
    BOOST_TEST(lines_ok(m));
    const Parsed p = parse(m);
    BOOST_TEST(value_of(p.top, "Date") == "Mon, 21 Sep 2026 15:13:20 +0000");
    BOOST_TEST(value_of(p.top, "From") == "Mail Delivery System <MAILER-DAEMON@mx.pigeon.example>");
    BOOST_TEST(value_of(p.top, "To") == "<alice@example.org>");
    BOOST_TEST(value_of(p.top, "Subject") == "Undelivered Mail Returned to Sender");
    BOOST_TEST(value_of(p.top, "Auto-Submitted") == "auto-replied");
    BOOST_TEST(value_of(p.top, "MIME-Version") == "1.0");
    BOOST_TEST(value_of(p.top, "Message-ID").rfind("<0123456789ABCDEF.dsn.1790003600-", 0) == 0u);
    BOOST_TEST(value_of(p.top, "Message-ID").find("@mx.pigeon.example>") != std::string::npos);
    BOOST_TEST(value_of(p.top, "Content-Type").rfind("multipart/report; report-type=delivery-status;", 0) == 0u);
    BOOST_REQUIRE(p.parts.size() == 3u);

    auto h1 = core::parse_header(p.parts[0]);
    BOOST_REQUIRE(h1.ok());
    BOOST_TEST(value_of(h1.value(), "Content-Type") == "text/plain; charset=us-ascii");
    BOOST_TEST(body_of(p.parts[0]).find("<bob@example.net>: delivery failed (status 5.1.1)") != std::string::npos);
    BOOST_TEST(body_of(p.parts[0]).find("mx.example.net said: 550 5.1.1 no such user") != std::string::npos);

    auto h2 = core::parse_header(p.parts[1]);
    BOOST_REQUIRE(h2.ok());
    BOOST_TEST(value_of(h2.value(), "Content-Type") == "message/delivery-status");
    std::vector<std::string> storage;
    const auto blocks = blocks_of(body_of(p.parts[1]), storage);
    BOOST_REQUIRE(blocks.size() == 2u);
    BOOST_TEST(value_of(blocks[0], "Reporting-MTA") == "dns; mx.pigeon.example");
    BOOST_TEST(value_of(blocks[0], "X-Pigeon-Queue-ID") == "0123456789ABCDEF");
    BOOST_TEST(value_of(blocks[0], "Arrival-Date") == "Mon, 21 Sep 2026 14:13:20 +0000");
    BOOST_TEST(value_of(blocks[1], "Final-Recipient") == "rfc822; bob@example.net");
    BOOST_TEST(value_of(blocks[1], "Action") == "failed");
    BOOST_TEST(value_of(blocks[1], "Status") == "5.1.1");
    BOOST_TEST(value_of(blocks[1], "Remote-MTA") == "dns; mx.example.net");
    BOOST_TEST(value_of(blocks[1], "Diagnostic-Code") == "smtp; 550 5.1.1 no such user");
    BOOST_TEST(value_of(blocks[1], "Last-Attempt-Date") == "Mon, 21 Sep 2026 15:13:20 +0000");
    BOOST_TEST(value_of(blocks[1], "Will-Retry-Until") == "<missing>");

    auto h3 = core::parse_header(p.parts[2]);
    BOOST_REQUIRE(h3.ok());
    BOOST_TEST(value_of(h3.value(), "Content-Type") == "text/rfc822-headers");
    const std::string quoted = body_of(p.parts[2]);
    BOOST_TEST(quoted.find("Subject: Quarterly numbers\r\n") != std::string::npos);
    BOOST_TEST(m.find("Body text that must not be quoted") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_delay_warning_says_until_when_and_uses_our_own_reason_field) {
    const auto dsn = queue::make_dsn(request({delayed_carol()}));
    BOOST_REQUIRE(dsn.has_value());
    const std::string p_text = dsn->message.to_string();
    const Parsed p = parse(p_text);
    BOOST_TEST(value_of(p.top, "Subject") == "Delayed Mail (still being retried)");
    std::vector<std::string> storage;
    const auto blocks = blocks_of(body_of(p.parts[1]), storage);
    BOOST_REQUIRE(blocks.size() == 2u);
    BOOST_TEST(value_of(blocks[1], "Action") == "delayed");
    BOOST_TEST(value_of(blocks[1], "Status") == "4.4.1");
    BOOST_TEST(value_of(blocks[1], "Will-Retry-Until") == "Sat, 26 Sep 2026 14:13:20 +0000");
    // Not the peer's words: RFC 3464 2.3.6 keeps Diagnostic-Code for those.
    BOOST_TEST(value_of(blocks[1], "Diagnostic-Code") == "<missing>");
    BOOST_TEST(value_of(blocks[1], "X-Pigeon-Reason") == "connection refused by every MX host");
    BOOST_TEST(value_of(blocks[1], "Remote-MTA") == "<missing>");
    BOOST_TEST(body_of(p.parts[0]).find("Sat, 26 Sep 2026 14:13:20 +0000") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(never_a_bounce_for_a_bounce) {
    auto r = request({failed_bob()});
    r.original_envelope.reverse_path = core::Path::null_path();
    BOOST_TEST(!queue::make_dsn(r).has_value());
    auto none = request({});
    BOOST_TEST(!queue::make_dsn(none).has_value());
}

BOOST_AUTO_TEST_CASE(default_statuses_take_the_class_of_the_action) {
    DsnRecipient f = failed_bob();
    f.status = {};
    DsnRecipient d = delayed_carol();
    d.status = {};
    const auto dsn = queue::make_dsn(request({f, d}));
    BOOST_REQUIRE(dsn.has_value());
    const std::string p_text = dsn->message.to_string();
    const Parsed p = parse(p_text);
    std::vector<std::string> storage;
    const auto blocks = blocks_of(body_of(p.parts[1]), storage);
    BOOST_REQUIRE(blocks.size() == 3u);
    BOOST_TEST(value_of(blocks[1], "Status") == "5.0.0");
    BOOST_TEST(value_of(blocks[2], "Status") == "4.0.0");
    BOOST_TEST(value_of(p.top, "Subject") == "Undelivered Mail Returned to Sender");
}

BOOST_AUTO_TEST_CASE(eight_bit_headers_and_utf8_addresses) {
    auto r = request({failed_bob()});
    const std::string utf8_original = "Subject: Gr\xC3\xBC\xC3\x9F" "e\r\n\r\nx\r\n";
    r.original_message = utf8_original;
    r.original_envelope.reverse_path = test::path_of("j\xC3\xB6rg@example.org");
    r.recipients[0].recipient = test::path_of("\xE6\x97\xA5+1@example.net");
    r.recipients[0].diagnostic = "550 \xE6\x97\xA5 unknown\r\n";
    const auto dsn = queue::make_dsn(r);
    BOOST_REQUIRE(dsn.has_value());
    BOOST_TEST((dsn->envelope.body == core::BodyType::eight_bit_mime));
    BOOST_TEST(dsn->envelope.smtputf8);
    const std::string p_text = dsn->message.to_string();
    const Parsed p = parse(p_text);
    BOOST_TEST(seven_bit(p.parts[0]));
    BOOST_TEST(seven_bit(p.parts[1]));
    BOOST_TEST(!seven_bit(p.parts[2]));
    std::vector<std::string> storage;
    const auto blocks = blocks_of(body_of(p.parts[1]), storage);
    BOOST_TEST(value_of(blocks[0], "X-Pigeon-Sender") == "utf-8; j\\x{F6}rg@example.org");
    BOOST_TEST(value_of(blocks[1], "Final-Recipient") == "utf-8; \\x{65E5}\\x{2B}1@example.net");
    BOOST_TEST(value_of(blocks[1], "Diagnostic-Code") == "smtp; 550 ??? unknown");
}

BOOST_AUTO_TEST_CASE(dates_follow_rfc_5322) {
    BOOST_TEST(queue::rfc5322_date(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
    BOOST_TEST(queue::rfc5322_date(951'782'400) == "Tue, 29 Feb 2000 00:00:00 +0000");
    BOOST_TEST(queue::rfc5322_date(1'790'000'000) == "Mon, 21 Sep 2026 14:13:20 +0000");
    BOOST_TEST(queue::rfc5322_date(-5) == "Thu, 01 Jan 1970 00:00:00 +0000");
    BOOST_TEST(queue::rfc5322_date(std::numeric_limits<std::int64_t>::max()) == "Fri, 31 Dec 9999 23:59:59 +0000");
}

BOOST_AUTO_TEST_CASE(postmaster_and_plain_addresses) {
    BOOST_TEST(queue::dsn_address(core::Path::postmaster(), "mx.example") == "rfc822; postmaster@mx.example");
    BOOST_TEST(queue::dsn_address(test::path_of("a.b@example.org"), "mx") == "rfc822; a.b@example.org");
}

// Content crafted to hold the boundary the first try would pick, in every place that reaches
// the DSN: the original headers, diagnostics, remote host, queue id.
RC_BOOST_PROP(the_boundary_never_occurs_in_the_content, ()) {
    const auto random = *rc::gen::arbitrary<std::uint64_t>();
    auto r = request({failed_bob(), delayed_carol()});
    r.boundary_random = random;
    std::string headers = *rc::gen::arbitrary<std::string>();
    r.recipients[0].diagnostic = *rc::gen::arbitrary<std::string>();
    r.recipients[1].diagnostic = *rc::gen::arbitrary<std::string>();
    r.recipients[1].remote_mta = *rc::gen::arbitrary<std::string>();
    r.original_message = headers;
    const auto first = queue::make_dsn(r);
    RC_ASSERT(first.has_value());
    const std::string p1_text = first->message.to_string();
    const Parsed p1 = parse(p1_text);
    // Now put that boundary (and the next few candidates' shape) into the content.
    for (int copies = *rc::gen::inRange(1, 4); copies > 0; --copies) {
        headers.insert(*rc::gen::inRange<std::size_t>(0, headers.size() + 1), "\r\n--" + p1.boundary + "\r\n");
    }
    r.recipients[0].diagnostic += " --" + p1.boundary + "-- " + p1.boundary;
    r.original_message = headers;
    const auto second = queue::make_dsn(r);
    RC_ASSERT(second.has_value());
    const std::string m = second->message.to_string();
    const Parsed p2 = parse(m);
    RC_ASSERT(p2.boundary != p1.boundary);
    RC_ASSERT(p2.parts.size() == 3u);
    RC_ASSERT(count_of(m, p2.boundary) == 5u);  // Content-Type, three delimiters, the close
    RC_ASSERT(lines_ok(m));
    RC_ASSERT(seven_bit(p2.parts[0]));
    RC_ASSERT(seven_bit(p2.parts[1]));
}

RC_BOOST_PROP(lines_stay_within_998_octets_and_crlf, ()) {
    auto r = request({failed_bob()});
    const auto n = *rc::gen::inRange<std::size_t>(0, 3000);
    r.recipients[0].diagnostic = std::string(n, 'd') + *rc::gen::arbitrary<std::string>();
    const std::string headers = "X-Long: " + std::string(*rc::gen::inRange<std::size_t>(0, 3000), 'h') + "\n" +
                                *rc::gen::arbitrary<std::string>() + "\r";
    r.original_message = headers;
    r.reporting_mta = *rc::gen::arbitrary<std::string>();
    r.queue_id = *rc::gen::arbitrary<std::string>();
    const auto dsn = queue::make_dsn(r);
    RC_ASSERT(dsn.has_value());
    RC_ASSERT(lines_ok(dsn->message.to_string()));
    const std::string p_text = dsn->message.to_string();
    const Parsed p = parse(p_text);
    RC_ASSERT(seven_bit(p.parts[0]));
    RC_ASSERT(seven_bit(p.parts[1]));
}

BOOST_AUTO_TEST_SUITE_END()
