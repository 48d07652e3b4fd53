// Tests for app/log.hpp: what the server's log writes for hostile text (issue 13, item 5).
#include "app/log.hpp"

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
