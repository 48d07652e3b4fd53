// Logger's file target: opened by open() (after the server's privilege drop), the lines from
// before held and written first, the file created 0640 whatever the umask, and a failed open
// reported with the path, the lines then going to stderr rather than being lost.
#include "app/logger.hpp"
#include "support/temp_dir.hpp"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace app = pigeon::app;
namespace fs = std::filesystem;
using pigeon::net::LogLevel;

namespace {

using pigeon::test::TempDir;

std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

app::LogOptions to_file(const fs::path& p) {
    app::LogOptions o;
    o.level = LogLevel::info;
    o.target = app::LogOptions::Target::file;
    o.file = p.string();
    return o;
}

struct Umask {
    mode_t old;
    explicit Umask(mode_t m) : old(::umask(m)) {}
    ~Umask() { ::umask(old); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(logger_file_target)

BOOST_AUTO_TEST_CASE(nothing_is_created_before_open_and_the_held_lines_come_first) {
    TempDir dir;
    const fs::path file = dir.path() / "pigeon.log";
    Umask mask(0077);  // the unit's UMask
    app::Logger log(to_file(file));
    log(LogLevel::info, "first, as root");
    log(LogLevel::warn, "second, a warning");
    BOOST_TEST(!fs::exists(file));
    BOOST_TEST(log.open());
    BOOST_TEST(log.open_error().empty());
    log(LogLevel::info, "third, after the drop");
    log.flush();
    const std::string text = read(file);
    const auto a = text.find("first, as root"), b = text.find("second, a warning"), c = text.find("third, after");
    BOOST_TEST_REQUIRE(a != std::string::npos);
    BOOST_TEST_REQUIRE(b != std::string::npos);
    BOOST_TEST_REQUIRE(c != std::string::npos);
    BOOST_TEST((a < b && b < c));
    struct stat st{};
    BOOST_TEST_REQUIRE(::stat(file.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0640u);
}

BOOST_AUTO_TEST_CASE(an_existing_file_is_appended_to_and_keeps_its_mode) {
    TempDir dir;
    const fs::path file = dir.path() / "pigeon.log";
    dir.write("pigeon.log", "an older line\n");
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
    app::Logger log(to_file(file));
    BOOST_TEST(log.open());
    log(LogLevel::info, "a new line");
    log.flush();
    const std::string text = read(file);
    BOOST_TEST(text.rfind("an older line\n", 0) == 0u);
    BOOST_TEST(text.find("a new line") != std::string::npos);
    struct stat st{};
    BOOST_TEST_REQUIRE(::stat(file.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0600u);
}

BOOST_AUTO_TEST_CASE(a_file_that_cannot_be_created_is_reported_with_its_path) {
    TempDir dir;
    const fs::path file = dir.path() / "missing" / "pigeon.log";
    app::Logger log(to_file(file));
    log(LogLevel::info, "held, then sent to stderr");
    BOOST_TEST(!log.open());
    BOOST_TEST(log.open_error().find(file.string()) != std::string::npos);
    BOOST_TEST(log.open_error().find("No such file or directory") != std::string::npos);
    BOOST_TEST(!fs::exists(file));
}

BOOST_AUTO_TEST_CASE(other_targets_need_no_open) {
    app::LogOptions o;
    o.target = app::LogOptions::Target::standard_error;
    app::Logger log(o);
    BOOST_TEST(log.open());
    BOOST_TEST(log.open_error().empty());
}

BOOST_AUTO_TEST_SUITE_END()
