// Tests for directory/passwd_file.hpp: Dovecot's passwd-file format, its schemes, and every
// way a line can be wrong (an error naming the file and line, nothing loaded).
#include "directory/passwd_file.hpp"

#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include <set>

using namespace pigeon;
using directory::parse_passwd_file;

namespace {

std::string error_of(std::string_view text) {
    auto r = parse_passwd_file(text, "/etc/pigeon/users");
    BOOST_REQUIRE(!r.ok());
    return r.error().message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(passwd_file)

// The shape of Dovecot's own example: all eight fields, some empty, and a comment.
BOOST_AUTO_TEST_CASE(reads_users_with_every_field_or_only_two) {
    const auto r = parse_passwd_file(
        "# users of example.org\n"
        "\n"
        "Bob@Example.org:{SHA512-CRYPT}$6$salt$abc:1000:1000:Bob B:/home/bob:/bin/false:userdb_quota_rule=*:storage=1G\n"
        "alice@example.org:{argon2id}$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA\r\n"
        "carol@example.org:{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui\n",
        "users");
    BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
    BOOST_TEST(r->users.size() == 3u);
    BOOST_TEST(r->warnings.empty());
    const auto* bob = r->find("bob@example.org");
    BOOST_REQUIRE(bob != nullptr);
    BOOST_TEST(bob->password_hash == "{SHA512-CRYPT}$6$salt$abc");
    const auto* alice = r->find("alice@example.org");
    BOOST_REQUIRE(alice != nullptr);
    BOOST_TEST(alice->password_hash.rfind("{ARGON2ID}$argon2id$", 0) == 0u);  // scheme upper-cased, CR gone
    BOOST_TEST(r->find("carol@example.org") != nullptr);
    BOOST_TEST(r->find("dave@example.org") == nullptr);
    BOOST_TEST(r->find("Bob@Example.org") == nullptr);  // the caller lower-cases
}

BOOST_AUTO_TEST_CASE(plain_passwords_load_with_a_warning_naming_the_line) {
    const auto r = parse_passwd_file("a@example.org:{PLAIN}secret\nb@example.org:{plain}x::::::\n", "users");
    BOOST_REQUIRE(r.ok());
    BOOST_REQUIRE(r->warnings.size() == 2u);
    BOOST_TEST(r->warnings[0] == "users:1: a@example.org has a {PLAIN} password: for test set-ups only");
    BOOST_TEST(r->warnings[1].rfind("users:2: ", 0) == 0u);
    BOOST_TEST(r->find("b@example.org")->password_hash == "{PLAIN}x");
}

BOOST_AUTO_TEST_CASE(an_unknown_scheme_is_an_error_naming_file_and_line) {
    BOOST_TEST(error_of("a@example.org:{PLAIN}x\nb@example.org:{MD5-CRYPT}$1$ab$cd\n") ==
               "/etc/pigeon/users:2: unknown password scheme {MD5-CRYPT} for b@example.org (known: ARGON2ID, "
               "BLF-CRYPT, SHA512-CRYPT, PLAIN)");
}

BOOST_AUTO_TEST_CASE(bad_lines_are_errors_naming_the_line) {
    BOOST_TEST(error_of("a@example.org\n") ==
               "/etc/pigeon/users:1: no ':' after the user (user@domain:{SCHEME}hash:...)");
    BOOST_TEST(error_of("#\nbob:{PLAIN}x\n") == "/etc/pigeon/users:2: user \"bob\" is not an address (local@domain)");
    BOOST_TEST(error_of("a@example.org::1000\n") == "/etc/pigeon/users:1: user a@example.org has no password");
    BOOST_TEST(error_of("a@example.org:$6$salt$abc\n").find("users:1: the password of a@example.org names no scheme") !=
               std::string::npos);
    BOOST_TEST(error_of("a@example.org:{PLAIN}\n") == "/etc/pigeon/users:1: user a@example.org has an empty {PLAIN} password");
    BOOST_TEST(error_of("a@example.org:{PLAIN\n").find("names no scheme") != std::string::npos);
    BOOST_TEST(error_of("a b@example.org:{PLAIN}x\n").find("is not an address") != std::string::npos);
    BOOST_TEST(error_of("@example.org:{PLAIN}x\n").find("is not an address") != std::string::npos);
    BOOST_TEST(error_of("a@example.org:{PLAIN}x\ry:1\n") ==
               "/etc/pigeon/users:1: the password of a@example.org has a control character");
}

BOOST_AUTO_TEST_CASE(a_user_twice_is_an_error_naming_both_lines) {
    BOOST_TEST(error_of("a@example.org:{PLAIN}x\n\nA@EXAMPLE.org:{PLAIN}y\n") ==
               "/etc/pigeon/users:3: user a@example.org appears again (first on line 1)");
}

BOOST_AUTO_TEST_CASE(a_line_over_the_bound_is_an_error) {
    const std::string line = "a@example.org:{PLAIN}" + std::string(directory::max_line_octets, 'x') + "\n";
    BOOST_TEST(error_of(line) == "/etc/pigeon/users:1: line longer than 4096 octets");
}

BOOST_AUTO_TEST_CASE(an_empty_file_has_no_users) {
    const auto r = parse_passwd_file("", "users");
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r->users.empty());
}

BOOST_AUTO_TEST_CASE(scheme_of_reads_the_prefix) {
    BOOST_TEST(directory::scheme_of("{blf-crypt}$2y$") == "BLF-CRYPT");
    BOOST_TEST(directory::scheme_of("$argon2id$") == "");
    BOOST_TEST(directory::scheme_of("{unclosed") == "");
}

// A file written from any set of distinct users parses back to exactly those users.
RC_BOOST_PROP(written_users_parse_back, ()) {
    // Local parts of 1 to 20 letters and digits (a local part may have 64: RFC 5321 4.5.3.1.1).
    const auto locals = *rc::gen::container<std::set<std::string>>(rc::gen::mapcat(
        rc::gen::inRange<std::size_t>(1, 21), [](std::size_t n) {
            return rc::gen::container<std::string>(n, rc::gen::elementOf(std::string("abcdefghij0123456789")));
        }));
    const auto password = *rc::gen::nonEmpty(
        rc::gen::container<std::string>(rc::gen::elementOf(std::string("abcXYZ019$./=+,"))));
    std::string text;
    for (const auto& l : locals) text += l + "@example.org:{SHA512-CRYPT}" + password + ":1:1::/home:/bin/sh\n";
    const auto r = parse_passwd_file(text, "gen");
    RC_ASSERT(r.ok());
    RC_ASSERT(r->users.size() == locals.size());
    for (const auto& l : locals) {
        const auto* u = r->find(l + "@example.org");
        RC_ASSERT(u != nullptr);
        RC_ASSERT(u->password_hash == "{SHA512-CRYPT}" + password);
    }
}

BOOST_AUTO_TEST_SUITE_END()
