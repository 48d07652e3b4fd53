// Tests for smtp/command.hpp: the strict RFC 5321 command parser and its formatter.
#include "smtp/command.hpp"

#include <rapidcheck/boost_test.h>

#include <cctype>
#include <limits>
#include <string>
#include <vector>

// Lets BOOST_TEST print the optional fields of commands when a comparison fails.
namespace boost::test_tools::tt_detail {
template <class T>
struct print_log_value<std::optional<T>> {
    void operator()(std::ostream& os, const std::optional<T>& v) {
        if (v) os << *v;
        else os << "nullopt";
    }
};
}  // namespace boost::test_tools::tt_detail

using namespace pigeon::smtp;
using pigeon::core::BodyType;
using pigeon::core::Domain;
using pigeon::core::Mailbox;
using pigeon::core::Path;
using pigeon::core::Reply;

namespace {

// The command a line must parse to; fails the test case (not just a check) otherwise.
template <class T>
T parsed(std::string_view line, CommandSyntax syntax = {}) {
    const ParsedCommand p = parse_command(line, syntax);
    BOOST_TEST_INFO("line: " << line);
    BOOST_TEST_REQUIRE(std::holds_alternative<Command>(p));
    const Command& c = std::get<Command>(p);
    BOOST_TEST_INFO("line: " << line);
    BOOST_TEST_REQUIRE(std::holds_alternative<T>(c));
    return std::get<T>(c);
}

std::string describe(const Reply& r) {
    std::string s = std::to_string(r.code);
    if (r.enhanced) s += " " + r.enhanced->to_string();
    for (const auto& l : r.lines) s += " " + l;
    return s;
}

// Checks that the line gets exactly this one-line reply.
void expect_reply(std::string_view line, int code, std::string_view enhanced, std::string_view text,
                  CommandSyntax syntax = {}) {
    const ParsedCommand p = parse_command(line, syntax);
    BOOST_TEST_INFO("line: " << line);
    BOOST_TEST_REQUIRE(std::holds_alternative<Reply>(p));
    const Reply& r = std::get<Reply>(p);
    const std::string expected = std::to_string(code) + " " + std::string(enhanced) + " " + std::string(text);
    BOOST_TEST(describe(r) == expected);
}

// Checks only the code and enhanced status (for the many syntax cases whose usage text is
// checked elsewhere).
void expect_code(std::string_view line, int code, std::string_view enhanced, CommandSyntax syntax = {}) {
    const ParsedCommand p = parse_command(line, syntax);
    BOOST_TEST_INFO("line: " << line);
    BOOST_TEST_REQUIRE(std::holds_alternative<Reply>(p));
    const Reply& r = std::get<Reply>(p);
    BOOST_TEST_INFO("line: " << line << " -> " << describe(r));
    BOOST_TEST(r.code == code);
    BOOST_TEST_REQUIRE(r.enhanced.has_value());
    BOOST_TEST(r.enhanced->to_string() == enhanced);
}

Domain domain(std::string_view text) { return *Domain::parse(text); }

const std::string utf8_mailbox = "<j\xC3\xB6rg@b\xC3\xBC" "cher.example>";  // <jörg@bücher.example>

// ---- generators of valid commands ----------------------------------------------------------

const std::string alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const std::string atext = alnum + "!#$%&'*+-/=?^_`{|}~";
const std::vector<std::string> utf8_chars = {"\xC3\xA9", "\xE6\x97\xA5", "\xF0\x9F\x93\xA7"};

rc::Gen<std::string> gen_chars(const std::string& set, int min, int max) {
    return rc::gen::exec([set, min, max] {
        const int n = *rc::gen::inRange(min, max + 1);
        std::string s;
        for (int i = 0; i < n; ++i) s += *rc::gen::elementOf(set);
        return s;
    });
}

rc::Gen<Domain> gen_domain_name(bool utf8) {
    return rc::gen::exec([utf8] {
        const int n = *rc::gen::inRange(1, 5);
        std::string d;
        for (int i = 0; i < n; ++i) {
            std::string label = *gen_chars(alnum, 1, 12);
            if (utf8 && *rc::gen::inRange(0, 3) == 0) label += *rc::gen::elementOf(utf8_chars);
            d += (d.empty() ? "" : ".") + label;
        }
        return *Domain::parse(d, {true, utf8});
    });
}

rc::Gen<Domain> gen_domain(bool utf8) {
    return rc::gen::weightedOneOf<Domain>(
        {{4, gen_domain_name(utf8)},
         {1, rc::gen::map(rc::gen::inRange(0, 256),
                          [](int n) { return *Domain::parse("[198.51.100." + std::to_string(n) + "]"); })},
         {1, rc::gen::map(gen_chars("0123456789abcdefABCDEF", 1, 4),
                          [](const std::string& h) { return *Domain::parse("[IPv6:2001:db8::" + h + "]"); })},
         {1, rc::gen::map(gen_chars(alnum + "!#$%&'()*+,-./:;<=>?@^_`{|}~", 1, 20),
                          [](const std::string& c) { return *Domain::parse("[x-tag:" + c + "]"); })}});
}

rc::Gen<std::string> gen_quoted_string(bool utf8) {
    return rc::gen::exec([utf8] {
        const int n = *rc::gen::inRange(0, 10);
        std::string s = "\"";
        for (int i = 0; i < n; ++i) {
            const int kind = *rc::gen::inRange(0, utf8 ? 3 : 2);
            if (kind == 0) {
                char c = static_cast<char>(*rc::gen::inRange(32, 127));
                s += (c == '"' || c == '\\') ? 'q' : c;
            } else if (kind == 1) {
                s += '\\';
                s += static_cast<char>(*rc::gen::inRange(32, 127));
            } else {
                s += *rc::gen::elementOf(utf8_chars);
            }
        }
        return s + "\"";
    });
}

rc::Gen<Mailbox> gen_mailbox(bool utf8) {
    return rc::gen::exec([utf8] {
        std::string local;
        if (*rc::gen::inRange(0, 4) == 0) {
            local = *gen_quoted_string(utf8);
        } else {
            const int atoms = *rc::gen::inRange(1, 4);
            for (int i = 0; i < atoms; ++i) {
                local += (i ? "." : "") + *gen_chars(atext, 1, 10);
                if (utf8 && *rc::gen::inRange(0, 3) == 0) local += *rc::gen::elementOf(utf8_chars);
            }
        }
        return Mailbox(local, *gen_domain(utf8));
    });
}

rc::Gen<Path> gen_path(bool utf8) {
    return rc::gen::map(gen_mailbox(utf8), [](Mailbox m) { return Path::of(std::move(m)); });
}

rc::Gen<std::string> gen_smtp_string() {
    return rc::gen::oneOf(gen_chars(atext, 1, 20), gen_quoted_string(false));
}

rc::Gen<Mail> gen_mail() {
    return rc::gen::exec([] {
        MailParams params;
        if (*rc::gen::arbitrary<bool>()) params.size = *rc::gen::arbitrary<std::uint64_t>();
        params.body = *rc::gen::elementOf(
            std::vector<BodyType>{BodyType::unspecified, BodyType::seven_bit, BodyType::eight_bit_mime});
        params.smtputf8 = *rc::gen::arbitrary<bool>();
        if (*rc::gen::arbitrary<bool>()) {
            params.auth = *rc::gen::oneOf(rc::gen::just(std::string("<>")),
                                          rc::gen::map(gen_chars(alnum + "@.-", 1, 30), [](std::string s) {
                                              return s + "+2B" + "+3D";
                                          }));
        }
        Path path = *rc::gen::arbitrary<bool>() ? Path::null_path() : *gen_path(params.smtputf8);
        return Mail{std::move(path), params};
    });
}

rc::Gen<Command> gen_command() {
    using rc::gen::just;
    using rc::gen::map;
    return rc::gen::oneOf(
        map(gen_domain_name(false), [](Domain d) -> Command { return Helo{std::move(d)}; }),
        map(gen_domain(false), [](Domain d) -> Command { return Ehlo{std::move(d)}; }),
        map(gen_mail(), [](Mail m) -> Command { return m; }),
        map(rc::gen::weightedOneOf<Path>({{1, just(Path::postmaster())}, {6, gen_path(true)}}),
            [](Path p) -> Command { return Rcpt{std::move(p)}; }),
        just<Command>(Data{}), just<Command>(Rset{}), just<Command>(Quit{}), just<Command>(StartTls{}),
        map(rc::gen::oneOf(just(std::string()), gen_smtp_string()), [](std::string s) -> Command { return Noop{s}; }),
        map(rc::gen::oneOf(just(std::string()), gen_smtp_string()), [](std::string s) -> Command { return Help{s}; }),
        map(gen_smtp_string(), [](std::string s) -> Command { return Vrfy{s}; }),
        map(gen_smtp_string(), [](std::string s) -> Command { return Expn{s}; }),
        rc::gen::exec([]() -> Command {
            Auth a{*gen_chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", 1, 20), std::nullopt};
            if (*rc::gen::arbitrary<bool>()) {
                const std::string b64 = alnum + "+/";
                std::string ir = *gen_chars(b64, 0, 40);
                ir.resize(ir.size() / 4 * 4);
                const int pad = *rc::gen::inRange(0, 3);
                if (ir.size() >= 4) ir.replace(ir.size() - pad, pad, std::string(pad, '='));
                a.initial_response = ir.empty() ? "=" : ir;
            }
            return a;
        }));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(command)

// ---- verbs and framing ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(verbs_are_case_insensitive) {
    parsed<Data>("DATA");
    parsed<Data>("data");
    parsed<Rset>("RsEt");
    parsed<Quit>("quit");
    parsed<StartTls>("StartTLS");
    BOOST_TEST(parsed<Helo>("helo example.com").domain.text() == "example.com");
}

BOOST_AUTO_TEST_CASE(unknown_verbs_and_the_empty_line_are_not_recognized) {
    for (const char* line : {"", " ", "FOO", "HELOX example.com", " HELO example.com", "MAI", "MAILFROM:<>",
                             "HELO\texample.com", "STARTTLSX", "TURN", "\xC3\xA9"}) {
        expect_reply(line, 500, "5.5.2", "Command not recognized");
    }
}

BOOST_AUTO_TEST_CASE(line_of_512_octets_with_crlf_is_accepted_and_513_rejected) {
    const std::string ok = "NOOP " + std::string(505, 'x');
    BOOST_TEST_REQUIRE(ok.size() + 2 == 512u);
    BOOST_TEST(parsed<Noop>(ok).text.size() == 505u);
    expect_reply(ok + "x", 500, "5.5.2", "Line too long");
    expect_reply(std::string(2000, 'x'), 500, "5.5.2", "Line too long");
}

BOOST_AUTO_TEST_CASE(auth_line_may_be_12288_octets_and_no_more) {
    const std::string prefix = "AUTH WXYZ ";
    const std::string ok = prefix + std::string(12286 - prefix.size(), 'Q');
    BOOST_TEST_REQUIRE(ok.size() + 2 == 12288u);
    BOOST_TEST(parsed<Auth>(ok).initial_response->size() == 12276u);
    expect_reply(ok + "QQQQ", 500, "5.5.6", "Authentication exchange line is too long");
    expect_reply("auth " + std::string(20000, 'A'), 500, "5.5.6", "Authentication exchange line is too long");
    // Past 512 octets an AUTH line is still judged on its syntax.
    parsed<Auth>("AUTH PLAIN " + std::string(600, 'A'));
}

BOOST_AUTO_TEST_CASE(cr_or_lf_inside_the_line_is_refused) {
    for (const char* line : {"NOOP\r", "NOOP\nQUIT", "\r", "\n", "MAIL FROM:<a@b.example>\rRCPT",
                                   "AUTH PLAIN\r\n", "FOO\rBAR"}) {
        expect_reply(line, 500, "5.5.2", "Bare CR or LF in command line");
    }
}

BOOST_AUTO_TEST_CASE(argumentless_verbs_refuse_any_argument) {
    expect_reply("DATA ", 501, "5.5.4", "Syntax: DATA");
    expect_reply("DATA x", 501, "5.5.4", "Syntax: DATA");
    expect_reply("RSET now", 501, "5.5.4", "Syntax: RSET");
    expect_reply("QUIT bye", 501, "5.5.4", "Syntax: QUIT");
    expect_reply("STARTTLS ", 501, "5.5.4", "Syntax: STARTTLS");
}

// ---- HELO, EHLO ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(helo_takes_a_domain_only) {
    BOOST_TEST(parsed<Helo>("HELO relay.example.org").domain.text() == "relay.example.org");
    for (const char* bad : {"HELO", "HELO ", "HELO [192.0.2.1]", "HELO a b", "HELO  a.example", "HELO a.example ",
                            "HELO exa_mple.com", "HELO example.com."}) {
        expect_code(bad, 501, "5.5.4");
    }
    expect_reply("HELO", 501, "5.5.4", "Syntax: HELO domain");
}

BOOST_AUTO_TEST_CASE(ehlo_takes_a_domain_or_address_literal) {
    BOOST_TEST(parsed<Ehlo>("EHLO mail.example.com").domain.text() == "mail.example.com");
    BOOST_TEST((parsed<Ehlo>("EHLO [192.0.2.1]").domain.kind() == Domain::Kind::ipv4_literal));
    BOOST_TEST((parsed<Ehlo>("ehlo [IPv6:2001:db8::1]").domain.kind() == Domain::Kind::ipv6_literal));
    for (const char* bad : {"EHLO", "EHLO ", "EHLO [300.0.0.1]", "EHLO a..b", "EHLO a.example x", "EHLO -a.example",
                            "EHLO b\xC3\xBC" "cher.example"}) {
        expect_code(bad, 501, "5.5.4");
    }
    expect_reply("EHLO", 501, "5.5.4", "Syntax: EHLO domain-or-address-literal");
}

// ---- MAIL ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(mail_from_parses_the_reverse_path) {
    const Mail m = parsed<Mail>("MAIL FROM:<Smith@bar.com>");
    BOOST_TEST(m.reverse_path.to_string() == "<Smith@bar.com>");
    BOOST_TEST((m.params == MailParams{}));
    BOOST_TEST(parsed<Mail>("mail from:<>").reverse_path.is_null());
    BOOST_TEST(parsed<Mail>("MaIl FrOm:<a@b.example>").reverse_path.mailbox.local_part() == "a");
    BOOST_TEST(parsed<Mail>("MAIL FROM:<\"John Doe\"@example.com>").reverse_path.mailbox.local_part() ==
               "\"John Doe\"");
    BOOST_TEST(parsed<Mail>("MAIL FROM:<\"a> b\"@example.com> SIZE=5").params.size == 5u);
    BOOST_TEST(parsed<Mail>("MAIL FROM:<user@[IPv6:2001:db8::1]>").reverse_path.mailbox.domain().is_literal());
    // A general address literal may hold ">" and '"': the path does not end inside it.
    BOOST_TEST(parsed<Mail>("MAIL FROM:<u@[x-tag:>\"]> SIZE=1").reverse_path.mailbox.domain().text() ==
               "[x-tag:>\"]");
}

BOOST_AUTO_TEST_CASE(mail_from_accepts_and_drops_a_source_route) {
    const Mail m = parsed<Mail>("MAIL FROM:<@hosta.int,@jkl.org:userc@d.bar.org>");
    BOOST_TEST(m.reverse_path.route.size() == 2u);
    BOOST_TEST(format_command(m) == "MAIL FROM:<userc@d.bar.org>");
}

BOOST_AUTO_TEST_CASE(space_after_the_colon_gets_its_own_syntax_reply) {
    expect_reply("MAIL FROM: <a@b.example>", 501, "5.5.4",
                 "Syntax: MAIL FROM:<address> (no space after the colon, RFC 5321 4.1.2)");
    expect_reply("RCPT TO: <a@b.example>", 501, "5.5.4",
                 "Syntax: RCPT TO:<address> (no space after the colon, RFC 5321 4.1.2)");
    expect_reply("mail from: <>", 501, "5.5.4",
                 "Syntax: MAIL FROM:<address> (no space after the colon, RFC 5321 4.1.2)");
}

BOOST_AUTO_TEST_CASE(malformed_mail_keyword_is_a_syntax_error) {
    for (const char* bad : {"MAIL", "MAIL ", "MAIL FROM :<a@b.example>", "MAIL  FROM:<a@b.example>",
                            "MAIL FROM<a@b.example>", "MAIL TO:<a@b.example>", "MAIL FROM:<a@b.example> ",
                            "MAIL FROM:<a@b.example>  SIZE=1", "MAIL FROM:<a@b.example>SIZE=1",
                            "MAIL FROM:<a@b.example> SIZE=1 ", "MAIL FROM:<> =1", "MAIL FROM:<> -X",
                            "MAIL FROM:<> X=", "MAIL FROM:<> X=a=b", "MAIL FROM:<> X=a\x01"}) {
        expect_code(bad, 501, "5.5.4");
    }
    expect_reply("MAIL FROM :<a@b.example>", 501, "5.5.4", "Syntax: MAIL FROM:<address>");
}

BOOST_AUTO_TEST_CASE(bad_sender_address_is_501_5_1_7) {
    for (const char* bad : {"MAIL FROM:a@b.example", "MAIL FROM:<a@b.example", "MAIL FROM:", "MAIL FROM:<a@@b.example>",
                            "MAIL FROM:<a b@c.example>", "MAIL FROM:<Postmaster>", "MAIL FROM:<a@b.example.>",
                            "MAIL FROM:<\"unterminated@b.example>", "MAIL FROM:<<a@b.example>>",
                            "MAIL FROM:<@a.example:>"}) {
        expect_reply(bad, 501, "5.1.7", "Bad sender address syntax");
    }
}

BOOST_AUTO_TEST_CASE(mail_path_of_256_octets_is_accepted_and_257_rejected) {
    const std::string l63(63, 'd');
    const std::string local(64, 'l');
    auto path_of = [&](std::size_t size) {
        std::string domain = l63 + "." + l63 + ".";
        domain += std::string(size - 67 - domain.size(), 'e');
        return "<" + local + "@" + domain + ">";
    };
    BOOST_TEST(parsed<Mail>("MAIL FROM:" + path_of(256)).reverse_path.to_string().size() == 256u);
    expect_reply("MAIL FROM:" + path_of(257), 501, "5.1.7", "Bad sender address syntax");
}

BOOST_AUTO_TEST_CASE(mail_parameters_are_parsed) {
    const Mail m = parsed<Mail>("MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME SMTPUTF8 AUTH=<>");
    BOOST_TEST(m.params.size == 1000u);
    BOOST_TEST((m.params.body == BodyType::eight_bit_mime));
    BOOST_TEST(m.params.smtputf8);
    BOOST_TEST(m.params.auth == "<>");
    const Mail lower = parsed<Mail>("MAIL FROM:<> size=0 body=7bit smtputf8 auth=joe+40example.com");
    BOOST_TEST(lower.params.size == 0u);
    BOOST_TEST((lower.params.body == BodyType::seven_bit));
    BOOST_TEST(lower.params.auth == "joe+40example.com");
    BOOST_TEST((parsed<Mail>("MAIL FROM:<> BODY=8bitMIME").params.body == BodyType::eight_bit_mime));
}

BOOST_AUTO_TEST_CASE(size_must_be_at_most_20_digits_and_fit_64_bits) {
    BOOST_TEST(parsed<Mail>("MAIL FROM:<> SIZE=18446744073709551615").params.size ==
               std::numeric_limits<std::uint64_t>::max());
    BOOST_TEST(parsed<Mail>("MAIL FROM:<> SIZE=00000000000000000001").params.size == 1u);  // 20 digits
    for (const char* bad : {"MAIL FROM:<> SIZE=18446744073709551616", "MAIL FROM:<> SIZE=000000000000000000001",
                            "MAIL FROM:<> SIZE=", "MAIL FROM:<> SIZE", "MAIL FROM:<> SIZE=-1", "MAIL FROM:<> SIZE=1k",
                            "MAIL FROM:<> SIZE=99999999999999999999"}) {
        expect_code(bad, 501, "5.5.4");
    }
    expect_reply("MAIL FROM:<> SIZE=x", 501, "5.5.4", "Syntax: SIZE=<number of octets>");
}

BOOST_AUTO_TEST_CASE(body_must_be_7bit_or_8bitmime) {
    expect_reply("MAIL FROM:<> BODY=BINARYMIME", 501, "5.5.4", "Syntax: BODY=7BIT or BODY=8BITMIME");
    expect_code("MAIL FROM:<> BODY", 501, "5.5.4");
    expect_code("MAIL FROM:<> BODY=8BIT", 501, "5.5.4");
}

BOOST_AUTO_TEST_CASE(smtputf8_takes_no_value_and_auth_needs_xtext) {
    expect_reply("MAIL FROM:<> SMTPUTF8=yes", 501, "5.5.4", "Syntax: SMTPUTF8 takes no value");
    for (const char* bad : {"MAIL FROM:<> AUTH", "MAIL FROM:<> AUTH=", "MAIL FROM:<> AUTH=a+4", "MAIL FROM:<> AUTH=a+zz",
                            "MAIL FROM:<> AUTH=a+2b"}) {
        expect_code(bad, 501, "5.5.4");
    }
    BOOST_TEST(parsed<Mail>("MAIL FROM:<> AUTH=a+2B").params.auth == "a+2B");
}

BOOST_AUTO_TEST_CASE(a_parameter_given_twice_is_a_syntax_error) {
    for (const char* bad : {"MAIL FROM:<> SIZE=1 SIZE=1", "MAIL FROM:<> BODY=7BIT body=8bitmime",
                            "MAIL FROM:<> SMTPUTF8 SMTPUTF8", "MAIL FROM:<> AUTH=<> SIZE=2 AUTH=<>"}) {
        expect_code(bad, 501, "5.5.4");
    }
    expect_reply("MAIL FROM:<> SIZE=1 size=2", 501, "5.5.4", "Syntax: parameter SIZE given more than once");
}

BOOST_AUTO_TEST_CASE(unknown_mail_parameter_is_555) {
    expect_reply("MAIL FROM:<a@b.example> RET=HDRS", 555, "5.5.4", "Unsupported parameter RET");
    expect_reply("MAIL FROM:<a@b.example> SIZE=10 envid=x", 555, "5.5.4", "Unsupported parameter ENVID");
    expect_reply("MAIL FROM:<> X-FOO", 555, "5.5.4", "Unsupported parameter X-FOO");
}

BOOST_AUTO_TEST_CASE(non_ascii_sender_needs_smtputf8) {
    expect_reply("MAIL FROM:" + utf8_mailbox, 553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
    expect_reply("MAIL FROM:" + utf8_mailbox + " SIZE=1", 553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
    const Mail m = parsed<Mail>("MAIL FROM:" + utf8_mailbox + " SMTPUTF8");
    BOOST_TEST(m.params.smtputf8);
    BOOST_TEST(!m.reverse_path.mailbox.is_ascii());
    expect_reply("MAIL FROM:<j\xC3@example.com> SMTPUTF8", 501, "5.1.7", "Bad sender address syntax");
}

// ---- RCPT ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(rcpt_to_parses_the_forward_path) {
    BOOST_TEST(parsed<Rcpt>("RCPT TO:<Jones@XYZ.COM>").forward_path.to_string() == "<Jones@XYZ.COM>");
    BOOST_TEST((parsed<Rcpt>("RCPT TO:<Postmaster>").forward_path.kind == Path::Kind::postmaster));
    BOOST_TEST((parsed<Rcpt>("rcpt to:<postmaster>").forward_path.kind == Path::Kind::postmaster));
    const Rcpt r = parsed<Rcpt>("RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>");
    BOOST_TEST(r.forward_path.route.size() == 2u);
    BOOST_TEST(r.forward_path.mailbox.to_string() == "userc@d.bar.org");
}

BOOST_AUTO_TEST_CASE(bad_recipient_address_is_501_5_1_3) {
    for (const char* bad : {"RCPT TO:<>", "RCPT TO:", "RCPT TO:Jones@XYZ.COM", "RCPT TO:<Jones@XYZ.COM",
                            "RCPT TO:<@hosta.int:>", "RCPT TO:<a.@b.example>", "RCPT TO:<a@[1.2.3]>"}) {
        expect_reply(bad, 501, "5.1.3", "Bad recipient address syntax");
    }
}

BOOST_AUTO_TEST_CASE(malformed_rcpt_keyword_is_a_syntax_error) {
    for (const char* bad : {"RCPT", "RCPT ", "RCPT TO :<a@b.example>", "RCPT FROM:<a@b.example>", "RCPT TO<a@b.example>",
                            "RCPT TO:<a@b.example> ", "RCPT TO:<a@b.example>x", "RCPT TO:<a@b.example> =x",
                            "RCPT TO:<a@b.example> A=1  B=2"}) {
        expect_code(bad, 501, "5.5.4");
    }
    expect_reply("RCPT TO:<a@b.example>  NOTIFY=NEVER", 501, "5.5.4", "Syntax: RCPT TO:<address>");
}

BOOST_AUTO_TEST_CASE(any_rcpt_parameter_is_unsupported) {
    expect_reply("RCPT TO:<a@b.example> NOTIFY=NEVER", 555, "5.5.4", "Unsupported parameter NOTIFY");
    expect_reply("RCPT TO:<a@b.example> orcpt=rfc822;a@b.example SIZE=1", 555, "5.5.4", "Unsupported parameter ORCPT");
    expect_reply("RCPT TO:<Postmaster> SMTPUTF8", 555, "5.5.4", "Unsupported parameter SMTPUTF8");
}

BOOST_AUTO_TEST_CASE(non_ascii_recipient_needs_a_utf8_transaction) {
    expect_reply("RCPT TO:" + utf8_mailbox, 553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
    const Rcpt r = parsed<Rcpt>("RCPT TO:" + utf8_mailbox, CommandSyntax{true});
    BOOST_TEST(!r.forward_path.mailbox.is_ascii());
}

// ---- NOOP, HELP, VRFY, EXPN ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(noop_and_help_take_an_optional_string) {
    BOOST_TEST(parsed<Noop>("NOOP").text.empty());
    BOOST_TEST(parsed<Noop>("noop ping").text == "ping");
    BOOST_TEST(parsed<Noop>("NOOP \"with space\"").text == "\"with space\"");
    BOOST_TEST(parsed<Help>("HELP").text.empty());
    BOOST_TEST(parsed<Help>("HELP MAIL").text == "MAIL");
    for (const char* bad : {"NOOP ", "NOOP a b", "NOOP  a", "HELP ", "HELP a@b", "HELP \"open", "HELP \"a\"b"}) {
        expect_code(bad, 501, "5.5.4");
    }
    expect_reply("NOOP a b", 501, "5.5.4", "Syntax: NOOP [string]");
    expect_reply("HELP a b", 501, "5.5.4", "Syntax: HELP [string]");
}

BOOST_AUTO_TEST_CASE(vrfy_and_expn_require_a_string) {
    BOOST_TEST(parsed<Vrfy>("VRFY Smith").text == "Smith");
    BOOST_TEST(parsed<Expn>("EXPN \"Example-People\"").text == "\"Example-People\"");
    expect_reply("VRFY", 501, "5.5.4", "Syntax: VRFY string");
    expect_reply("EXPN", 501, "5.5.4", "Syntax: EXPN string");
    expect_code("VRFY ", 501, "5.5.4");
    expect_code("EXPN a\tb", 501, "5.5.4");
    expect_code(std::string_view("VRFY a\0b", 8), 501, "5.5.4");
}

// ---- AUTH ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(auth_upper_cases_the_mechanism_and_keeps_the_response) {
    Auth a = parsed<Auth>("auth plain dGVzdA==");
    BOOST_TEST(a.mechanism == "PLAIN");
    BOOST_TEST(a.initial_response == "dGVzdA==");
    a = parsed<Auth>("AUTH LOGIN");
    BOOST_TEST(a.mechanism == "LOGIN");
    BOOST_TEST(!a.initial_response.has_value());
    BOOST_TEST(parsed<Auth>("AUTH PLAIN =").initial_response == "=");
    BOOST_TEST(parsed<Auth>("AUTH SCRAM-SHA-256_X AAAA").mechanism == "SCRAM-SHA-256_X");
    BOOST_TEST(parsed<Auth>("AUTH " + std::string(20, 'M')).mechanism.size() == 20u);
}

BOOST_AUTO_TEST_CASE(bad_auth_syntax_is_501) {
    for (const char* bad : {"AUTH", "AUTH ", "AUTH PLAIN ", "AUTH PLAIN  dGVzdA==", "AUTH PLAIN dGVzdA= x",
                            "AUTH PL@IN", "AUTH MMMMMMMMMMMMMMMMMMMMM", "AUTH PLAIN dGVzdA== ",
                            "AUTH PLAIN d\x7fGV"}) {
        expect_code(bad, 501, "5.5.4");
    }
    // Not base64, but one visible token: syntactically an initial response. The SASL layer
    // answers 501 5.5.2 "Cannot decode response" (RFC 4954 4), see session_test.
    for (const char* token : {"dGVzdA=", "dGV*dA==", "==", "====", "A===", "=AAA", "%%%"})
        BOOST_TEST(parsed<Auth>(std::string("AUTH PLAIN ") + token).initial_response == token);
    expect_reply("AUTH", 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
}

// ---- formatting ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(format_writes_the_canonical_line) {
    MailParams p;
    p.size = 10;
    p.body = BodyType::eight_bit_mime;
    p.smtputf8 = true;
    p.auth = "<>";
    BOOST_TEST(format_command(Mail{*pigeon::core::parse_reverse_path("<a@b>"), p}) ==
               "MAIL FROM:<a@b> SIZE=10 BODY=8BITMIME SMTPUTF8 AUTH=<>");
    BOOST_TEST(format_command(Mail{Path::null_path(), {}}) == "MAIL FROM:<>");
    BOOST_TEST(format_command(Rcpt{Path::postmaster()}) == "RCPT TO:<Postmaster>");
    BOOST_TEST(format_command(Ehlo{domain("x")}) == "EHLO x");
    BOOST_TEST(format_command(Helo{domain("Mail.Example")}) == "HELO Mail.Example");
    BOOST_TEST(format_command(Auth{"PLAIN", "dGVzdA=="}) == "AUTH PLAIN dGVzdA==");
    BOOST_TEST(format_command(Auth{"LOGIN", std::nullopt}) == "AUTH LOGIN");
    BOOST_TEST(format_command(Noop{}) == "NOOP");
    BOOST_TEST(format_command(Help{"MAIL"}) == "HELP MAIL");
    BOOST_TEST(format_command(Vrfy{"Smith"}) == "VRFY Smith");
    BOOST_TEST(format_command(Expn{"list"}) == "EXPN list");
    BOOST_TEST(format_command(Data{}) == "DATA");
    BOOST_TEST(format_command(Rset{}) == "RSET");
    BOOST_TEST(format_command(Quit{}) == "QUIT");
    BOOST_TEST(format_command(StartTls{}) == "STARTTLS");
}

BOOST_AUTO_TEST_CASE(command_name_matches_the_verb) {
    BOOST_TEST(std::string(command_name(Data{})) == "DATA");
    BOOST_TEST(std::string(command_name(StartTls{})) == "STARTTLS");
    BOOST_TEST(std::string(command_name(Mail{})) == "MAIL");
    BOOST_TEST(std::string(command_name(Auth{})) == "AUTH");
}

BOOST_AUTO_TEST_CASE(command_equality_follows_field_equality) {
    BOOST_TEST((Helo{domain("A.example")} == Helo{domain("a.EXAMPLE")}));
    BOOST_TEST(!(Ehlo{domain("a.example")} == Ehlo{domain("b.example")}));
    BOOST_TEST(!(Mail{Path::null_path(), {}} == Mail{Path::null_path(), MailParams{1, {}, false, {}}}));
    BOOST_TEST(!(Rcpt{Path::postmaster()} == Rcpt{*pigeon::core::parse_forward_path("<a@b>")}));
}

// ---- properties ----------------------------------------------------------------------------

RC_BOOST_PROP(parse_of_format_gives_back_the_command, ()) {
    const Command c = *gen_command();
    const std::string line = format_command(c);
    RC_TAG(command_name(c));
    RC_PRE(line.size() + 2 <= 512);
    const ParsedCommand p = parse_command(line, CommandSyntax{true});
    RC_ASSERT(std::holds_alternative<Command>(p));
    RC_ASSERT(std::get<Command>(p) == c);
    RC_ASSERT(std::string(command_name(std::get<Command>(p))) == command_name(c));
}

RC_BOOST_PROP(format_is_canonical_under_case_changes_of_the_verb, ()) {
    const Command c = *gen_command();
    std::string line = format_command(c);
    RC_PRE(line.size() + 2 <= 512);
    for (std::size_t i = 0; i < 4; ++i) line[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(line[i])));
    const ParsedCommand p = parse_command(line, CommandSyntax{true});
    RC_ASSERT(std::holds_alternative<Command>(p));
    RC_ASSERT(format_command(std::get<Command>(p)) == format_command(c));
}

// Any error is a 5xx syntax-class reply with a matching enhanced status, and any success
// survives a format/parse round trip.
void check_parse_is_total(const std::string& line, bool utf8_recipients) {
    const CommandSyntax syntax{utf8_recipients};
    const ParsedCommand p = parse_command(line, syntax);
    if (const auto* r = std::get_if<Reply>(&p)) {
        RC_ASSERT(r->code >= 500);
        RC_ASSERT(r->code <= 555);
        RC_ASSERT(r->enhanced.has_value());
        RC_ASSERT(r->enhanced->cls == 5);
        RC_ASSERT(r->lines.size() == 1u);
    } else {
        const Command& c = std::get<Command>(p);
        const ParsedCommand again = parse_command(format_command(c), syntax);
        RC_ASSERT(std::holds_alternative<Command>(again));
        RC_ASSERT(std::get<Command>(again) == c);
    }
}

RC_BOOST_PROP(parse_never_throws_on_arbitrary_lines, (const std::string& line, bool utf8_recipients)) {
    check_parse_is_total(line, utf8_recipients);
}

RC_BOOST_PROP(parse_never_throws_on_verb_plus_arbitrary_tail, (const std::string& tail, bool utf8_recipients)) {
    const auto prefix = *rc::gen::elementOf(std::vector<std::string>{
        "HELO ", "EHLO ", "MAIL FROM:", "MAIL FROM:<a@b.example> ", "RCPT TO:", "RCPT TO:<Postmaster> ", "DATA",
        "NOOP ", "VRFY ", "EXPN ", "HELP ", "AUTH ", "AUTH PLAIN ", "MAIL FROM:<", "RCPT TO:<@a.example,"});
    check_parse_is_total(prefix + tail, utf8_recipients);
}

RC_BOOST_PROP(parse_never_throws_on_mutated_valid_lines, (std::size_t pos, char byte)) {
    const Command c = *gen_command();
    std::string line = format_command(c);
    line[pos % line.size()] = byte;
    check_parse_is_total(line, true);
}

BOOST_AUTO_TEST_SUITE_END()
