// smtp/server/replies.hpp: the one table of the server's replies, and the two things that share it:
// docs/protocol.md's reply table and the conformance transcripts.
#include "smtp/server/replies.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "support/assertion_recorder.hpp"

namespace replies = pigeon::smtp::replies;

namespace {

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// A Spec's first wire line as a pattern: the code, the separator, the enhanced status and the
// text, with each {mark} standing for any text.
std::regex pattern_of(const replies::Spec& s) {
    std::string p = std::to_string(s.code) + "[ -]";
    if (!s.enhanced.empty()) p += std::regex_replace(std::string(s.enhanced), std::regex("\\."), "\\.") + " ";
    std::string_view text = s.text;
    while (!text.empty()) {
        const auto open = text.find('{');
        const std::string literal(text.substr(0, open));
        p += std::regex_replace(literal, std::regex(R"([.^$|()\[\]*+?\\{}])"), R"(\$&)");
        if (open == std::string_view::npos) break;
        p += ".*";
        text.remove_prefix(text.find('}', open) + 1);
    }
    return std::regex(p);
}

constexpr std::string_view begin_mark = "<!-- reply table: generated from src/smtp/server/replies.hpp -->\n";
constexpr std::string_view end_mark = "<!-- end of generated reply table -->\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(replies_catalogue)

BOOST_AUTO_TEST_CASE(marks_are_filled_in_order) {
    BOOST_TEST(replies::quit.text_with({"mx.example"}) == "mx.example closing connection");
    BOOST_TEST(replies::ehlo.text_with({"mx.example", "client.example"}) ==
               "mx.example greets client.example");
    const pigeon::core::Reply r = replies::queued.reply({"Q1"});
    BOOST_TEST(pigeon::core::format_reply(r) == "250 2.0.0 OK: queued as Q1\r\n");
    BOOST_TEST(pigeon::core::format_reply(replies::start_data.reply()) ==
               "354 End data with <CR><LF>.<CR><LF>\r\n");
    BOOST_TEST(pigeon::core::format_reply(replies::greeting.reply({"h"})) == "220 h ESMTP Pigeon\r\n");
}

BOOST_AUTO_TEST_CASE(a_missing_or_extra_value_is_a_bug_that_is_asserted) {
    pigeon::test::AssertionRecorder recorder;
    BOOST_TEST(replies::ok.text_with({"surplus"}) == "OK");
    BOOST_TEST(recorder.seen().size() == 1u);
    BOOST_TEST(replies::ok.text_with() == "OK");
    BOOST_TEST(recorder.seen().size() == 1u);
}

BOOST_AUTO_TEST_CASE(every_entry_is_a_well_formed_reply_with_a_unique_name) {
    std::set<std::string_view> names;
    for (const replies::Spec* s : replies::catalogue()) {
        BOOST_TEST_CONTEXT(s->name) {
            BOOST_TEST(names.insert(s->name).second);
            BOOST_TEST(!s->situation.empty());
            BOOST_TEST(!s->rfc.empty());
            // Reply's constructor throws on an enhanced status of another class than the code.
            std::size_t marks = 0;
            for (char c : s->text) marks += c == '{';
            std::vector<std::string> values(marks, "x");
            BOOST_CHECK_NO_THROW(
                (marks == 0 ? s->reply()
                 : marks == 1 ? s->reply({values[0]})
                              : s->reply({values[0], values[1]})));
            // RFC 2034 3: an enhanced status on every reply but the greeting, HELO/EHLO and 3xx.
            const bool bare = s->code / 100 == 3 || s == &replies::greeting ||
                              s == &replies::helo || s == &replies::ehlo;
            BOOST_TEST(s->enhanced.empty() == bare);
        }
    }
}

BOOST_AUTO_TEST_CASE(docs_protocol_md_holds_the_generated_table) {
    const std::filesystem::path doc = std::filesystem::path(PIGEON_SOURCE_DIR) / "docs/protocol.md";
    std::string text = read_file(doc);
    const auto begin = text.find(begin_mark);
    const auto end = text.find(end_mark);
    BOOST_REQUIRE_MESSAGE(begin != std::string::npos && end != std::string::npos && begin < end,
                          "docs/protocol.md lacks the generated reply table's marks");
    const std::size_t from = begin + begin_mark.size();
    const std::string generated = replies::markdown_table();
    if (std::getenv("PIGEON_REGENERATE_DOCS") != nullptr) {
        text.replace(from, end - from, generated);
        std::ofstream(doc, std::ios::binary | std::ios::trunc) << text;
        return;
    }
    BOOST_TEST(text.substr(from, end - from) == generated,
               "docs/protocol.md's reply table differs from src/smtp/server/replies.hpp: run "
               "PIGEON_REGENERATE_DOCS=1 build/dev/tests/smtp_tests --run_test=replies_catalogue");
}

BOOST_AUTO_TEST_CASE(every_reply_in_the_transcripts_is_in_the_catalogue) {
    std::vector<std::pair<const replies::Spec*, std::regex>> patterns;
    for (const replies::Spec* s : replies::catalogue()) patterns.emplace_back(s, pattern_of(*s));
    std::set<std::string_view> used;
    std::size_t checked = 0;
    const auto dir = std::filesystem::path(PIGEON_SOURCE_DIR) / "conformance/transcripts";
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        std::istringstream in(read_file(entry.path()));
        bool continuing = false;  // the previous S: line ended in "ddd-": this one continues it
        for (std::string line; std::getline(in, line);) {
            if (line.rfind("S: ", 0) != 0) {
                continuing = false;
                continue;
            }
            const std::string wire = line.substr(3);
            const bool first_line = !continuing;
            continuing = wire.size() > 3 && wire[3] == '-';
            if (!first_line) continue;  // EHLO's extensions, HELP's further lines
            ++checked;
            bool found = false;
            for (const auto& [spec, re] : patterns) {
                if (std::regex_match(wire, re)) {
                    found = true;
                    used.insert(spec->name);
                }
            }
            BOOST_TEST(found, entry.path().filename().string() << ": \"" << wire
                                                                << "\" is not in smtp/server/replies.hpp");
        }
    }
    BOOST_TEST(checked > 500u);
    BOOST_TEST(used.size() > 30u);  // the transcripts exercise most of the table
}

BOOST_AUTO_TEST_SUITE_END()
