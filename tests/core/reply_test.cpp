// Tests for core/reply: EnhancedStatus, format_reply, parse_reply, ReplyParser.
#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/reply.hpp"

using pigeon::core::EnhancedStatus;
using pigeon::core::format_reply;
using pigeon::core::parse_reply;
using pigeon::core::Reply;
using pigeon::core::ReplyParser;

namespace {

// What a ReplyParser makes of `input` fed in the given pieces: everything a caller can see.
struct Outcome {
    std::size_t consumed = 0;
    bool done = false;
    bool failed = false;
    Reply reply;
    std::string error;
    friend bool operator==(const Outcome&, const Outcome&) = default;
};

Outcome feed(std::string_view input, const std::vector<std::size_t>& cuts) {
    ReplyParser parser;
    Outcome out;
    std::size_t from = 0;
    auto piece = [&](std::size_t to) {
        const std::size_t used = parser.put(input.substr(from, to - from));
        // The parser may stop early only because it has finished (or failed).
        if (used < to - from && !parser.done() && !parser.failed()) {
            throw std::logic_error("ReplyParser stopped early without finishing");
        }
        out.consumed += used;
        from = to;
    };
    for (std::size_t cut : cuts) {
        piece(cut);
    }
    piece(input.size());
    out.done = parser.done();
    out.failed = parser.failed();
    if (out.done) {
        out.reply = parser.reply();
    }
    if (out.failed) {
        out.error = parser.error();
    }
    return out;
}

std::string error_of(std::string_view text) {
    const auto r = parse_reply(text);
    BOOST_REQUIRE(!r.ok());
    return r.error().message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reply)

BOOST_AUTO_TEST_CASE(enhanced_status_parses_valid_codes_and_prints_them_back) {
    for (std::string_view s : {"2.0.0", "4.7.0", "5.1.1", "5.7.8", "2.999.999", "4.10.100"}) {
        const auto e = EnhancedStatus::parse(s);
        BOOST_TEST_REQUIRE(e.has_value(), s);
        BOOST_TEST(e->to_string() == s);
    }
    BOOST_TEST((EnhancedStatus::parse("5.3.4") == EnhancedStatus{5, 3, 4}));
}

BOOST_AUTO_TEST_CASE(enhanced_status_rejects_bad_class_leading_zeros_and_extra_text) {
    for (std::string_view s :
         {"", "2", "2.0", "2.0.", "2..0", ".0.0", "3.0.0", "1.0.0", "6.0.0", "0.0.0", "x.0.0",
          "2.00.0", "2.01.0", "2.0.01", "2.1000.0", "2.0.1000", "2.0.0.0", "2.0.0 ", " 2.0.0",
          "2.+1.0", "2.-1.0", "22.0.0", "2.a.0", "2.0.a", "2,0,0"}) {
        BOOST_TEST(!EnhancedStatus::parse(s).has_value(), "accepted \"" << s << '"');
    }
}

BOOST_AUTO_TEST_CASE(convenience_constructor_makes_one_line_with_parsed_code) {
    const Reply r(250, "2.1.0", "Sender OK");
    BOOST_TEST(r.code == 250);
    BOOST_TEST((r.enhanced == EnhancedStatus{2, 1, 0}));
    BOOST_TEST((r.lines == std::vector<std::string>{"Sender OK"}));

    const Reply plain(220, "", "mx.example ESMTP Pigeon");
    BOOST_TEST(!plain.enhanced.has_value());
    BOOST_TEST(plain.lines.size() == 1u);
}

BOOST_AUTO_TEST_CASE(convenience_constructor_throws_on_bad_or_mismatched_code) {
    BOOST_CHECK_THROW(Reply(250, "2.01.0", "x"), std::invalid_argument);
    BOOST_CHECK_THROW(Reply(250, "junk", "x"), std::invalid_argument);
    BOOST_CHECK_THROW(Reply(550, "2.0.0", "x"), std::invalid_argument);
    BOOST_CHECK_THROW(Reply(354, "2.0.0", "x"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(reply_classification) {
    BOOST_TEST(Reply(250, "", "x").positive());
    BOOST_TEST(Reply(354, "", "x").positive());
    BOOST_TEST(Reply(451, "4.3.0", "x").transient());
    BOOST_TEST(Reply(554, "5.6.0", "x").permanent());
}

BOOST_AUTO_TEST_CASE(format_writes_continuation_lines_and_enhanced_code_on_every_line) {
    BOOST_TEST(format_reply(Reply(250, "2.1.0", "Sender OK")) == "250 2.1.0 Sender OK\r\n");
    BOOST_TEST(format_reply(Reply(220, "", "mx ESMTP")) == "220 mx ESMTP\r\n");
    const Reply multi(250, EnhancedStatus{2, 0, 0}, {"a", "b", "c"});
    BOOST_TEST(format_reply(multi) == "250-2.0.0 a\r\n250-2.0.0 b\r\n250 2.0.0 c\r\n");
    const Reply ehlo(250, std::nullopt, {"mx greets c", "PIPELINING", "SIZE 1000"});
    BOOST_TEST(format_reply(ehlo) == "250-mx greets c\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
}

BOOST_AUTO_TEST_CASE(format_of_zero_lines_is_one_empty_line_and_parses_back_as_one) {
    BOOST_TEST(format_reply(Reply(334, std::nullopt, {})) == "334 \r\n");
    BOOST_TEST(format_reply(Reply(250, EnhancedStatus{2, 0, 0}, {})) == "250 2.0.0 \r\n");
    const auto back = parse_reply(format_reply(Reply(334, std::nullopt, {})));
    BOOST_TEST_REQUIRE(back.ok());
    BOOST_TEST((back->lines == std::vector<std::string>{""}));
}

BOOST_AUTO_TEST_CASE(parse_single_and_multiline_replies) {
    const auto one = parse_reply("250 2.1.5 Recipient OK\r\n");
    BOOST_TEST_REQUIRE(one.ok());
    BOOST_TEST((*one == Reply(250, "2.1.5", "Recipient OK")));

    const auto ehlo = parse_reply("250-mx.example greets c\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
    BOOST_TEST_REQUIRE(ehlo.ok());
    BOOST_TEST(ehlo->code == 250);
    BOOST_TEST(!ehlo->enhanced.has_value());
    BOOST_TEST((ehlo->lines == std::vector<std::string>{"mx.example greets c", "PIPELINING", "8BITMIME"}));
}

BOOST_AUTO_TEST_CASE(parse_accepts_bare_code_as_last_line_with_empty_text) {
    // RFC 5321 4.2.1 allows a last line with no text at all.
    const auto r = parse_reply("250\r\n");
    BOOST_TEST_REQUIRE(r.ok());
    BOOST_TEST((r->lines == std::vector<std::string>{""}));
    const auto m = parse_reply("250-first\r\n250\r\n");
    BOOST_TEST_REQUIRE(m.ok());
    BOOST_TEST((m->lines == std::vector<std::string>{"first", ""}));
    const auto c = parse_reply("250-\r\n250 x\r\n");
    BOOST_TEST_REQUIRE(c.ok());
    BOOST_TEST((c->lines == std::vector<std::string>{"", "x"}));
}

BOOST_AUTO_TEST_CASE(parse_strips_enhanced_code_only_when_every_line_has_the_same_matching_one) {
    const auto same = parse_reply("550-5.7.1 no\r\n550 5.7.1 really\r\n");
    BOOST_TEST_REQUIRE(same.ok());
    BOOST_TEST((same->enhanced == EnhancedStatus{5, 7, 1}));
    BOOST_TEST((same->lines == std::vector<std::string>{"no", "really"}));

    // Different codes on two lines: kept verbatim.
    const auto mixed = parse_reply("550-5.7.1 no\r\n550 5.7.2 really\r\n");
    BOOST_TEST_REQUIRE(mixed.ok());
    BOOST_TEST(!mixed->enhanced.has_value());
    BOOST_TEST((mixed->lines == std::vector<std::string>{"5.7.1 no", "5.7.2 really"}));

    // One line without: kept verbatim.
    const auto partial = parse_reply("250-2.0.0 a\r\n250 b\r\n");
    BOOST_TEST_REQUIRE(partial.ok());
    BOOST_TEST(!partial->enhanced.has_value());

    // Class differing from the reply code's first digit: not an enhanced status of this reply.
    const auto wrong_class = parse_reply("250 5.0.0 odd\r\n");
    BOOST_TEST_REQUIRE(wrong_class.ok());
    BOOST_TEST(!wrong_class->enhanced.has_value());
    BOOST_TEST((wrong_class->lines == std::vector<std::string>{"5.0.0 odd"}));

    // The code must be followed by SP or the end of the text.
    const auto glued = parse_reply("250 2.0.0OK\r\n");
    BOOST_TEST_REQUIRE(glued.ok());
    BOOST_TEST(!glued->enhanced.has_value());

    const auto alone = parse_reply("250 2.0.0\r\n");
    BOOST_TEST_REQUIRE(alone.ok());
    BOOST_TEST((alone->enhanced == EnhancedStatus{2, 0, 0}));
    BOOST_TEST((alone->lines == std::vector<std::string>{""}));

    // A leading-zero code is not an enhanced status: kept as text.
    const auto zero = parse_reply("250 2.00.0 x\r\n");
    BOOST_TEST_REQUIRE(zero.ok());
    BOOST_TEST(!zero->enhanced.has_value());
}

BOOST_AUTO_TEST_CASE(parse_rejects_bare_lf_and_bare_cr) {
    BOOST_TEST(error_of("250 OK\n").find("bare LF") != std::string::npos);
    BOOST_TEST(error_of("250-a\n250 b\r\n").find("bare LF") != std::string::npos);
    BOOST_TEST(error_of("250 O\rK\r\n").find("bare CR") != std::string::npos);
    BOOST_TEST(error_of("250 OK\r\r\n").find("bare CR") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(parse_rejects_bad_codes_and_separators) {
    for (std::string_view bad : {"\r\n", "25\r\n", "2x0 a\r\n", "abc\r\n", "199 x\r\n", "600 x\r\n",
                                 "000 x\r\n", "250x\r\n", "250\tx\r\n", " 250 x\r\n",
                                 "250-a\r\n251 b\r\n", "250-a\r\n550 b\r\n"}) {
        BOOST_TEST(!parse_reply(bad).ok(), "accepted " << bad);
    }
}

BOOST_AUTO_TEST_CASE(parse_rejects_incomplete_and_trailing_input) {
    BOOST_TEST(error_of("").find("incomplete") != std::string::npos);
    BOOST_TEST(error_of("250 OK").find("incomplete") != std::string::npos);
    BOOST_TEST(error_of("250 OK\r").find("incomplete") != std::string::npos);
    BOOST_TEST(error_of("250-more\r\n").find("incomplete") != std::string::npos);
    BOOST_TEST(error_of("250 OK\r\n250 again\r\n").find("after the end") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(line_of_exactly_512_octets_is_accepted_and_513_rejected) {
    // 512 octets including CRLF: "250 " + 506 octets + CRLF.
    const std::string ok = "250 " + std::string(506, 'a') + "\r\n";
    BOOST_TEST(ok.size() == 512u);
    BOOST_TEST(parse_reply(ok).ok());
    const std::string bad = "250 " + std::string(507, 'a') + "\r\n";
    BOOST_TEST(error_of(bad).find("longer than 512") != std::string::npos);
    // The error comes as soon as the line is too long, without waiting for its end.
    ReplyParser p;
    const std::string endless(100000, 'a');
    BOOST_TEST(p.put(endless) == 511u);
    BOOST_TEST(p.failed());
}

BOOST_AUTO_TEST_CASE(max_lines_is_accepted_and_one_more_rejected) {
    auto reply_of = [](std::size_t n) {
        std::string s;
        for (std::size_t i = 1; i < n; ++i) {
            s += "250-x\r\n";
        }
        return s + "250 x\r\n";
    };
    const auto ok = parse_reply(reply_of(ReplyParser::max_lines));
    BOOST_TEST_REQUIRE(ok.ok());
    BOOST_TEST(ok->lines.size() == ReplyParser::max_lines);
    BOOST_TEST(error_of(reply_of(ReplyParser::max_lines + 1)).find("more than") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(parser_stops_at_end_of_reply_and_reset_reads_the_next) {
    const std::string two = "250-a\r\n250 b\r\n354 go\r\n";
    ReplyParser p;
    BOOST_TEST(p.put(two) == 14u);
    BOOST_TEST(p.done());
    BOOST_TEST(p.put("more") == 0u);  // done: consumes nothing
    BOOST_TEST((p.reply().lines == std::vector<std::string>{"a", "b"}));
    p.reset();
    BOOST_TEST(!p.done());
    BOOST_TEST(p.put(std::string_view(two).substr(14)) == 8u);
    BOOST_TEST(p.done());
    BOOST_TEST(p.reply().code == 354);
}

BOOST_AUTO_TEST_CASE(failed_parser_consumes_nothing_more_and_reset_recovers) {
    ReplyParser p;
    BOOST_TEST(p.put("250 x\nmore") == 6u);  // up to and including the offending LF
    BOOST_TEST(p.failed());
    BOOST_TEST(!p.error().empty());
    BOOST_TEST(p.put("250 x\r\n") == 0u);
    p.reset();
    BOOST_TEST(!p.failed());
    BOOST_TEST(p.error().empty());
    BOOST_TEST(p.put("250 x\r\n") == 7u);
    BOOST_TEST(p.done());
}

BOOST_AUTO_TEST_CASE(grind_every_split_of_sample_replies_gives_the_same_outcome) {
    const std::vector<std::string> inputs = {
        "250 OK\r\n",
        "250-mx greets c\r\n250-PIPELINING\r\n250 SIZE 1000\r\n",
        "550-5.7.1 a\r\n550 5.7.1 b\r\n",
        "250\r\n",
        "250-a\r\n250 b\r\n354 next\r\n",
        "250 a\nb\r\n",
        "250 a\rb\r\n",
        "250-a\r\n251 b\r\n",
        "250 incomplete",
        "25",
    };
    for (const std::string& input : inputs) {
        const Outcome whole = feed(input, {});
        for (std::size_t i = 0; i <= input.size(); ++i) {
            BOOST_TEST((feed(input, {i}) == whole), "split at " << i << " of " << input);
            for (std::size_t j = i; j <= input.size(); ++j) {
                BOOST_TEST((feed(input, {i, j}) == whole), "split at " << i << ',' << j);
            }
        }
        std::vector<std::size_t> every;
        for (std::size_t i = 1; i < input.size(); ++i) {
            every.push_back(i);
        }
        BOOST_TEST((feed(input, every) == whole), "byte by byte: " << input);
    }
}

BOOST_AUTO_TEST_SUITE_END()

// ---- Properties ----

namespace {

// Printable ASCII text (%d32-126), short enough for a 512-octet line with code and status.
rc::Gen<std::string> printable_text() {
    return rc::gen::mapcat(rc::gen::inRange<std::size_t>(0, 120), [](std::size_t n) {
        return rc::gen::container<std::string>(n, rc::gen::inRange<char>(32, 127));
    });
}

bool looks_enhanced(const std::string& text) {
    return EnhancedStatus::parse(std::string_view(text).substr(0, text.find(' '))).has_value();
}

rc::Gen<EnhancedStatus> enhanced_of_class(int cls) {
    return rc::gen::construct<EnhancedStatus>(rc::gen::just(cls), rc::gen::inRange(0, 1000),
                                               rc::gen::inRange(0, 1000));
}

// A well-formed reply: the law's domain (see core/reply.hpp).
rc::Gen<Reply> well_formed_reply() {
    return rc::gen::mapcat(rc::gen::inRange(200, 600), [](int code) {
        const int cls = code / 100;
        // RFC 3463 has no class 3: a 3xx reply never carries a status.
        const auto with = rc::gen::map(enhanced_of_class(cls), [](EnhancedStatus e) {
            return std::optional<EnhancedStatus>(e);
        });
        const auto enhanced = cls == 3 ? rc::gen::just(std::optional<EnhancedStatus>())
                                       : rc::gen::oneOf(rc::gen::just(std::optional<EnhancedStatus>()), with);
        return rc::gen::mapcat(enhanced, [code](std::optional<EnhancedStatus> e) {
            // Without a status, no line may look like one, or the parser would strip it.
            const rc::Gen<std::string> text =
                e ? printable_text()
                  : rc::gen::suchThat(printable_text(), [](const std::string& t) {
                        return !looks_enhanced(t);
                    });
            return rc::gen::map(
                rc::gen::mapcat(rc::gen::inRange<std::size_t>(1, 6),
                                [text](std::size_t n) {
                                    return rc::gen::container<std::vector<std::string>>(n, text);
                                }),
                [code, e](std::vector<std::string> lines) { return Reply(code, e, std::move(lines)); });
        });
    });
}

// Cut points within [0, size], sorted.
std::vector<std::size_t> cuts_for(std::size_t size) {
    auto cuts = *rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(0, size + 1));
    std::sort(cuts.begin(), cuts.end());
    return cuts;
}

}  // namespace

RC_BOOST_PROP(law_parse_of_format_is_identity_for_well_formed_replies, ()) {
    const Reply r = *well_formed_reply();
    const auto back = parse_reply(format_reply(r));
    RC_ASSERT(back.ok());
    RC_ASSERT(*back == r);
}

RC_BOOST_PROP(parser_over_any_split_equals_parse_reply_for_formatted_replies, ()) {
    const std::string wire = format_reply(*well_formed_reply());
    const Outcome out = feed(wire, cuts_for(wire.size()));
    RC_ASSERT(out.done);
    RC_ASSERT(out.consumed == wire.size());
    RC_ASSERT(out.reply == parse_reply(wire).value());
}

RC_BOOST_PROP(parser_over_any_split_of_arbitrary_bytes_gives_the_same_outcome, ()) {
    // Bytes drawn mostly from reply syntax so that both valid and invalid replies occur.
    const auto piece = rc::gen::element<std::string>("250", "250-", "250 ", "550 5.7.1 ", "2.0.0 ", "\r\n",
                                                     "\r", "\n", "x", " ", "-", "4");
    const auto pieces = *rc::gen::container<std::vector<std::string>>(piece);
    std::string input;
    for (const auto& p : pieces) {
        input += p;
    }
    const Outcome whole = feed(input, {});
    RC_ASSERT(feed(input, cuts_for(input.size())) == whole);
    // parse_reply agrees with the parser when the input is exactly one reply.
    const auto parsed = parse_reply(input);
    if (parsed.ok()) {
        RC_ASSERT(whole.done);
        RC_ASSERT(whole.reply == parsed.value());
    }
}
