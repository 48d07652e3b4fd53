// policy/directory.hpp: relay denial, unknown users, postmaster, send-as-yourself, Date/Message-ID.
#include "policy/directory.hpp"

#include "config/model.hpp"

#include <boost/test/unit_test.hpp>

using namespace pigeon;
using policy::Directory;
using smtp::Role;

namespace {

Directory directory() {
    config::User alice{"alice@test.example", "$argon2id$x", {"sales@test.example"}};
    config::User bob{"bob@test.example", "$argon2id$y", {}};
    return Directory({"test.example", "Other.Example"}, {alice, bob});
}

core::Path path(const std::string& text) { return core::parse_forward_path(text).value(); }

smtp::CheckRecipient rcpt(const std::string& text) {
    return smtp::CheckRecipient{core::Envelope{}, path(text)};
}

smtp::CheckSender sender(const std::string& from, const std::string& user) {
    core::Envelope e;
    e.reverse_path = from == "<>" ? core::Path::null_path() : path(from);
    e.auth_identity = user;
    return smtp::CheckSender{e};
}

smtp::CheckMessage message(const std::string& text, const std::string& user) {
    core::Envelope e;
    e.auth_identity = user;
    return smtp::CheckMessage{e, std::make_shared<const std::string>(text)};
}

std::string reply_of(const smtp::Verdict& v) {
    return v.reply ? core::format_reply(*v.reply) : std::string("(default)");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(directory_rules)

BOOST_AUTO_TEST_CASE(inbound_accepts_local_users_aliases_and_postmaster) {
    auto d = directory();
    for (const char* ok : {"<alice@test.example>", "<ALICE@Test.Example>", "<sales@test.example>",
                           "<postmaster@test.example>", "<Postmaster>", "<postmaster@other.example>"})
        BOOST_TEST(policy::check_recipient(d, Role::inbound, rcpt(ok)).accept, ok);
    BOOST_TEST(d.recipient(path("<postmaster@test.example>"))->address == "alice@test.example");
}

BOOST_AUTO_TEST_CASE(discard_addresses_are_accepted_like_users_in_both_roles) {
    config::User alice{"alice@test.example", "$argon2id$x", {}};
    const Directory d({"test.example"}, {alice}, {"NoReply@test.example"});
    for (const Role role : {Role::inbound, Role::submission}) {
        for (const char* ok : {"<noreply@test.example>", "<NOREPLY@Test.Example>"}) {
            BOOST_TEST(policy::check_recipient(d, role, rcpt(ok)).accept, ok);
            BOOST_TEST(d.discards(path(ok)), ok);
            BOOST_TEST(d.recipient(path(ok)) == nullptr, ok);  // nobody's mailbox
        }
        BOOST_TEST(!policy::check_recipient(d, role, rcpt("<noreply2@test.example>")).accept);
    }
    BOOST_TEST(!d.discards(path("<alice@test.example>")));
    BOOST_TEST(!d.discards(path("<Postmaster>")));
    BOOST_TEST(!directory().discards(path("<noreply@test.example>")));  // none by default
}

BOOST_AUTO_TEST_CASE(inbound_refuses_unknown_users_with_550_5_1_1) {
    auto d = directory();
    auto v = policy::check_recipient(d, Role::inbound, rcpt("<carol@test.example>"));
    BOOST_TEST(!v.accept);
    BOOST_TEST(reply_of(v) ==
               "550 5.1.1 <carol@test.example>: Recipient address rejected: User unknown\r\n");
}

BOOST_AUTO_TEST_CASE(inbound_is_never_an_open_relay) {
    auto d = directory();
    auto v = policy::check_recipient(d, Role::inbound, rcpt("<someone@elsewhere.example>"));
    BOOST_TEST(!v.accept);
    BOOST_TEST(reply_of(v) == "554 5.7.1 <someone@elsewhere.example>: Relay access denied\r\n");
}

BOOST_AUTO_TEST_CASE(submission_relays_but_still_checks_local_users) {
    auto d = directory();
    BOOST_TEST(policy::check_recipient(d, Role::submission, rcpt("<x@elsewhere.example>")).accept);
    BOOST_TEST(!policy::check_recipient(d, Role::submission, rcpt("<carol@test.example>")).accept);
}

BOOST_AUTO_TEST_CASE(submission_sender_must_be_the_users_own_address) {
    auto d = directory();
    BOOST_TEST(policy::check_sender(d, Role::submission, sender("<alice@test.example>", "alice@test.example")).accept);
    BOOST_TEST(policy::check_sender(d, Role::submission, sender("<Sales@test.example>", "alice@test.example")).accept);
    auto v = policy::check_sender(d, Role::submission, sender("<bob@test.example>", "alice@test.example"));
    BOOST_TEST(!v.accept);
    BOOST_TEST(reply_of(v) ==
               "553 5.7.1 Sender address <bob@test.example> not owned by user alice@test.example\r\n");
    BOOST_TEST(!policy::check_sender(d, Role::submission, sender("<>", "alice@test.example")).accept);
    BOOST_TEST(policy::check_sender(d, Role::inbound, sender("<anyone@x.example>", "")).accept);
}

// A login authenticated elsewhere ([auth] dovecot) may be an address with no [[users]] entry:
// it owns that address only; with an entry, the entry's aliases too; a login that is no
// address owns nothing.
BOOST_AUTO_TEST_CASE(a_login_without_a_users_entry_owns_its_own_address_only) {
    auto d = directory();
    BOOST_TEST(d.owns("carol@test.example", "carol@test.example"));
    BOOST_TEST(d.owns("carol@test.example", "Carol@Test.Example"));
    BOOST_TEST(!d.owns("carol@test.example", "sales@test.example"));
    BOOST_TEST(!d.owns("carol@test.example", "alice@test.example"));
    BOOST_TEST(d.owns("ALICE@test.example", "sales@test.example"));  // the entry's alias
    BOOST_TEST(!d.owns("carol", "carol@test.example"));
    BOOST_TEST(!d.owns("", ""));
    BOOST_TEST(policy::check_sender(d, Role::submission, sender("<carol@test.example>", "carol@test.example")).accept);
    auto v = policy::check_sender(d, Role::submission, sender("<alice@test.example>", "carol@test.example"));
    BOOST_TEST(reply_of(v) == "553 5.7.1 Sender address <alice@test.example> not owned by user carol@test.example\r\n");
    policy::MessageStamp stamp{"Sun, 22 Nov 2026 05:00:00 +0000", "<id@mx.test.example>"};
    BOOST_TEST(policy::check_message(d, Role::submission,
                                     message("From: carol@test.example\r\n\r\nhi\r\n", "carol@test.example"), stamp)
                   .accept);
    BOOST_TEST(!policy::check_message(d, Role::submission,
                                      message("From: bob@test.example\r\n\r\nhi\r\n", "carol@test.example"), stamp)
                    .accept);
}

BOOST_AUTO_TEST_CASE(submission_from_header_must_be_owned) {
    auto d = directory();
    policy::MessageStamp stamp{"Sun, 22 Nov 2026 05:00:00 +0000", "<id@mx.test.example>"};
    auto ok = policy::check_message(d, Role::submission,
                                 message("From: Alice <alice@test.example>\r\nDate: x\r\n"
                                         "Message-ID: <m@x>\r\n\r\nhi\r\n",
                                         "alice@test.example"),
                                 stamp);
    BOOST_TEST(ok.accept);
    BOOST_TEST(ok.prepend.empty());
    auto forged = policy::check_message(
        d, Role::submission, message("From: Bob <bob@test.example>\r\n\r\nhi\r\n", "alice@test.example"),
        stamp);
    BOOST_TEST(!forged.accept);
    BOOST_TEST(reply_of(forged) ==
               "553 5.7.1 From: address <bob@test.example> not owned by user alice@test.example\r\n");
    auto two = policy::check_message(
        d, Role::submission,
        message("From: alice@test.example, bob@test.example\r\n\r\n", "alice@test.example"), stamp);
    BOOST_TEST(!two.accept);
}

BOOST_AUTO_TEST_CASE(submission_adds_date_and_message_id_when_missing) {
    auto d = directory();
    policy::MessageStamp stamp{"Sun, 22 Nov 2026 05:00:00 +0000", "<id@mx.test.example>"};
    auto v = policy::check_message(d, Role::submission,
                                message("From: alice@test.example\r\nSubject: x\r\n\r\nhi\r\n",
                                        "alice@test.example"),
                                stamp);
    BOOST_TEST(v.accept);
    BOOST_TEST(v.prepend ==
               "Date: Sun, 22 Nov 2026 05:00:00 +0000\r\nMessage-ID: <id@mx.test.example>\r\n");
}

BOOST_AUTO_TEST_CASE(submission_refuses_messages_without_a_usable_header) {
    auto d = directory();
    policy::MessageStamp stamp{"d", "<i@h>"};
    BOOST_TEST(reply_of(policy::check_message(d, Role::submission,
                                           message("Subject: no from\r\n\r\n", "alice@test.example"),
                                           stamp)) == "550 5.6.0 Message has no From: header\r\n");
    BOOST_TEST(!policy::check_message(d, Role::submission,
                                   message("not a header line\r\n\r\n", "alice@test.example"), stamp)
                    .accept);
    BOOST_TEST(policy::check_message(d, Role::inbound, message("garbage", ""), stamp).accept);
}

BOOST_AUTO_TEST_CASE(maildir_paths_are_lower_case) {
    config::User u{"Alice@Test.Example", "", {}};
    BOOST_TEST(policy::maildir_for("/srv/state", u).string() ==
               "/srv/state/mail/test.example/alice/Maildir");
}

// [delivery] maildir: an empty template is the layout above, byte for byte; a template puts
// the Maildir where Dovecot's mail_location says; an address it cannot place is an error.
BOOST_AUTO_TEST_CASE(maildir_paths_follow_the_template) {
    config::User u{"Alice@Test.Example", "", {}};
    auto same = policy::maildir_for("/srv/state", "", u);
    BOOST_REQUIRE(same.ok());
    BOOST_TEST(same.value() == policy::maildir_for("/srv/state", u));
    auto relative = policy::maildir_for("state", "", u);
    BOOST_REQUIRE(relative.ok());
    BOOST_TEST(relative.value().string() == "state/mail/test.example/alice/Maildir");
    auto vmail = policy::maildir_for("/srv/state", "/var/vmail/%d/%n/Maildir", u);
    BOOST_REQUIRE(vmail.ok());
    BOOST_TEST(vmail.value().string() == "/var/vmail/test.example/alice/Maildir");
    config::User slash{"a/b@test.example", "", {}};
    BOOST_TEST(!policy::maildir_for("/srv/state", "", slash).ok());
    BOOST_TEST(!policy::maildir_for("/srv/state", "/var/vmail/%u", slash).ok());
}

// [delivery] recipient_delimiter and catch-alls: the exact address first, then without the
// extension, then the domain's catch-all; postmaster last.
BOOST_AUTO_TEST_CASE(extensions_and_catch_alls_find_their_user) {
    config::User alice{"alice@test.example", "$argon2id$x", {"sales@test.example"}};
    config::User bob{"bob@test.example", "$argon2id$y", {"@other.example"}};
    config::User odd{"first+last@test.example", "$argon2id$z", {}};
    const Directory d({"test.example", "Other.Example"}, {alice, bob, odd}, {}, nullptr, "+-");
    auto who = [&](const std::string& a) {
        const config::User* u = d.recipient(path(a));
        return u ? u->address : std::string("(none)");
    };
    BOOST_TEST(who("<bob+lists@test.example>") == "bob@test.example");
    BOOST_TEST(who("<BOB-x-y@Test.Example>") == "bob@test.example");
    BOOST_TEST(who("<sales+q4@test.example>") == "alice@test.example");
    BOOST_TEST(who("<first+last@test.example>") == "first+last@test.example");  // exact wins
    BOOST_TEST(who("<+bob@test.example>") == "(none)");  // a delimiter first is no extension
    BOOST_TEST(who("<carol+x@test.example>") == "(none)");
    BOOST_TEST(who("<anyone@other.example>") == "bob@test.example");  // the catch-all
    BOOST_TEST(who("<postmaster@test.example>") == "alice@test.example");
    BOOST_TEST((d.lookup_keys("Bob+Lists@Test.Example") ==
                std::vector<std::string>{"bob+lists@test.example", "bob@test.example", "@test.example"}));
    BOOST_TEST((d.lookup_keys("bob@test.example") == std::vector<std::string>{"bob@test.example", "@test.example"}));
    BOOST_TEST(reply_of(check_recipient(d, Role::inbound, rcpt("<bob+lists@test.example>"))) == "(default)");
    BOOST_TEST(reply_of(check_recipient(d, Role::inbound, rcpt("<x@other.example>"))) == "(default)");
    // Sending: with or without an extension, never as the catch-all's domain.
    BOOST_TEST(d.may_send_as(bob, "bob+lists@test.example"));
    BOOST_TEST(!d.may_send_as(bob, "anyone@other.example"));
    BOOST_TEST(d.may_send_as(alice, "sales-x@test.example"));
    // Without a delimiter, the extension is part of the address.
    const Directory plain({"test.example"}, {alice, bob});
    BOOST_TEST(plain.recipient(path("<bob+lists@test.example>")) == nullptr);
    BOOST_TEST(!plain.may_send_as(bob, "bob+lists@test.example"));
}

BOOST_AUTO_TEST_SUITE_END()
