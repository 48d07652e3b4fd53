// Tests for delivery/maildir.hpp on a fresh mkdtemp directory: files land in new/ with unique
// names, the Junk folder is a Maildir++ folder, unsafe paths are refused, errors are clean.
#include "delivery/maildir.hpp"

#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "queue/spool_fixtures.hpp"

using namespace pigeon;
namespace fs = std::filesystem;

namespace {

std::size_t count_files(const fs::path& dir) {
    std::size_t n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); ++it) ++n;
    return n;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

struct Writer {
    core::FixedClock clock{1'790'000'000};
    test::SeededRandom random{9};
    delivery::MaildirWriter writer{clock, random, "mx.example", 4242};
};

}  // namespace

BOOST_AUTO_TEST_SUITE(maildir)

BOOST_AUTO_TEST_CASE(delivers_into_new_with_unique_names) {
    test::TempDir dir;
    BOOST_REQUIRE(dir.ok());
    Writer w;
    const auto box = delivery::maildir_path(dir.path(), "example.org", "bob");
    BOOST_REQUIRE(box.ok());
    BOOST_TEST(box->string() == (dir.path() / "mail/example.org/bob/Maildir").string());
    std::set<std::string> names;
    for (int i = 0; i < 20; ++i) {
        const auto out = w.writer.deliver(*box, "", "Subject: " + std::to_string(i) + "\n\nhi\n");
        BOOST_REQUIRE_MESSAGE(out.ok(), test::why(out));
        BOOST_TEST(out->parent_path() == *box / "new");
        names.insert(out->filename().string());
    }
    BOOST_TEST(names.size() == 20u);
    BOOST_TEST(count_files(*box / "new") == 20u);
    BOOST_TEST(count_files(*box / "tmp") == 0u);
    BOOST_TEST(fs::is_directory(*box / "cur"));
    const std::string first = *names.begin();
    BOOST_TEST(first.rfind("1790000000.P4242Q", 0) == 0u);
    BOOST_TEST(first.find(".mx.example,S=") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(junk_goes_to_a_maildir_plus_plus_folder) {
    test::TempDir dir;
    BOOST_REQUIRE(dir.ok());
    Writer w;
    const fs::path box = dir.path() / "Maildir";
    const auto out = w.writer.deliver(box, "Junk", "spam\n");
    BOOST_REQUIRE(out.ok());
    BOOST_TEST(out->parent_path() == box / ".Junk" / "new");
    BOOST_TEST(fs::exists(box / ".Junk" / "maildirfolder"));
    BOOST_TEST(fs::is_directory(box / "new"));  // the root is a maildir too
    BOOST_TEST(count_files(box / "new") == 0u);
    BOOST_TEST(slurp(*out) == "spam\n");
    BOOST_TEST(!w.writer.deliver(box, "../x", "m").ok());
    BOOST_TEST(!w.writer.deliver(box, ".Junk", "m").ok());
}

BOOST_AUTO_TEST_CASE(unsafe_mailbox_names_are_refused) {
    for (const char* bad : {"", ".", "..", "a/b", ".hidden"}) {
        BOOST_TEST(!delivery::maildir_path("/state", bad, "bob").ok());
        BOOST_TEST(!delivery::maildir_path("/state", "example.org", bad).ok());
    }
    BOOST_TEST(delivery::maildir_path("/state", "[192.0.2.1]", "bob.smith").ok());
}

BOOST_AUTO_TEST_CASE(unique_name_format) {
    BOOST_TEST(delivery::maildir_unique_name(1700000000, 12, 3, 0xABCDEFull, "host/a:b", 99) ==
               "1700000000.P12Q3R0000000000abcdef.host\\057a\\072b,S=99");
}

BOOST_AUTO_TEST_CASE(content_gets_return_path_and_lf_line_ends) {
    const auto content = delivery::maildir_content(test::path_of("alice@example.org"), test::path_of("bob@example.net"),
                                                   "Subject: x\r\n\r\nbody\r\n");
    BOOST_TEST(content == "Return-Path: <alice@example.org>\nDelivered-To: bob@example.net\nSubject: x\n\nbody\n");
    BOOST_TEST(delivery::maildir_content(core::Path::null_path(), test::path_of("b@x.example"), "").rfind(
                   "Return-Path: <>\n", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(errors_are_clean_and_leave_nothing_behind) {
    test::TempDir dir;
    BOOST_REQUIRE(dir.ok());
    Writer w;
    // A file where a directory should be.
    std::ofstream((dir.path() / "blocked").string()) << "x";
    const auto blocked = w.writer.deliver(dir.path() / "blocked" / "Maildir", "", "m");
    BOOST_REQUIRE(!blocked.ok());
    BOOST_TEST(blocked.error().message.find("Not a directory") != std::string::npos);

    // A real write failure: the file size limit (EFBIG, like ENOSPC for our purposes).
    const fs::path box = dir.path() / "Maildir";
    BOOST_REQUIRE(w.writer.deliver(box, "", "small\n").ok());
    rlimit old{};
    ::getrlimit(RLIMIT_FSIZE, &old);
    const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    rlimit lowered = old;
    lowered.rlim_cur = 1024;
    ::setrlimit(RLIMIT_FSIZE, &lowered);
    const auto big = w.writer.deliver(box, "", std::string(50'000, 'x'));
    ::setrlimit(RLIMIT_FSIZE, &old);
    ::signal(SIGXFSZ, old_handler);
    BOOST_REQUIRE(!big.ok());
    BOOST_TEST_MESSAGE("error seen: " << big.error().message);
    BOOST_TEST(big.error().message.find("File too large") != std::string::npos);
    BOOST_TEST(count_files(box / "tmp") == 0u);
    BOOST_TEST(count_files(box / "new") == 1u);  // only the earlier small one
}

BOOST_AUTO_TEST_SUITE_END()
