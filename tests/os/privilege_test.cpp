// Tests for os/privilege.hpp: account lookup, the key-file mode rule, and the drop itself (in
// a forked child, so the test process keeps its own credentials).
#include "os/privilege.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <functional>

#include "support/temp_dir.hpp"

namespace os = pigeon::os;

namespace {

std::string write_file(const pigeon::test::TempDir& dir, const std::string& name, mode_t mode) {
    const std::string path = (dir.path() / name).string();
    std::ofstream(path) << "-----BEGIN PRIVATE KEY-----\n";
    ::chmod(path.c_str(), mode);
    return path;
}

// Runs `child` in a forked process; its return value is the exit status.
int in_child(const std::function<int()>& child) {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(child());
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

// Dropping needs root; the suite runs as root in CI (scripts/test), and reports these as
// skipped otherwise.
struct AsRoot {
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        return os::started_as_root();
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(privilege_tests)

BOOST_AUTO_TEST_CASE(find_account_gives_the_users_ids_and_primary_group) {
    auto a = os::find_account("nobody", "");
    BOOST_REQUIRE(a.ok());
    const passwd* pw = ::getpwnam("nobody");
    BOOST_REQUIRE(pw != nullptr);
    BOOST_TEST(a->uid == pw->pw_uid);
    BOOST_TEST(a->gid == pw->pw_gid);
    BOOST_TEST(a->user == "nobody");
    BOOST_TEST(!a->group.empty());
}

BOOST_AUTO_TEST_CASE(a_named_group_replaces_the_primary_one) {
    const group* gr = ::getgrnam("nogroup");
    BOOST_REQUIRE(gr != nullptr);
    auto a = os::find_account("nobody", "nogroup");
    BOOST_REQUIRE(a.ok());
    BOOST_TEST(a->gid == gr->gr_gid);
    BOOST_TEST(a->group == "nogroup");
}

BOOST_AUTO_TEST_CASE(missing_user_or_group_and_root_are_errors_that_say_which) {
    auto no_user = os::find_account("pigeon-no-such-user", "");
    BOOST_REQUIRE(!no_user.ok());
    BOOST_TEST(no_user.error().message.find("user = \"pigeon-no-such-user\"") != std::string::npos);
    auto no_group = os::find_account("nobody", "pigeon-no-such-group");
    BOOST_REQUIRE(!no_group.ok());
    BOOST_TEST(no_group.error().message.find("group = \"pigeon-no-such-group\"") != std::string::npos);
    auto root = os::find_account("root", "");
    BOOST_REQUIRE(!root.ok());
    BOOST_TEST(root.error().message.find("uid 0") != std::string::npos);
    auto root_group = os::find_account("nobody", "root");
    BOOST_REQUIRE(!root_group.ok());
    BOOST_TEST(root_group.error().message.find("gid 0") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(keys_readable_or_writable_by_others_are_refused) {
    pigeon::test::TempDir dir;
    BOOST_TEST(os::check_private_key_file(write_file(dir, "a.key", 0600)).ok());
    BOOST_TEST(os::check_private_key_file(write_file(dir, "b.key", 0640)).ok());  // ssl-cert group
    BOOST_TEST(os::check_private_key_file(write_file(dir, "c.key", 0400)).ok());
    for (mode_t bad : {0644, 0604, 0602, 0666}) {
        const std::string path = write_file(dir, "bad.key", bad);
        auto s = os::check_private_key_file(path);
        BOOST_REQUIRE(!s.ok());
        BOOST_TEST(s.error().message.find(path) != std::string::npos);
        BOOST_TEST(s.error().message.find("chmod o-rwx") != std::string::npos);
    }
    // The mode of what a link points at is what counts (certbot's live/ holds links).
    const std::string target = write_file(dir, "target.key", 0644);
    const std::string link = (dir.path() / "link.key").string();
    BOOST_REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
    BOOST_TEST(!os::check_private_key_file(link).ok());
    BOOST_TEST(!os::check_private_key_file((dir.path() / "missing.key").string()).ok());
}

BOOST_AUTO_TEST_CASE(drop_to_changes_every_id_for_good, *boost::unit_test::precondition(AsRoot{})) {
    auto a = os::find_account("nobody", "nogroup");
    BOOST_REQUIRE(a.ok());
    const os::Account account = a.value();
    const int status = in_child([&] {
        if (!os::drop_to(account).ok()) return 1;
        uid_t r, e, s;
        gid_t rg, eg, sg;
        ::getresuid(&r, &e, &s);
        ::getresgid(&rg, &eg, &sg);
        if (r != account.uid || e != account.uid || s != account.uid) return 2;
        if (rg != account.gid || eg != account.gid || sg != account.gid) return 3;
        if (::setuid(0) == 0 || ::seteuid(0) == 0) return 4;
        gid_t groups[8];
        const int n = ::getgroups(8, groups);
        if (n != 1 || groups[0] != account.gid) return 5;
        return 0;
    });
    BOOST_TEST(status == 0);
}

BOOST_AUTO_TEST_CASE(after_the_drop_nothing_can_be_changed_back, *boost::unit_test::precondition(AsRoot{})) {
    auto a = os::find_account("nobody", "nogroup");
    BOOST_REQUIRE(a.ok());
    const os::Account account = a.value();
    // Already nobody (real, effective and saved): dropping again to another account must fail
    // at setgroups, and say so, not pretend.
    const int status = in_child([&] {
        if (!os::drop_to(account).ok()) return 1;
        os::Account other = account;
        other.uid = 0;
        other.gid = 0;
        auto again = os::drop_to(other);
        return again.ok() ? 2 : 0;
    });
    BOOST_TEST(status == 0);
}

BOOST_AUTO_TEST_CASE(give_to_and_owned_by, *boost::unit_test::precondition(AsRoot{})) {
    pigeon::test::TempDir dir;
    auto a = os::find_account("nobody", "nogroup");
    BOOST_REQUIRE(a.ok());
    const std::string path = write_file(dir, "f", 0600);
    BOOST_TEST(!os::owned_by(path, *a));
    BOOST_REQUIRE(os::give_to(path, *a).ok());
    BOOST_TEST(os::owned_by(path, *a));
    struct stat st {};
    ::stat(path.c_str(), &st);
    BOOST_TEST(st.st_gid == a->gid);
}

BOOST_AUTO_TEST_SUITE_END()
