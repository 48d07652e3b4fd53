// tests/config/maildir_template_test.cpp: [delivery] maildir templates (%d %n %u %%): what they
// expand to, what they refuse, and the law that no address moves a path out of the template's
// fixed prefix.
#include "config/maildir_template.hpp"

#include <rapidcheck.h>
#include <rapidcheck/boost_test.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>

namespace config = pigeon::config;

namespace {

std::string expanded(std::string_view t, std::string_view address) {
    auto r = config::expand_maildir(t, address);
    return r ? r.value() : "error: " + r.error().message;
}

bool refused(std::string_view t, std::string_view address) { return !config::expand_maildir(t, address); }

}  // namespace

BOOST_AUTO_TEST_SUITE(maildir_template)

BOOST_AUTO_TEST_CASE(expands_dovecot_letters_lower_cased) {
    BOOST_TEST(expanded("/var/vmail/%d/%n/Maildir", "Bob@Example.ORG") == "/var/vmail/example.org/bob/Maildir");
    BOOST_TEST(expanded("/var/vmail/%u", "Bob@Example.org") == "/var/vmail/bob@example.org");
    BOOST_TEST(expanded("/srv/100%%/%n", "x@y.test") == "/srv/100%/x");
    BOOST_TEST(expanded("/m/%d-%n/Maildir", "a@b.test") == "/m/b.test-a/Maildir");
    BOOST_TEST(expanded("/fixed/Maildir", "a@b.test") == "/fixed/Maildir");  // one shared Maildir
    BOOST_TEST(config::default_maildir_template("/var/lib/pigeon") == "/var/lib/pigeon/mail/%d/%n/Maildir");
    BOOST_TEST(config::default_maildir_template("/odd%dir/") == "/odd%%dir/mail/%d/%n/Maildir");
    BOOST_TEST(expanded(config::default_maildir_template("/odd%dir"), "a@b.test") == "/odd%dir/mail/b.test/a/Maildir");
}

BOOST_AUTO_TEST_CASE(bad_templates_are_refused_with_a_reason) {
    BOOST_TEST(!config::maildir_template_problem("/var/vmail/%d/%n/Maildir"));
    BOOST_TEST(*config::maildir_template_problem("") == "must be an absolute path (it starts with '/')");
    BOOST_TEST(*config::maildir_template_problem("vmail/%d") == "must be an absolute path (it starts with '/')");
    BOOST_TEST(*config::maildir_template_problem("/v/%h/Maildir") ==
               "has an unknown expansion %h (%d domain, %n local part, %u whole address, %% a percent sign)");
    BOOST_TEST(*config::maildir_template_problem("/v/%D") ==
               "has an unknown expansion %D (%d domain, %n local part, %u whole address, %% a percent sign)");
    BOOST_TEST(*config::maildir_template_problem("/v/%") == "ends in '%' (write %% for a percent sign)");
    BOOST_TEST(*config::maildir_template_problem("/v/../%n") == "has a \".\" or \"..\" component");
    BOOST_TEST(*config::maildir_template_problem("/v/./%n") == "has a \".\" or \"..\" component");
    BOOST_TEST(*config::maildir_template_problem(std::string_view("/v/\0/%n", 7)) == "holds NUL");
    BOOST_TEST(refused("/v/%q", "a@b.test"));
}

BOOST_AUTO_TEST_CASE(addresses_that_would_move_the_path_are_refused) {
    const char* t = "/var/vmail/%d/%n/Maildir";
    BOOST_TEST(refused(t, "..@example.org"));
    BOOST_TEST(refused(t, ".hidden@example.org"));
    BOOST_TEST(refused(t, "a/../../etc@example.org"));
    BOOST_TEST(refused(t, "bob@.."));
    BOOST_TEST(refused(t, "bob@"));
    BOOST_TEST(refused(t, "@example.org"));
    BOOST_TEST(refused(t, "nodomain"));
    BOOST_TEST(refused(t, std::string_view("a\0b@example.org", 15)));
    BOOST_TEST(refused(t, "a\nb@example.org"));
    BOOST_TEST(refused("/v/%u", "../x@y"));
    BOOST_TEST(expanded(t, "..@example.org") ==
               "error: %n of \"..@example.org\" starts with '.': not usable in a Maildir path");
    BOOST_TEST(expanded(t, "a/b@example.org") == "error: %n of \"a/b@example.org\" holds '/': not usable in a Maildir path");
    // A '.' inside a part is an ordinary character.
    BOOST_TEST(expanded(t, "first.last@example.org") == "/var/vmail/example.org/first.last/Maildir");
}

BOOST_AUTO_TEST_CASE(fixed_prefix_is_the_directory_before_the_first_expansion) {
    BOOST_TEST(config::fixed_prefix("/var/vmail/%d/%n/Maildir") == "/var/vmail/");
    BOOST_TEST(config::fixed_prefix("/var/vmail/x%d") == "/var/vmail/");
    BOOST_TEST(config::fixed_prefix("/a%%b/%n") == "/a%b/");
    BOOST_TEST(config::fixed_prefix("/fixed/Maildir") == "/fixed/");
}

// The law: whatever the address, an expansion is refused, or it starts with the fixed
// prefix and has no "." or ".." component (so the filesystem cannot resolve it elsewhere).
RC_BOOST_PROP(expansion_never_leaves_the_fixed_prefix, ()) {
    const auto piece = rc::gen::container<std::string>(rc::gen::oneOf(
        rc::gen::elementOf(std::string("./%@\\\0\n aZ.-+", 13)), rc::gen::arbitrary<char>()));
    const std::string local = *piece;
    const std::string domain = *piece;
    const std::string address = local + "@" + domain;
    const std::string t = *rc::gen::elementOf(std::vector<std::string>{
        "/var/vmail/%d/%n/Maildir", "/var/vmail/%u", "/v/%n%d", "/v/x%n/y", "/v/%%/%d/%n"});
    RC_ASSERT(!config::maildir_template_problem(t));
    const auto r = config::expand_maildir(t, address);
    if (!r) return;
    const std::string& p = r.value();
    const std::string prefix = config::fixed_prefix(t);
    RC_ASSERT(p.compare(0, prefix.size(), prefix) == 0);
    RC_ASSERT(p.find('\0') == std::string::npos);
    for (const auto& part : std::filesystem::path(p)) RC_ASSERT(part != "." && part != "..");
    RC_ASSERT(std::filesystem::path(p).lexically_normal() == std::filesystem::path(p));
}

BOOST_AUTO_TEST_SUITE_END()
