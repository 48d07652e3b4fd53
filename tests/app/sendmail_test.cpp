// pigeon sendmail (app/sendmail.hpp): the sendmail(1) options as callers pass them, the message
// as read from standard input, -t's recipients and Bcc: removal; the local caller's identity
// (app/local_submit.hpp) and the framed request (net/local_submission.hpp).
#include <boost/test/unit_test.hpp>

#include "app/local_submit.hpp"
#include "app/sendmail.hpp"
#include "net/local_submission.hpp"
#include "policy/directory.hpp"

using namespace pigeon;
using app::SendmailArgs;

namespace {
SendmailArgs parsed(const std::vector<std::string>& args) {
    auto a = app::parse_sendmail_args(args);
    BOOST_REQUIRE_MESSAGE(a.ok(), (a.ok() ? "" : a.error().message));
    return a.value();
}
std::string parse_error(const std::vector<std::string>& args) {
    auto a = app::parse_sendmail_args(args);
    BOOST_REQUIRE(!a.ok());
    return a.error().message;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(sendmail_args)

BOOST_AUTO_TEST_CASE(what_cron_php_mutt_and_git_pass) {
    // Debian's cron: -FCronDaemon -i -B8BITMIME -oem root
    SendmailArgs cron = parsed({"-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"});
    BOOST_TEST(cron.full_name == "CronDaemon");
    BOOST_TEST(cron.dot_is_data);
    BOOST_TEST(cron.recipients == std::vector<std::string>{"root"});
    // PHP's mail(): sendmail -t -i
    SendmailArgs php = parsed({"-t", "-i"});
    BOOST_TEST(php.recipients_from_header);
    BOOST_TEST(php.recipients.empty());
    // mutt: -oem -oi -- addresses; a recipient that looks like an option after "--"
    SendmailArgs mutt = parsed({"-oem", "-oi", "--", "bob@example.org", "-odd@example.org"});
    BOOST_TEST(mutt.dot_is_data);
    BOOST_TEST(mutt.recipients == (std::vector<std::string>{"bob@example.org", "-odd@example.org"}));
    // git send-email: -i addresses; s-nail: -i -v -r sender -- addresses
    SendmailArgs snail = parsed({"-i", "-v", "-r", "me@example.org", "--", "a@example.org"});
    BOOST_TEST(snail.sender.value_or("") == "me@example.org");
    BOOST_TEST((snail.mode == SendmailArgs::Mode::deliver));
}

BOOST_AUTO_TEST_CASE(values_attached_or_next_and_clustered_flags) {
    SendmailArgs a = parsed({"-ti", "-fme@example.org", "-F", "Me Myself", "-C", "/etc/p.toml", "-odi", "-oQ/x",
                             "-N", "never", "-V", "envid", "x@example.org"});
    BOOST_TEST(a.recipients_from_header);
    BOOST_TEST(a.dot_is_data);
    BOOST_TEST(a.sender.value_or("") == "me@example.org");
    BOOST_TEST(a.full_name == "Me Myself");
    BOOST_TEST(a.config_path == "/etc/p.toml");
    BOOST_TEST(a.recipients == std::vector<std::string>{"x@example.org"});
    BOOST_TEST(!parsed({"-oem"}).dot_is_data);  // only -oi sets it
}

BOOST_AUTO_TEST_CASE(modes) {
    BOOST_TEST(static_cast<int>(parsed({"-bp"}).mode) == static_cast<int>(SendmailArgs::Mode::list_queue));
    BOOST_TEST(static_cast<int>(parsed({"-bi"}).mode) == static_cast<int>(SendmailArgs::Mode::rebuild_aliases));
    BOOST_TEST(static_cast<int>(parsed({"-bm", "a@b.example"}).mode) == static_cast<int>(SendmailArgs::Mode::deliver));
}

BOOST_AUTO_TEST_CASE(refusals_name_the_option) {
    BOOST_TEST(parse_error({"-Z"}).find("-Z") != std::string::npos);
    BOOST_TEST(parse_error({"-f"}).find("-f needs a value") != std::string::npos);
    BOOST_TEST(parse_error({"-bs"}).find("-bs") != std::string::npos);
    BOOST_TEST(parse_error({"-bd"}).find("pigeon serve") != std::string::npos);
    BOOST_TEST(parse_error({"-q"}).find("-q") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(program_names) {
    BOOST_TEST(app::program_name("/usr/sbin/sendmail") == "sendmail");
    BOOST_TEST(app::program_name("mailq") == "mailq");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sendmail_message)

BOOST_AUTO_TEST_CASE(line_ends_become_crlf_and_a_dot_line_ends_the_message) {
    BOOST_TEST(app::read_message("Subject: x\n\nbody\n.\nafter\n", false) == "Subject: x\r\n\r\nbody\r\n");
    BOOST_TEST(app::read_message("Subject: x\r\n\r\nbody\r\n.\r\nafter", false) == "Subject: x\r\n\r\nbody\r\n");
    // -i: the dot line is content (no dot-stuffing: the socket is length-framed)
    BOOST_TEST(app::read_message("Subject: x\n\nbody\n.\nafter", true) == "Subject: x\r\n\r\nbody\r\n.\r\nafter\r\n");
    BOOST_TEST(app::read_message("Subject: x\n\n..\n", false) == "Subject: x\r\n\r\n..\r\n");
}

BOOST_AUTO_TEST_CASE(input_without_a_header_is_a_body) {
    BOOST_TEST(app::read_message("hello world\n", true) == "\r\nhello world\r\n");
    BOOST_TEST(app::read_message("", true) == "");
}

BOOST_AUTO_TEST_CASE(recipients_from_to_cc_bcc_with_groups_comments_and_folding) {
    const std::string m = app::read_message(
        "From: me@example.org\n"
        "To: \"Bob, B.\" <bob@example.org>, carol@example.org (Carol)\n"
        "Cc: friends: dave@example.org, Eve <eve@example.org>;,\n"
        "  frank@example.org\n"
        "Bcc: hidden@example.org\n"
        "Reply-To: not-a-recipient@example.org\n"
        "To: undisclosed-recipients:;\n"
        "cc: BOB@example.org\n"
        "\nbody To: no@example.org\n",
        false);
    BOOST_TEST(app::header_recipients(m) ==
               (std::vector<std::string>{"bob@example.org", "carol@example.org", "dave@example.org",
                                         "eve@example.org", "frank@example.org", "hidden@example.org"}));
}

BOOST_AUTO_TEST_CASE(bcc_removed_with_its_continuation_lines_header_only) {
    const std::string m =
        "From: me@example.org\r\nBcc: a@example.org,\r\n b@example.org\r\nTo: c@example.org\r\nBCC: d@example.org\r\n"
        "\r\nBcc: this is body text\r\n";
    BOOST_TEST(app::without_bcc(m) == "From: me@example.org\r\nTo: c@example.org\r\n\r\nBcc: this is body text\r\n");
    BOOST_TEST(app::without_bcc("To: c@example.org\r\n\r\nx\r\n") == "To: c@example.org\r\n\r\nx\r\n");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(local_caller)

BOOST_AUTO_TEST_CASE(login_mapped_by_domain_table_and_trust) {
    config::Config c = config::default_config("mx.test.example");
    c.local_domains = {"example.org", "example.net"};
    c.users = {config::User{"alice@example.org", "$2b$10$x", {"ali@example.org"}}};
    c.sendmail.addresses = {{"www-data", "web@example.net"}};
    policy::Directory dir(c.local_domains, c.users);
    const policy::LocalCaller alice = app::local_caller_for_login(c, dir, "alice");
    BOOST_TEST(alice.address == "alice@example.org");
    BOOST_TEST(alice.aliases == std::vector<std::string>{"ali@example.org"});
    BOOST_TEST(!alice.trusted);
    BOOST_TEST(alice.may_send_as("ALI@example.org"));
    BOOST_TEST(!alice.may_send_as("bob@example.org"));
    BOOST_TEST(app::local_caller_for_login(c, dir, "www-data").address == "web@example.net");
    BOOST_TEST(app::local_caller_for_login(c, dir, "root").trusted);
    BOOST_TEST(app::local_caller_for_login(c, dir, "root").may_send_as("anyone@else.example"));
    c.sendmail.domain = "example.net";
    BOOST_TEST(app::local_caller_for_login(c, dir, "bob").address == "bob@example.net");
}

BOOST_AUTO_TEST_CASE(sender_ownership) {
    policy::LocalCaller bob{"bob", "bob@example.org", {}, false};
    auto path = [](const char* a) { return core::Path::of(core::Mailbox::parse(a).value()); };
    BOOST_TEST(policy::check_local_sender(bob, path("bob@example.org")).accept);
    const smtp::Verdict v = policy::check_local_sender(bob, path("boss@example.org"));
    BOOST_TEST(!v.accept);
    BOOST_TEST(v.reply->code == 553);
    BOOST_TEST(v.reply->lines.front().find("not owned by user bob") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(from_added_only_when_missing) {
    BOOST_TEST(app::with_from("Subject: x\r\n\r\nb\r\n", "Cron Daemon", "root@example.org") ==
               "From: Cron Daemon <root@example.org>\r\nSubject: x\r\n\r\nb\r\n");
    BOOST_TEST(app::with_from("\r\nb\r\n", "Smith, J.", "j@example.org") == "From: \"Smith, J.\" <j@example.org>\r\n\r\nb\r\n");
    BOOST_TEST(app::with_from("\r\nb\r\n", "", "j@example.org") == "From: j@example.org\r\n\r\nb\r\n");
    BOOST_TEST(app::with_from("from: x@example.org\r\n\r\n", "N", "j@example.org") == "from: x@example.org\r\n\r\n");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(local_request)

BOOST_AUTO_TEST_CASE(head_round_trip_and_bounds) {
    net::LocalRequest r;
    r.from = "me@example.org";
    r.name = "Me";
    r.recipients = {"a@example.org", "b@example.org"};
    r.size = 42;
    const std::string head = net::format_local_request_head(r);
    net::LocalRequestParser p(100, 2);
    std::size_t from = 0, lines = 0;
    bool done = false;
    while (!done) {
        const std::size_t lf = head.find('\n', from);
        BOOST_REQUIRE(lf != std::string::npos);
        auto got = p.line(std::string_view(head).substr(from, lf - from));
        BOOST_REQUIRE(got.ok());
        done = got.value();
        from = lf + 1;
        ++lines;
    }
    BOOST_TEST(lines == 6u);
    BOOST_TEST((p.request() == r));

    net::LocalRequestParser small(10, 1);
    BOOST_TEST(small.line("hello").error().code == 500);
    BOOST_REQUIRE(small.line(net::local_request_version).ok());
    BOOST_REQUIRE(small.line("RCPT <a@example.org>").ok());
    BOOST_TEST(small.line("RCPT <b@example.org>").error().code == 452);
    BOOST_TEST(small.line("SIZE 11").error().code == 552);
    BOOST_TEST(small.line("SIZE 1x").error().code == 501);
    BOOST_TEST(small.line("RCPT a@example.org").error().code == 501);
    BOOST_TEST(small.line(std::string(1001, 'x')).error().code == 501);
    BOOST_TEST(small.line("SIZE 10").value());
}

BOOST_AUTO_TEST_SUITE_END()
