// Tests for app/log.hpp: what the server's log writes for hostile text (issue 13, item 5).
#include "app/log.hpp"
#include "app/log_format.hpp"

#include <rapidcheck/boost_test.h>

#include <boost/test/unit_test.hpp>
#include <optional>
#include <string>

namespace app = pigeon::app;
using namespace std::string_literals;

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// The inverse of the escaping as its contract states it, or nullopt for text the escaper
// could not have written (an unknown escape, a bad \x, a raw control character).
std::optional<std::string> unescape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) return std::nullopt;
        if (c != '\\') {
            out += s[i];
            continue;
        }
        if (++i >= s.size()) return std::nullopt;
        switch (s[i]) {
            case 'r': out += '\r'; break;
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case '\\': out += '\\'; break;
            case 'x': {
                if (i + 2 >= s.size()) return std::nullopt;  // two hex digits must follow
                const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
                if (hi < 0 || lo < 0) return std::nullopt;
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                break;
            }
            default: return std::nullopt;
        }
    }
    return out;
}

bool has_raw_control(const std::string& s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
    return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(log_text)

BOOST_AUTO_TEST_CASE(plain_text_and_printable_utf8_are_unchanged) {
    for (const std::string& s :
         {""s, "c3 state: Greeted -> CheckingSender"s, "c1 S: 250 2.0.0 Ok: queued as Q1"s,
          "DMARC pass for b\xc3\xbc" "cher.example"s,  // U-label: bücher
          "\xe2\x82\xac 1 \xf0\x9f\x90\xa6 \xe4\xb8\xad"s,  // euro sign, bird, CJK
          "\xc2\xa0 \xef\xbf\xbd \xf4\x8f\xbf\xbf"s}) {     // U+00A0, U+FFFD, U+10FFFF
        BOOST_TEST(app::escape_log_text(s) == s);
    }
}

BOOST_AUTO_TEST_CASE(line_breaks_and_controls_are_escaped) {
    BOOST_TEST(app::escape_log_text("a\r\nb") == "a\\r\\nb");
    BOOST_TEST(app::escape_log_text("tab\there") == "tab\\there");
    BOOST_TEST(app::escape_log_text("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m");
    BOOST_TEST(app::escape_log_text("nul\0end"s) == "nul\\x00end");
    BOOST_TEST(app::escape_log_text("\x01\x07\x08\x0b\x0c\x1f\x7f") ==
               "\\x01\\x07\\x08\\x0b\\x0c\\x1f\\x7f");
    BOOST_TEST(app::escape_log_text("back\\slash") == "back\\\\slash");
    // A forged entry stays inside the line that quotes it.
    const std::string forged =
        "c1 SPF permerror (term \"x\r\n2026-01-01T00:00:00Z info c9 AUTH succeeded for root\")";
    const std::string out = app::escape_log_text(forged);
    BOOST_TEST(out.find('\n') == std::string::npos);
    BOOST_TEST(out == "c1 SPF permerror (term \"x\\r\\n2026-01-01T00:00:00Z info c9 AUTH "
                      "succeeded for root\")");
}

BOOST_AUTO_TEST_CASE(malformed_utf8_is_escaped_byte_by_byte) {
    BOOST_TEST(app::escape_log_text("\x80") == "\\x80");                  // stray continuation
    BOOST_TEST(app::escape_log_text("\xc3") == "\\xc3");                  // cut off
    BOOST_TEST(app::escape_log_text("\xc3x") == "\\xc3x");                // continuation missing
    BOOST_TEST(app::escape_log_text("\xe2\x82") == "\\xe2\\x82");         // cut off in three
    BOOST_TEST(app::escape_log_text("\xc0\xaf") == "\\xc0\\xaf");         // overlong '/'
    BOOST_TEST(app::escape_log_text("\xe0\x80\xaf") == "\\xe0\\x80\\xaf");  // overlong, 3 bytes
    BOOST_TEST(app::escape_log_text("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // surrogate D800
    BOOST_TEST(app::escape_log_text("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // > U+10FFFF
    BOOST_TEST(app::escape_log_text("\xff\xfe") == "\\xff\\xfe");
    // After a bad byte the next good sequence is kept.
    BOOST_TEST(app::escape_log_text("\xc3\xc3\xa9") == "\\xc3\xc3\xa9");
}

BOOST_AUTO_TEST_CASE(c1_controls_and_line_or_direction_changers_are_escaped) {
    BOOST_TEST(app::escape_log_text("\xc2\x85") == "\\xc2\\x85");          // NEL
    BOOST_TEST(app::escape_log_text("\xc2\x9b" "2J") == "\\xc2\\x9b2J");   // CSI
    BOOST_TEST(app::escape_log_text("\xe2\x80\xa8") == "\\xe2\\x80\\xa8");  // LINE SEPARATOR
    BOOST_TEST(app::escape_log_text("\xe2\x80\xa9") == "\\xe2\\x80\\xa9");  // PARAGRAPH SEPARATOR
    BOOST_TEST(app::escape_log_text("\xe2\x80\xae") == "\\xe2\\x80\\xae");  // RIGHT-TO-LEFT OVERRIDE
    BOOST_TEST(app::escape_log_text("\xe2\x81\xa6") == "\\xe2\\x81\\xa6");  // LEFT-TO-RIGHT ISOLATE
    BOOST_TEST(app::escape_log_text("\xe2\x80\x94") == "\xe2\x80\x94");     // EM DASH stays
}

BOOST_AUTO_TEST_CASE(append_keeps_what_was_there) {
    std::string line = "2026-01-01T00:00:00Z info ";
    app::append_log_text(line, "a\nb");
    BOOST_TEST(line == "2026-01-01T00:00:00Z info a\\nb");
}

BOOST_AUTO_TEST_CASE(the_test_unescaper_rejects_what_the_escaper_never_writes) {
    // So that the round-trip property below can fail.
    BOOST_TEST(!unescape("a\nb").has_value());
    BOOST_TEST(!unescape("\\q").has_value());
    BOOST_TEST(!unescape("\\x4").has_value());
    BOOST_TEST(!unescape("trailing\\").has_value());
    BOOST_TEST(unescape("\\x41\\\\").value_or("(none)") == "A\\");
}

// Any bytes at all: the output has no control character and unescapes to the input.
RC_BOOST_PROP(escaped_text_has_no_controls_and_round_trips, (const std::string& text)) {
    const std::string out = app::escape_log_text(text);
    RC_ASSERT(!has_raw_control(out));
    const auto back = unescape(out);
    RC_ASSERT(back.has_value());
    RC_ASSERT(*back == text);
}

// Same over text made mostly of the interesting bytes (controls, UTF-8 lead and continuation
// bytes), which arbitrary strings rarely combine into sequences.
RC_BOOST_PROP(escaped_utf8_ish_text_round_trips, ()) {
    const auto bytes = *rc::gen::container<std::string>(rc::gen::elementOf(std::string(
        "\r\n\t\x1b\x7f\\a \x80\x85\x9b\xa0\xa8\xae\xbf\xc2\xc3\xe0\xe2\xed\xf0\xf4\xff")));
    const std::string out = app::escape_log_text(bytes);
    RC_ASSERT(!has_raw_control(out));
    const auto back = unescape(out);
    RC_ASSERT(back.has_value());
    RC_ASSERT(*back == bytes);
}

BOOST_AUTO_TEST_SUITE_END()

// app/log_format.hpp: the operator's lines, as Postfix writes them and as JSON.
BOOST_AUTO_TEST_SUITE(log_format)

namespace core = pigeon::core;
using app::LineFormat;

const app::LineHead head{"2026-11-22T05:40:00Z", core::LogLevel::info, "smtpd", 4242};

std::string text_line(const core::MailEvent& e) {
    std::string out;
    app::append_event_line(out, LineFormat::text, head, e);
    return out;
}
std::string json_line(const core::MailEvent& e) {
    std::string out;
    app::append_event_line(out, LineFormat::json, head, e);
    return out;
}

core::RecipientDelivery sent() {
    core::RecipientDelivery d;
    d.service = core::MailService::smtp;
    d.queue_id = "01ABCDEFGH000001";
    d.to = "carol@example.org";
    d.relay = "mx.example.org[192.0.2.7]:25";
    d.delay = 7;
    d.delay_before = 3;
    d.delay_setup = 1;
    d.delay_transmission = 3;
    d.dsn = "2.0.0";
    d.status = core::RecipientDelivery::Status::sent;
    d.detail = "250 2.0.0 OK id=1";
    return d;
}

BOOST_AUTO_TEST_CASE(every_event_as_postfix_writes_it) {
    BOOST_TEST(text_line(core::ClientConnected{core::MailService::smtpd, "192.0.2.1", false}) ==
               "2026-11-22T05:40:00Z info pigeon/smtpd[4242]: connect from unknown[192.0.2.1]");
    BOOST_TEST(text_line(core::ClientConnected{core::MailService::submission, "2001:db8::1", true}) ==
               "2026-11-22T05:40:00Z info pigeon/submission/smtpd[4242]: disconnect from unknown[2001:db8::1]");
    BOOST_TEST(text_line(core::MessageReceived{core::MailService::submission, "01ABCDEFGH000001",
                                               "192.0.2.1", "alice@example.org"}) ==
               "2026-11-22T05:40:00Z info pigeon/submission/smtpd[4242]: 01ABCDEFGH000001: "
               "client=unknown[192.0.2.1], sasl_username=alice@example.org");
    BOOST_TEST(text_line(core::MessageReceived{core::MailService::smtpd, "01ABCDEFGH000001", "192.0.2.1", ""}) ==
               "2026-11-22T05:40:00Z info pigeon/smtpd[4242]: 01ABCDEFGH000001: client=unknown[192.0.2.1]");
    BOOST_TEST(text_line(core::MessagePickedUp{"01ABCDEFGH000001", 1000, "alice@example.org"}) ==
               "2026-11-22T05:40:00Z info pigeon/pickup[4242]: 01ABCDEFGH000001: uid=1000 "
               "from=<alice@example.org>");
    BOOST_TEST(text_line(core::MessageQueued{"01ABCDEFGH000001", "", 1024, 2}) ==
               "2026-11-22T05:40:00Z info pigeon/qmgr[4242]: 01ABCDEFGH000001: from=<>, size=1024, "
               "nrcpt=2 (queue active)");
    BOOST_TEST(text_line(sent()) ==
               "2026-11-22T05:40:00Z info pigeon/smtp[4242]: 01ABCDEFGH000001: to=<carol@example.org>, "
               "relay=mx.example.org[192.0.2.7]:25, delay=7, delays=3/0/1/3, dsn=2.0.0, status=sent "
               "(250 2.0.0 OK id=1)");
    BOOST_TEST(text_line(core::MessageRemoved{"01ABCDEFGH000001"}) ==
               "2026-11-22T05:40:00Z info pigeon/qmgr[4242]: 01ABCDEFGH000001: removed");
    BOOST_TEST(text_line(core::Refused{core::MailService::smtpd, "RCPT", "192.0.2.1",
                                       "550 5.1.1 no such user", "a@b.example", "c@d.example", true,
                                       "client.test"}) ==
               "2026-11-22T05:40:00Z info pigeon/smtpd[4242]: NOQUEUE: reject: RCPT from "
               "unknown[192.0.2.1]: 550 5.1.1 no such user; from=<a@b.example> to=<c@d.example> "
               "proto=ESMTP helo=<client.test>");
    BOOST_TEST(text_line(core::Refused{core::MailService::smtpd, "MAIL", "192.0.2.1",
                                       "452 4.3.1 full", "", "", false, "x"}) ==
               "2026-11-22T05:40:00Z info pigeon/smtpd[4242]: NOQUEUE: reject: MAIL from "
               "unknown[192.0.2.1]: 452 4.3.1 full; from=<> proto=SMTP helo=<x>");
}

BOOST_AUTO_TEST_CASE(statuses_deferred_and_bounced) {
    auto d = sent();
    d.status = core::RecipientDelivery::Status::deferred;
    d.dsn = "4.4.1";
    d.relay = "none";
    d.detail = "451 4.4.1 connection refused";
    BOOST_TEST(app::event_text(d) ==
               "01ABCDEFGH000001: to=<carol@example.org>, relay=none, delay=7, delays=3/0/1/3, "
               "dsn=4.4.1, status=deferred (451 4.4.1 connection refused)");
    d.status = core::RecipientDelivery::Status::bounced;
    BOOST_TEST(app::event_text(d).find("status=bounced (") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(free_text_lines_carry_the_tag_and_postfix_level_words) {
    std::string out;
    app::append_line(out, LineFormat::text, head, "ready");
    BOOST_TEST(out == "2026-11-22T05:40:00Z info pigeon/smtpd[4242]: ready");
    out.clear();
    app::LineHead warn = head;
    warn.level = core::LogLevel::warn;
    app::append_line(out, LineFormat::text, warn, "disk low");
    BOOST_TEST(out == "2026-11-22T05:40:00Z warn pigeon/smtpd[4242]: warning: disk low");
    out.clear();
    app::append_line(out, LineFormat::text, warn, "disk low", false);  // syslog: no head
    BOOST_TEST(out == "warning: disk low");
}

BOOST_AUTO_TEST_CASE(json_lines_carry_every_field) {
    BOOST_TEST(json_line(sent()) ==
               R"({"ts":"2026-11-22T05:40:00Z","level":"info","service":"smtp","pid":4242,)"
               R"("event":"delivery","queue_id":"01ABCDEFGH000001","to":"carol@example.org",)"
               R"("relay":"mx.example.org[192.0.2.7]:25","delay":7,"delays":"3/0/1/3","dsn":"2.0.0",)"
               R"("status":"sent","detail":"250 2.0.0 OK id=1"})");
    BOOST_TEST(json_line(core::MessageQueued{"Q1", "a@b", 5, 1}) ==
               R"({"ts":"2026-11-22T05:40:00Z","level":"info","service":"qmgr","pid":4242,)"
               R"("event":"queued","queue_id":"Q1","from":"a@b","size":5,"nrcpt":1})");
    BOOST_TEST(json_line(core::MessagePickedUp{"Q1", 1000, "a@b"}) ==
               R"({"ts":"2026-11-22T05:40:00Z","level":"info","service":"pickup","pid":4242,)"
               R"("event":"pickup","queue_id":"Q1","uid":1000,"from":"a@b"})");
    BOOST_TEST(json_line(core::MessageReceived{core::MailService::smtpd, "Q1", "192.0.2.1", "bob"}) ==
               R"({"ts":"2026-11-22T05:40:00Z","level":"info","service":"smtpd","pid":4242,)"
               R"("event":"received","queue_id":"Q1","client_ip":"192.0.2.1","sasl_username":"bob"})");
    BOOST_TEST(json_line(core::Refused{core::MailService::smtpd, "RCPT", "192.0.2.1", "550 5.1.1 x",
                                       "a@b", "c@d", true, "h"}) ==
               R"({"ts":"2026-11-22T05:40:00Z","level":"info","service":"smtpd","pid":4242,)"
               R"("event":"reject","stage":"RCPT","client_ip":"192.0.2.1","reply":"550 5.1.1 x",)"
               R"("from":"a@b","to":"c@d","proto":"ESMTP","helo":"h"})");
    BOOST_TEST(json_line(core::MessageRemoved{"Q1"}).ends_with(R"("event":"removed","queue_id":"Q1"})"));
    BOOST_TEST(json_line(core::ClientConnected{core::MailService::smtpd, "::1", true})
                   .ends_with(R"("event":"disconnect","client_ip":"::1"})"));
    std::string out;
    app::append_line(out, LineFormat::json, head, "ready");
    BOOST_TEST(out == R"({"ts":"2026-11-22T05:40:00Z","level":"info","service":"smtpd","pid":4242,"msg":"ready"})");
}

BOOST_AUTO_TEST_CASE(hostile_text_is_escaped_in_both_formats) {
    // A HELO with CR LF, a quote, a backslash and a byte that is not UTF-8.
    const std::string helo = "evil\r\n2026-01-01T00:00:00Z info forged \"q\" \\ \xff";
    core::Refused r{core::MailService::smtpd, "RCPT", "192.0.2.1", "550 5.1.1 x", "a@b", "c@d", true, helo};
    const std::string text = text_line(r);
    BOOST_TEST(text.find('\n') == std::string::npos);
    BOOST_TEST(text.find('\r') == std::string::npos);
    BOOST_TEST(text.ends_with(R"(helo=<evil\r\n2026-01-01T00:00:00Z info forged "q" \\ \xff>)"));
    const std::string json = json_line(r);
    BOOST_TEST(json.find('\n') == std::string::npos);
    // The log's escapes, then JSON's: \r becomes \\r, " becomes \", \ becomes \\\\.
    BOOST_TEST(json.ends_with(R"("helo":"evil\\r\\n2026-01-01T00:00:00Z info forged \"q\" \\\\ \\xff"})"));
}

RC_BOOST_PROP(json_strings_are_quoted_without_raw_controls_quotes_or_lone_backslashes,
              (const std::string& text)) {
    std::string out;
    app::append_json_string(out, text);
    RC_ASSERT(out.size() >= 2u);
    RC_ASSERT(out.front() == '"');
    RC_ASSERT(out.back() == '"');
    for (std::size_t i = 1; i + 1 < out.size(); ++i) {
        const auto c = static_cast<unsigned char>(out[i]);
        RC_ASSERT(c >= 0x20u);
        RC_ASSERT(c != 0x7fu);
        if (c == '"') RC_FAIL("an unescaped quote");
        if (c == '\\') {
            ++i;  // an escape: \" or \\ only
            RC_ASSERT(i + 1 < out.size());
            RC_ASSERT(out[i] == '"' || out[i] == '\\');
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
