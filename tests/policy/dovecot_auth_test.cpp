// Tests for policy/dovecot_auth.hpp: Dovecot's auth client protocol, sans-I/O (handshake,
// AUTH encoding, OK/FAIL/CONT decoding, tab-escaping, the framing limits).
#include "policy/dovecot_auth.hpp"

#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include <string>
#include <vector>

#include "core/base64.hpp"

namespace dovecot = pigeon::policy::dovecot;
using Status = dovecot::Decoder::Status;

namespace {

// Dovecot 2.3.19's handshake as seen on the auth-client socket here (SPID/CUID/COOKIE values
// shortened).
const std::string handshake =
    "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nSPID\t4242\nCUID\t7\n"
    "COOKIE\t0123456789abcdef0123456789abcdef\nDONE\n";

// Feeds everything; returns the results that were not need_more (stops at the first error).
std::vector<dovecot::Decoder::Result> feed(dovecot::Decoder& d, std::string_view bytes) {
    std::vector<dovecot::Decoder::Result> out;
    while (!bytes.empty()) {
        auto r = d.put(bytes);
        if (r.status != Status::need_more) out.push_back(r);
        if (r.status == Status::error) break;
        bytes.remove_prefix(r.used);
    }
    return out;
}

dovecot::Decoder ready_decoder() {
    dovecot::Decoder d;
    auto results = feed(d, handshake);
    BOOST_REQUIRE_EQUAL(results.size(), 1u);
    BOOST_REQUIRE(results[0].status == Status::handshake_done);
    return d;
}

std::string error_of(std::string_view bytes, bool after_handshake = true) {
    dovecot::Decoder d = after_handshake ? ready_decoder() : dovecot::Decoder();
    auto results = feed(d, bytes);
    if (results.empty() || results.back().status != Status::error) return {};
    return results.back().error;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dovecot_auth)

BOOST_AUTO_TEST_CASE(client_handshake_is_version_1_2_and_cpid) {
    BOOST_TEST(dovecot::client_handshake(1234) == "VERSION\t1\t2\nCPID\t1234\n");
}

BOOST_AUTO_TEST_CASE(server_handshake_gives_the_mechanisms_then_done) {
    dovecot::Decoder d;
    BOOST_TEST(!d.ready());
    auto results = feed(d, handshake);
    BOOST_REQUIRE_EQUAL(results.size(), 1u);
    BOOST_TEST((results[0].status == Status::handshake_done));
    BOOST_TEST(d.ready());
    BOOST_TEST(d.handshake().major == 1u);
    BOOST_TEST(d.handshake().minor == 2u);
    BOOST_TEST(d.handshake().offers("PLAIN"));
    BOOST_TEST(d.handshake().offers("LOGIN"));
    BOOST_TEST(!d.handshake().offers("CRAM-MD5"));
}

BOOST_AUTO_TEST_CASE(handshake_split_at_every_byte_gives_the_same_result) {
    const std::string bytes = handshake + "OK\t1\tuser=bob@test.example\n";
    for (std::size_t split = 0; split <= bytes.size(); ++split) {
        dovecot::Decoder d;
        auto first = feed(d, std::string_view(bytes).substr(0, split));
        auto second = feed(d, std::string_view(bytes).substr(split));
        first.insert(first.end(), second.begin(), second.end());
        BOOST_REQUIRE_EQUAL(first.size(), 2u);
        BOOST_TEST((first[0].status == Status::handshake_done));
        BOOST_TEST((first[1].status == Status::answer));
        BOOST_TEST(first[1].answer.user == "bob@test.example");
    }
}

BOOST_AUTO_TEST_CASE(auth_request_is_plain_with_base64_resp_and_the_session_fields) {
    dovecot::AuthRequest r;
    r.id = 7;
    r.authcid = "bob@test.example";
    r.password = "secret";
    r.secured = true;
    r.remote_ip = "192.0.2.1";
    const std::string line = dovecot::auth_request(r);
    BOOST_TEST(line == "AUTH\t7\tPLAIN\tservice=smtp\tsecured\tnologin\trip=192.0.2.1\tresp=" +
                           pigeon::core::base64_encode(std::string("\0bob@test.example\0secret", 24)) + "\n");
    r.secured = false;
    r.remote_ip.clear();
    BOOST_TEST(dovecot::auth_request(r).find("secured") == std::string::npos);
    BOOST_TEST(dovecot::auth_request(r).find("rip=") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_user_name_with_tab_or_newline_stays_inside_resp) {
    dovecot::AuthRequest r;
    r.id = 1;
    r.authcid = "bob\tuser=admin\nAUTH\t2";
    r.password = "pw\n";
    const std::string line = dovecot::auth_request(r);
    BOOST_TEST(line.find('\n') == line.size() - 1);  // one line
    BOOST_TEST(line.find("user=") == std::string::npos);
    std::size_t tabs = 0;
    for (char c : line) tabs += c == '\t';
    BOOST_TEST(tabs == 5u);  // id, PLAIN, service, nologin, resp
}

BOOST_AUTO_TEST_CASE(ok_gives_the_user_and_ignores_unknown_parameters) {
    dovecot::Decoder d = ready_decoder();
    auto results = feed(d, "OK\t3\tuser=alice@test.example\toriginal_user=Alice\tsomeflag\n");
    BOOST_REQUIRE_EQUAL(results.size(), 1u);
    BOOST_TEST((results[0].answer.kind == dovecot::Answer::Kind::ok));
    BOOST_TEST(results[0].answer.id == 3u);
    BOOST_TEST(results[0].answer.user == "alice@test.example");
}

BOOST_AUTO_TEST_CASE(fail_is_permanent_unless_temp) {
    dovecot::Decoder d = ready_decoder();
    auto results = feed(d, "FAIL\t4\tuser=bob\nFAIL\t5\ttemp\nFAIL\t6\tcode=temp_fail\treason=db\001tdown\n");
    BOOST_REQUIRE_EQUAL(results.size(), 3u);
    BOOST_TEST((results[0].answer.kind == dovecot::Answer::Kind::fail));
    BOOST_TEST(!results[0].answer.temporary);
    BOOST_TEST(results[0].answer.user == "bob");
    BOOST_TEST(results[1].answer.temporary);
    BOOST_TEST(results[2].answer.temporary);
    BOOST_TEST(results[2].answer.reason == "db\tdown");
}

BOOST_AUTO_TEST_CASE(cont_carries_its_data) {
    dovecot::Decoder d = ready_decoder();
    auto results = feed(d, "CONT\t9\tUGFzc3dvcmQ6\n");
    BOOST_REQUIRE_EQUAL(results.size(), 1u);
    BOOST_TEST((results[0].answer.kind == dovecot::Answer::Kind::cont));
    BOOST_TEST(results[0].answer.data == "UGFzc3dvcmQ6");
}

BOOST_AUTO_TEST_CASE(tab_escaping_follows_dovecot) {
    BOOST_TEST(dovecot::tab_escape(std::string("a\tb\nc\rd\001e\0f", 11)) ==
               std::string("a\001tb\001nc\001rd\0011e\0010f", 16));
    BOOST_TEST(dovecot::tab_unescape("x\001t\001n\001r\0011\0010") == std::string("x\t\n\r\001\0", 6));
    BOOST_TEST(dovecot::tab_unescape("\001z") == "z");      // anything else: itself
    BOOST_TEST(dovecot::tab_unescape("end\001") == "end\001");  // a lone escape at the end
}

RC_BOOST_PROP(tab_escape_round_trips_and_leaves_no_separator, (const std::string& value)) {
    const std::string escaped = dovecot::tab_escape(value);
    RC_ASSERT(dovecot::tab_unescape(escaped) == value);
    for (char c : escaped) RC_ASSERT(c != '\t' && c != '\n' && c != '\r' && c != '\0');
}

RC_BOOST_PROP(an_escaped_user_comes_back_from_ok, (const std::string& tail)) {
    std::string user = "u" + tail;
    bool usable = user.size() <= dovecot::max_user_octets;
    for (char c : user) usable = usable && static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
    dovecot::Decoder d = ready_decoder();
    auto results = feed(d, "OK\t1\tuser=" + dovecot::tab_escape(user) + "\n");
    RC_ASSERT(results.size() == 1u);
    if (usable) {
        RC_ASSERT(results[0].status == Status::answer);
        RC_ASSERT(results[0].answer.user == user);
    } else {
        RC_ASSERT(results[0].status == Status::error);
    }
}

BOOST_AUTO_TEST_CASE(ids_are_decimal_from_1_to_2_pow_32_minus_1) {
    BOOST_TEST(dovecot::parse_id("1").value() == 1u);
    BOOST_TEST(dovecot::parse_id("4294967295").value() == 4294967295u);
    BOOST_TEST(!dovecot::parse_id("0"));
    BOOST_TEST(!dovecot::parse_id("4294967296"));
    BOOST_TEST(!dovecot::parse_id("01"));
    BOOST_TEST(!dovecot::parse_id("1a"));
    BOOST_TEST(!dovecot::parse_id("-1"));
    BOOST_TEST(!dovecot::parse_id(""));
    BOOST_TEST(!dovecot::parse_id("99999999999"));
}

BOOST_AUTO_TEST_CASE(bad_ids_are_protocol_errors) {
    BOOST_TEST(error_of("OK\tx\tuser=bob\n").find("bad id") != std::string::npos);
    BOOST_TEST(error_of("FAIL\t0\n").find("bad id") != std::string::npos);
    BOOST_TEST(error_of("OK\n").find("without an id") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(ok_without_a_usable_user_is_a_protocol_error) {
    BOOST_TEST(!error_of("OK\t1\n").empty());
    BOOST_TEST(!error_of("OK\t1\tuser=\n").empty());
    BOOST_TEST(!error_of("OK\t1\tuser=bob\001nRCPT\n").empty());  // an escaped LF in the name
    BOOST_TEST(!error_of("OK\t1\tuser=bob smith\n").empty());
    BOOST_TEST(!error_of("OK\t1\tuser=" + std::string(256, 'a') + "\n").empty());
}

BOOST_AUTO_TEST_CASE(unknown_commands_are_protocol_errors) {
    BOOST_TEST(error_of("NOTFOUND\t1\n").find("unknown command") != std::string::npos);
    BOOST_TEST(error_of("VERSION\t1\t2\nHELLO\n", false).find("unknown command") != std::string::npos);
    BOOST_TEST(error_of("MECH\tPLAIN\n").find("unknown command") != std::string::npos);  // after DONE
}

BOOST_AUTO_TEST_CASE(a_missing_or_foreign_handshake_is_a_protocol_error) {
    BOOST_TEST(error_of("OK\t1\tuser=bob\n", false).find("did not start with VERSION") != std::string::npos);
    BOOST_TEST(error_of("VERSION\t2\t0\n", false).find("version 2") != std::string::npos);
    BOOST_TEST(error_of("VERSION\t1\n", false).find("without major and minor") != std::string::npos);
    BOOST_TEST(error_of("VERSION\tone\ttwo\n", false).find("not numeric") != std::string::npos);
    BOOST_TEST(error_of("VERSION\t1\t2\nOK\t1\tuser=bob\n", false).find("before the handshake") != std::string::npos);
    BOOST_TEST(!error_of("VERSION\t1\t2\nMECH\n", false).empty());
}

BOOST_AUTO_TEST_CASE(overlong_lines_are_refused_with_and_without_their_newline) {
    const std::string limit(dovecot::max_line_octets, 'a');
    BOOST_TEST(error_of("FAIL\t1\treason=" + limit).find("longer than 16384") != std::string::npos);
    BOOST_TEST(error_of("FAIL\t1\treason=" + limit + "\n").find("longer than 16384") != std::string::npos);
    // exactly the limit (without its LF) is taken
    const std::string line = "FAIL\t1\treason=" + std::string(dovecot::max_line_octets - 14, 'a');
    BOOST_REQUIRE_EQUAL(line.size(), dovecot::max_line_octets);
    dovecot::Decoder d = ready_decoder();
    auto results = feed(d, line + "\n");
    BOOST_REQUIRE_EQUAL(results.size(), 1u);
    BOOST_TEST((results[0].status == Status::answer));
}

BOOST_AUTO_TEST_CASE(after_an_error_every_call_gives_the_error) {
    dovecot::Decoder d;
    auto r = d.put("BOGUS\n");
    BOOST_TEST((r.status == Status::error));
    auto again = d.put("VERSION\t1\t2\n");
    BOOST_TEST((again.status == Status::error));
    BOOST_TEST(again.error == r.error);
}

BOOST_AUTO_TEST_CASE(errors_quote_at_most_64_printable_octets) {
    const std::string e = error_of(std::string("\x1b[31m") + std::string(200, 'X') + "\n", false);
    BOOST_TEST(e.find('\x1b') == std::string::npos);
    BOOST_TEST(e.size() < 140u);
}

BOOST_AUTO_TEST_SUITE_END()
