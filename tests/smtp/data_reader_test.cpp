// Tests for smtp/data_reader: the DATA phase reader (end mark, dot-unstuffing, bare CR/LF,
// limits) and dot_stuff. The smuggling tests follow CVE-2023-51764..51766: no end mark other
// than <CRLF>.<CRLF> may end the data.
#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/limits.hpp"
#include "smtp/data_reader.hpp"

using pigeon::smtp::DataReader;
using pigeon::smtp::dot_stuff;
using Status = DataReader::Status;

namespace pigeon::smtp {
std::ostream& operator<<(std::ostream& os, DataReader::Status s) {
    switch (s) {
    case DataReader::Status::ok: return os << "ok";
    case DataReader::Status::bare_line_ending: return os << "bare_line_ending";
    case DataReader::Status::too_large: return os << "too_large";
    case DataReader::Status::line_too_long: return os << "line_too_long";
    case DataReader::Status::insufficient_storage: return os << "insufficient_storage";
    }
    return os << "?";
}
}  // namespace pigeon::smtp

namespace {

constexpr std::uint64_t big = 1u << 20;

// Everything a caller can observe after feeding `input` cut at `cuts` (sorted positions).
struct Outcome {
    std::size_t consumed = 0;
    bool done = false;
    Status status = Status::ok;
    std::string message;
    std::uint64_t octets = 0;
    friend bool operator==(const Outcome&, const Outcome&) = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
    return os << "{consumed " << o.consumed << ", done " << o.done << ", " << o.status
              << ", octets " << o.octets << ", message size " << o.message.size() << '}';
}

Outcome feed(std::string_view input, const std::vector<std::size_t>& cuts, std::uint64_t max = big) {
    DataReader reader(max);
    Outcome out;
    std::size_t from = 0;
    auto piece = [&](std::size_t to) {
        const std::size_t used = reader.put(input.substr(from, to - from));
        // Stopping short of the piece is allowed only at the end mark.
        if (used < to - from && !reader.done()) {
            throw std::logic_error("DataReader stopped early without finishing");
        }
        if (reader.message().size() > max) {
            throw std::logic_error("DataReader stored more than max_message_octets");
        }
        out.consumed += used;
        from = to;
    };
    for (std::size_t cut : cuts) {
        piece(cut);
    }
    piece(input.size());
    out.done = reader.done();
    out.status = reader.status();
    out.message = reader.message();
    out.octets = reader.message_octets();
    return out;
}

Outcome whole(std::string_view input, std::uint64_t max = big) { return feed(input, {}, max); }

// Every split: one cut anywhere, two cuts anywhere (short inputs), byte by byte.
void grind(std::string_view input, std::uint64_t max, const Outcome& expected) {
    BOOST_TEST_CONTEXT("input \"" << input.substr(0, 60) << "\" (" << input.size() << " octets), max " << max) {
        const Outcome one = whole(input, max);
        BOOST_TEST(one == expected);
        for (std::size_t i = 0; i <= input.size(); ++i) {
            const Outcome split = feed(input, {i}, max);
            if (!(split == one)) {
                BOOST_ERROR("split at " << i << ": " << split << " != " << one);
            }
        }
        if (input.size() <= 64) {
            for (std::size_t i = 0; i <= input.size(); ++i) {
                for (std::size_t j = i; j <= input.size(); ++j) {
                    const Outcome split = feed(input, {i, j}, max);
                    if (!(split == one)) {
                        BOOST_ERROR("split at " << i << ", " << j << ": " << split << " != " << one);
                    }
                }
            }
        }
        std::vector<std::size_t> every(input.empty() ? 0 : input.size() - 1);
        for (std::size_t i = 0; i < every.size(); ++i) {
            every[i] = i + 1;
        }
        BOOST_TEST(feed(input, every, max) == one, "byte by byte");
    }
}

Outcome expect(std::size_t consumed, bool done, Status status, std::string message, std::uint64_t octets) {
    return Outcome{consumed, done, status, std::move(message), octets};
}

// The smuggling variants: sequences that some MTA treats as end of data but that are not
// <CRLF>.<CRLF>. Each is placed after "line1"; the message then carries a smuggled command.
const std::vector<std::string> smuggling_variants = {
    "\n.\n",      // <LF>.<LF>
    "\n.\r\n",    // <LF>.<CRLF>
    "\r.\r",      // <CR>.<CR>
    "\r.\r\n",    // <CR>.<CRLF>
    "\r\n.\n",    // <CRLF>.<LF>
    "\r\n.\r",    // <CRLF>.<CR>
    "\n.\r",      // <LF>.<CR>
    "\r.\n",      // <CR>.<LF>
    "\r\n.\r\r\n",  // <CRLF>.<CR><CRLF>: the dot line is "." CR, not "."
    "\r\n\n.\r\n",  // <CRLF><LF>.<CRLF>: the LF is bare, so the "." is not at a line start
    "\r\n\r.\r\n",  // <CRLF><CR>.<CRLF>
};

std::string smuggle(const std::string& variant) {
    return "line1" + variant + "MAIL FROM:<evil@example>\r\nRCPT TO:<victim@example>\r\nDATA\r\nforged\r\n.\r\n";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(data_reader)

BOOST_AUTO_TEST_CASE(crlf_dot_crlf_ends_data_and_message_keeps_crlf_line_ends_without_the_dot) {
    const Outcome o = whole("line1\r\nline2\r\n.\r\n");
    BOOST_TEST(o.done);
    BOOST_TEST(o.status == Status::ok);
    BOOST_TEST(o.message == "line1\r\nline2\r\n");
    BOOST_TEST(o.consumed == 17u);
    BOOST_TEST(o.octets == 14u);
}

BOOST_AUTO_TEST_CASE(dot_line_at_the_very_start_ends_an_empty_message) {
    // The DATA command's CRLF counts as the CRLF before the ".".
    const Outcome o = whole(".\r\n");
    BOOST_TEST(o.done);
    BOOST_TEST(o.status == Status::ok);
    BOOST_TEST(o.message == "");
    BOOST_TEST(o.consumed == 3u);
}

BOOST_AUTO_TEST_CASE(put_stops_right_after_the_end_mark_leaving_pipelined_commands) {
    const std::string input = "hi\r\n.\r\nQUIT\r\n";
    DataReader r(big);
    BOOST_TEST(r.put(input) == 7u);
    BOOST_TEST(r.done());
    BOOST_TEST(r.put("QUIT\r\n") == 0u);  // after done() nothing more is consumed
    BOOST_TEST(r.message() == "hi\r\n");
    BOOST_TEST(r.take_message() == "hi\r\n");
}

BOOST_AUTO_TEST_CASE(not_done_until_the_end_mark_arrives) {
    for (std::string_view partial : {"", "a", "a\r", "a\r\n", "a\r\n.", "a\r\n.\r", ".", ".\r", "..\r\n"}) {
        const Outcome o = whole(partial);
        BOOST_TEST(!o.done, "done after \"" << partial << '"');
        BOOST_TEST(o.consumed == partial.size());
    }
}

BOOST_AUTO_TEST_CASE(leading_dot_is_removed_from_stuffed_lines) {
    BOOST_TEST(whole("..\r\n.\r\n").message == ".\r\n");
    BOOST_TEST(whole("...\r\n.\r\n").message == "..\r\n");
    BOOST_TEST(whole(".a\r\n.\r\n").message == "a\r\n");  // a lone stuffing dot is dropped too
    BOOST_TEST(whole("a.b\r\n.b\r\n..c\r\n.\r\n").message == "a.b\r\nb\r\n.c\r\n");
    // A dot that is not at a line start is content.
    BOOST_TEST(whole("a\r\n .\r\n.\r\n").message == "a\r\n .\r\n");
}

BOOST_AUTO_TEST_CASE(dot_followed_by_text_or_second_dot_is_not_an_end_mark) {
    const Outcome o = whole("a\r\n.x\r\n..\r\n.\r\nrest");
    BOOST_TEST(o.done);
    BOOST_TEST(o.message == "a\r\nx\r\n.\r\n");
    BOOST_TEST(o.consumed == 14u);
}

BOOST_AUTO_TEST_CASE(empty_lines_are_kept) {
    BOOST_TEST(whole("\r\n\r\n.\r\n").message == "\r\n\r\n");
    BOOST_TEST(whole("Subject: x\r\n\r\nbody\r\n.\r\n").message == "Subject: x\r\n\r\nbody\r\n");
}

BOOST_AUTO_TEST_CASE(bare_lf_in_text_marks_bare_line_ending_and_is_not_a_line_end) {
    const Outcome o = whole("a\nb\r\n.\r\n");
    BOOST_TEST(o.done);
    BOOST_TEST(o.status == Status::bare_line_ending);
    BOOST_TEST(o.consumed == 8u);
}

BOOST_AUTO_TEST_CASE(bare_cr_in_text_marks_bare_line_ending_and_is_not_a_line_end) {
    const Outcome o = whole("a\rb\r\n.\r\n");
    BOOST_TEST(o.done);
    BOOST_TEST(o.status == Status::bare_line_ending);
    BOOST_TEST(o.consumed == 8u);
}

BOOST_AUTO_TEST_CASE(bare_lf_or_cr_at_the_very_start_is_detected) {
    BOOST_TEST(whole("\n.\r\n").status == Status::bare_line_ending);
    BOOST_TEST(!whole("\n.\r\n").done);  // "\n" is not a line end, so ".\r\n" is no end mark
    BOOST_TEST(whole("\r.\r\n").status == Status::bare_line_ending);
    BOOST_TEST(!whole("\r.\r\n").done);
}

BOOST_AUTO_TEST_CASE(dot_lf_at_the_very_start_is_not_an_end_mark) {
    const Outcome o = whole(".\n.\r\n");
    BOOST_TEST(!o.done);
    BOOST_TEST(o.status == Status::bare_line_ending);
    const Outcome cr = whole(".\r.\r\n");
    BOOST_TEST(!cr.done);
    BOOST_TEST(cr.status == Status::bare_line_ending);
}

BOOST_AUTO_TEST_CASE(cr_cr_lf_is_one_bare_cr_then_a_real_line_end) {
    // "a" CR CR LF: the first CR is bare; the CR LF then ends the line, so "." after it ends data.
    const Outcome o = whole("a\r\r\n.\r\nX");
    BOOST_TEST(o.done);
    BOOST_TEST(o.consumed == 7u);
    BOOST_TEST(o.status == Status::bare_line_ending);
}

BOOST_AUTO_TEST_CASE(every_smuggling_variant_is_not_an_end_mark_and_marks_the_message_bad) {
    for (const std::string& variant : smuggling_variants) {
        const std::string input = smuggle(variant);
        BOOST_TEST_CONTEXT("variant #" << (&variant - smuggling_variants.data())) {
            const Outcome o = whole(input + "QUIT\r\n");
            // The data ends only at the real end mark, after the smuggled commands ...
            BOOST_TEST(o.done);
            BOOST_TEST(o.consumed == input.size());
            // ... and the message is rejected, so nothing smuggled is ever relayed.
            BOOST_TEST(o.status == Status::bare_line_ending);
            BOOST_TEST(o.message.empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(smuggling_variants_at_the_very_end_leave_the_reader_waiting) {
    // Fed only up to the fake end mark, the reader must still want more.
    for (const std::string& variant : smuggling_variants) {
        const Outcome o = whole("line1" + variant);
        BOOST_TEST(!o.done, "a smuggling variant of " << variant.size() << " octets ended data");
    }
}

BOOST_AUTO_TEST_CASE(crlf_nul_dot_crlf_is_not_an_end_mark_and_nul_is_ordinary_content) {
    // <CRLF><NUL>.<CRLF> ended data in receivers that drop NUL; here the dot is not at a line
    // start, so the "smuggled" commands stay message text.
    const std::string input = smuggle(std::string("\r\n\0.\r\n", 6));
    const Outcome o = whole(input + "QUIT\r\n");
    BOOST_TEST(o.done);
    BOOST_TEST(o.consumed == input.size());
    BOOST_TEST(o.status == Status::ok);
    BOOST_TEST(o.message.find("MAIL FROM:<evil@example>\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(nul_is_ordinary_content) {
    const std::string input("a\0b\r\n.\r\n", 8);
    const Outcome o = whole(input);
    BOOST_TEST(o.done);
    BOOST_TEST(o.status == Status::ok);
    BOOST_TEST(o.message == std::string("a\0b\r\n", 5));
}

BOOST_AUTO_TEST_CASE(message_of_exactly_max_octets_is_ok_and_one_more_is_too_large) {
    // "abc\r\n" is 5 octets.
    const Outcome at = whole("abc\r\n.\r\n", 5);
    BOOST_TEST(at.status == Status::ok);
    BOOST_TEST(at.message == "abc\r\n");
    const Outcome over = whole("abcd\r\n.\r\nNOOP\r\n", 5);
    BOOST_TEST(over.status == Status::too_large);
    BOOST_TEST(over.done);
    BOOST_TEST(over.consumed == 9u);  // keeps consuming up to the end mark
    BOOST_TEST(over.octets == 6u);    // counted though not stored
    BOOST_TEST(over.message.empty());
}

BOOST_AUTO_TEST_CASE(size_counts_unstuffed_octets) {
    // Wire "..\r\n" is the message ".\r\n": 3 octets, within a limit of 3.
    const Outcome o = whole("..\r\n.\r\n", 3);
    BOOST_TEST(o.status == Status::ok);
    BOOST_TEST(o.octets == 3u);
}

BOOST_AUTO_TEST_CASE(zero_limit_accepts_only_the_empty_message) {
    BOOST_TEST(whole(".\r\n", 0).status == Status::ok);
    BOOST_TEST(whole("\r\n.\r\n", 0).status == Status::too_large);
}

BOOST_AUTO_TEST_CASE(too_large_message_stores_nothing_past_the_limit) {
    DataReader r(10);
    const std::string chunk(100, 'x');
    for (int i = 0; i < 1000; ++i) {
        BOOST_REQUIRE(r.put(chunk) == chunk.size());
        BOOST_REQUIRE(r.message().size() <= 10u);
    }
    BOOST_TEST(r.status() == Status::too_large);
    BOOST_TEST(r.message_octets() == 100000u);
}

// The driver's message memory ran out: the reader frees what it held, stores nothing more,
// still finds the end mark, and the permanent verdicts keep their precedence.
BOOST_AUTO_TEST_CASE(refused_storage_discards_the_message_and_reads_to_the_end) {
    DataReader r(big);
    BOOST_REQUIRE(r.put("Subject: x\r\n\r\nfirst part\r\n") > 0u);
    BOOST_TEST(r.stored_octets() > 0u);
    r.refuse_storage();
    BOOST_TEST(r.stored_octets() == 0u);
    const std::string rest = "more\r\n.\r\nNOOP\r\n";
    BOOST_TEST(r.put(rest) == rest.size() - 6);
    BOOST_TEST(r.done());
    BOOST_TEST(r.stored_octets() == 0u);
    BOOST_TEST(r.status() == Status::insufficient_storage);
    BOOST_TEST(DataReader::reply_for(Status::insufficient_storage).code == 452);

    DataReader bare(big);
    bare.refuse_storage();
    bare.put("a\nb\r\n.\r\n");
    BOOST_TEST(bare.status() == Status::bare_line_ending);
    DataReader large(10);
    large.refuse_storage();
    large.put(std::string(100, 'x') + "\r\n.\r\n");
    BOOST_TEST(large.status() == Status::too_large);
}

BOOST_AUTO_TEST_CASE(line_of_1000_octets_with_crlf_is_ok_and_1001_is_too_long) {
    const std::string ok = std::string(998, 'a') + "\r\n";
    BOOST_TEST(whole(ok + ".\r\n").status == Status::ok);
    BOOST_TEST(whole(ok + ".\r\n").message == ok);
    const std::string bad = std::string(999, 'a') + "\r\n";
    const Outcome o = whole(bad + ".\r\nNOOP\r\n");
    BOOST_TEST(o.status == Status::line_too_long);
    BOOST_TEST(o.done);
    BOOST_TEST(o.consumed == bad.size() + 3);
    BOOST_TEST(o.message.empty());
}

BOOST_AUTO_TEST_CASE(line_length_counts_the_stuffing_dot) {
    // On the wire "." + 997 + CRLF is 1000 octets: ok. "." + 998 + CRLF is 1001: too long,
    // although the unstuffed line would fit.
    BOOST_TEST(whole("." + std::string(997, 'a') + "\r\n.\r\n").status == Status::ok);
    BOOST_TEST(whole("." + std::string(998, 'a') + "\r\n.\r\n").status == Status::line_too_long);
}

BOOST_AUTO_TEST_CASE(line_length_restarts_after_each_crlf) {
    const std::string line = std::string(998, 'a') + "\r\n";
    std::string input;
    for (int i = 0; i < 5; ++i) {
        input += line;
    }
    BOOST_TEST(whole(input + ".\r\n").status == Status::ok);
}

BOOST_AUTO_TEST_CASE(precedence_is_bare_then_too_large_then_line_too_long) {
    const std::string long_line = std::string(1500, 'a') + "\r\n";
    BOOST_TEST(whole(long_line + "a\nb\r\n.\r\n", 100).status == Status::bare_line_ending);
    BOOST_TEST(whole(long_line + ".\r\n", 100).status == Status::too_large);
    BOOST_TEST(whole(long_line + ".\r\n", big).status == Status::line_too_long);
}

BOOST_AUTO_TEST_CASE(reply_for_each_status_matches_the_protocol_catalogue) {
    using pigeon::core::format_reply;
    BOOST_TEST(format_reply(DataReader::reply_for(Status::bare_line_ending)) ==
               "554 5.6.0 Message rejected: bare CR or LF in message (RFC 5321 2.3.8)\r\n");
    BOOST_TEST(format_reply(DataReader::reply_for(Status::too_large)) ==
               "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
    BOOST_TEST(format_reply(DataReader::reply_for(Status::line_too_long)) ==
               "554 5.6.0 Message rejected: text line longer than 1000 octets\r\n");
    BOOST_TEST(format_reply(DataReader::reply_for(Status::ok)) == "250 2.0.0 OK\r\n");
}

BOOST_AUTO_TEST_CASE(dot_stuff_doubles_leading_dots_and_appends_the_end_mark) {
    BOOST_TEST(dot_stuff("") == ".\r\n");
    BOOST_TEST(dot_stuff("a\r\n") == "a\r\n.\r\n");
    BOOST_TEST(dot_stuff("a") == "a\r\n.\r\n");  // CRLF added before the end mark
    BOOST_TEST(dot_stuff(".\r\n") == "..\r\n.\r\n");
    BOOST_TEST(dot_stuff(".a\r\nb.\r\n..c") == "..a\r\nb.\r\n...c\r\n.\r\n");
}

BOOST_AUTO_TEST_CASE(dot_stuff_also_stuffs_after_a_bare_lf_so_no_lax_receiver_sees_an_end_mark) {
    BOOST_TEST(dot_stuff("a\n.\r\n") == "a\n..\r\n.\r\n");
}

BOOST_AUTO_TEST_CASE(grind_every_split_gives_the_same_consumed_status_and_message) {
    const std::string long_ok = std::string(998, 'x') + "\r\n";
    const std::string long_bad = std::string(999, 'x') + "\r\n";
    grind("line1\r\nline2\r\n.\r\nQUIT\r\n", big, expect(17, true, Status::ok, "line1\r\nline2\r\n", 14));
    grind(".\r\nNOOP\r\n", big, expect(3, true, Status::ok, "", 0));
    grind("..\r\n.a\r\n...\r\n.\r\n", big, expect(16, true, Status::ok, ".\r\na\r\n..\r\n", 10));
    grind("a\r\n.\r\n.\r\n", big, expect(6, true, Status::ok, "a\r\n", 3));
    grind("a\r\r\n.\r\nX", big, expect(7, true, Status::bare_line_ending, "", 4));
    grind("abc\r\n.\r\n", 5, expect(8, true, Status::ok, "abc\r\n", 5));
    grind("abcd\r\n.\r\nRSET\r\n", 5, expect(9, true, Status::too_large, "", 6));
    grind(long_ok + ".\r\n", big, expect(1003, true, Status::ok, long_ok, 1000));
    grind(long_bad + ".\r\nQUIT\r\n", big, expect(1004, true, Status::line_too_long, "", 1001));
    grind("." + std::string(998, 'y') + "\r\n.\r\n", big, expect(1004, true, Status::line_too_long, "", 1000));
    grind("unterminated\r\n.", big, expect(15, false, Status::ok, "unterminated\r\n", 14));
    for (const std::string& variant : smuggling_variants) {
        const std::string input = smuggle(variant);
        const Outcome o = whole(input);
        BOOST_TEST(o.consumed == input.size());
        grind(input + "QUIT\r\n", big, expect(input.size(), true, Status::bare_line_ending, "", o.octets));
        grind("line1" + variant, big, whole("line1" + variant));
    }
    const std::string nul = smuggle(std::string("\r\n\0.\r\n", 6));
    grind(nul, big, whole(nul));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- Properties ----

namespace {

// A message with CRLF line ends and no bare CR or LF, rich in leading dots; sometimes without
// a final CRLF.
rc::Gen<std::string> crlf_message() {
    const auto line_char = rc::gen::weightedOneOf<char>(
        {{4, rc::gen::just('.')}, {6, rc::gen::inRange<char>(32, 127)}, {1, rc::gen::arbitrary<char>()}});
    const auto line = rc::gen::suchThat(
        rc::gen::mapcat(rc::gen::inRange<std::size_t>(0, 12),
                        [line_char](std::size_t n) { return rc::gen::container<std::string>(n, line_char); }),
        [](const std::string& l) { return l.find_first_of("\r\n") == std::string::npos; });
    return rc::gen::map(
        rc::gen::pair(rc::gen::container<std::vector<std::string>>(line), rc::gen::arbitrary<bool>()),
        [](const std::pair<std::vector<std::string>, bool>& p) {
            std::string m;
            for (std::size_t i = 0; i < p.first.size(); ++i) {
                m += p.first[i];
                if (i + 1 < p.first.size() || p.second) {
                    m += "\r\n";
                }
            }
            return m;
        });
}

// Bytes mostly from the DATA phase's alphabet, so end marks and near-misses are frequent.
rc::Gen<std::string> data_bytes() {
    const auto piece = rc::gen::weightedOneOf<std::string>(
        {{6, rc::gen::element<std::string>("\r", "\n", ".", "\r\n", "\r\n.", ".\r\n", "\r\n.\r\n", "a", "..")},
         {1, rc::gen::arbitrary<std::string>()}});
    return rc::gen::map(rc::gen::container<std::vector<std::string>>(piece), [](const std::vector<std::string>& v) {
        std::string s;
        for (const auto& p : v) {
            s += p;
        }
        return s;
    });
}

std::vector<std::size_t> cuts_for(std::size_t size) {
    auto cuts = *rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(0, size + 1));
    std::sort(cuts.begin(), cuts.end());
    return cuts;
}

}  // namespace

RC_BOOST_PROP(reading_dot_stuffed_message_gives_it_back_and_stops_at_the_end_mark, ()) {
    const std::string m = *crlf_message();
    const std::string garbage = *rc::gen::arbitrary<std::string>();
    const std::string wire = dot_stuff(m);
    const Outcome o = feed(wire + garbage, cuts_for(wire.size() + garbage.size()));
    const bool ends_crlf = m.size() >= 2 && m.substr(m.size() - 2) == "\r\n";
    RC_ASSERT(o.done);
    RC_ASSERT(o.status == Status::ok);
    RC_ASSERT(o.consumed == wire.size());
    RC_ASSERT(o.message == (m.empty() || ends_crlf ? m : m + "\r\n"));
}

RC_BOOST_PROP(any_split_of_arbitrary_bytes_gives_the_same_outcome, ()) {
    const std::string input = *data_bytes();
    const std::uint64_t max = *rc::gen::inRange<std::uint64_t>(0, 64);
    RC_ASSERT(feed(input, cuts_for(input.size()), max) == whole(input, max));
    RC_ASSERT(feed(input, cuts_for(input.size()), big) == whole(input, big));
}

RC_BOOST_PROP(reader_never_stores_more_than_max_message_octets, ()) {
    const std::string input = *data_bytes();
    const std::uint64_t max = *rc::gen::inRange<std::uint64_t>(0, 32);
    // feed() checks the stored size after every piece.
    const Outcome o = feed(input, cuts_for(input.size()), max);
    RC_ASSERT(o.message.size() <= max);
    if (o.status == Status::ok) {
        RC_ASSERT(o.octets <= max);
        RC_ASSERT(o.message.size() == o.octets);
    } else {
        RC_ASSERT(o.message.empty());
    }
}
