// net::SpillDirectory: unnamed spill files for large messages (net/spill.hpp). What goes in with
// write() comes back byte for byte from finish(); nothing is ever visible in the directory; the
// file (and its mapping) goes with the last MessageRef; failures say so instead of throwing.
#include "net/spill.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using pigeon::net::SpillDirectory;
using pigeon::test::TempDir;

namespace {

std::size_t entries(const fs::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spill_directory)

BOOST_AUTO_TEST_CASE(creates_the_directory_private) {
    TempDir t;
    const fs::path dir = t.path() / "incoming";
    SpillDirectory spill(dir.string());
    BOOST_TEST(fs::is_directory(dir));
    BOOST_TEST(static_cast<unsigned>(fs::status(dir).permissions() & fs::perms::all) == 0700u);
    // A second server start finds it there.
    SpillDirectory again(dir.string());
    BOOST_TEST(again.path() == dir.string());
}

BOOST_AUTO_TEST_CASE(what_is_written_comes_back_and_no_name_is_left) {
    TempDir t;
    SpillDirectory spill((t.path() / "incoming").string());
    auto file = spill.open();
    BOOST_REQUIRE(file);
    BOOST_TEST(spill.open_files() == 1u);
    std::string expected;
    for (int i = 0; i < 300; ++i) {
        std::string chunk(1000 + i, static_cast<char>('a' + i % 26));
        chunk += "\r\n";
        BOOST_TEST(file->write(chunk));
        expected += chunk;
    }
    BOOST_TEST(entries(t.path() / "incoming") == 0u);  // unnamed while written
    pigeon::core::MessageRef message = file->finish();
    BOOST_REQUIRE(static_cast<bool>(message));
    BOOST_TEST(message.size() == expected.size());
    BOOST_TEST(message.to_string() == expected);
    BOOST_TEST(message.contiguous() == expected);
    file.reset();
    BOOST_TEST(spill.open_files() == 1u);  // the mapping keeps it
    pigeon::core::MessageRef copy = message;
    message = {};
    BOOST_TEST(spill.open_files() == 1u);
    BOOST_TEST(copy.to_string() == expected);
    copy = {};
    BOOST_TEST(spill.open_files() == 0u);
    BOOST_TEST(entries(t.path() / "incoming") == 0u);
}

BOOST_AUTO_TEST_CASE(an_empty_file_finishes_as_an_empty_message) {
    TempDir t;
    SpillDirectory spill((t.path() / "incoming").string());
    auto file = spill.open();
    BOOST_REQUIRE(file);
    const auto message = file->finish();
    BOOST_TEST(static_cast<bool>(message));
    BOOST_TEST(message.size() == 0u);
}

BOOST_AUTO_TEST_CASE(an_abandoned_file_goes_at_once) {
    TempDir t;
    SpillDirectory spill((t.path() / "incoming").string());
    {
        auto a = spill.open();
        auto b = spill.open();
        BOOST_REQUIRE(a && b);
        BOOST_TEST(a->write("partial"));
        BOOST_TEST(spill.open_files() == 2u);
    }
    BOOST_TEST(spill.open_files() == 0u);
    BOOST_TEST(entries(t.path() / "incoming") == 0u);
}

BOOST_AUTO_TEST_CASE(finish_twice_says_no_the_second_time) {
    TempDir t;
    SpillDirectory spill((t.path() / "incoming").string());
    auto file = spill.open();
    BOOST_REQUIRE(file);
    BOOST_TEST(file->write("x"));
    BOOST_TEST(static_cast<bool>(file->finish()));
    BOOST_TEST(!static_cast<bool>(file->finish()));
    BOOST_TEST(!file->write("y"));
}

BOOST_AUTO_TEST_CASE(a_directory_that_cannot_be_made_is_a_startup_error) {
    TempDir t;
    const fs::path blocker = t.path() / "file";
    std::ofstream(blocker) << "not a directory";
    try {
        SpillDirectory spill((blocker / "incoming").string());
        BOOST_FAIL("expected an error");
    } catch (const std::runtime_error& e) {
        BOOST_TEST(std::string(e.what()).find((blocker / "incoming").string()) != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(a_vanished_directory_gives_no_file) {
    TempDir t;
    const fs::path dir = t.path() / "incoming";
    SpillDirectory spill(dir.string());
    fs::remove(dir);
    BOOST_TEST(!spill.open());  // the session answers 452 4.3.1 (smtp/spill_test.cpp)
    BOOST_TEST(spill.open_files() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
