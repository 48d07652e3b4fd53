// Tests for policy::Pipeline with a [directory] backend (Directory::backend(),
// user_directory.hpp): RCPT for a local domain asks it (found 250, not found 550 5.1.1,
// unavailable 451 4.3.0), other recipients keep the configuration's rules; MAIL and From: on
// submission use the login's addresses from it; an unavailable answer is never a 5xx.
// The directory here answers from a table the test sets, and can be made "down"; the real
// backends have their own tests (tests/directory/, tests/integration/test_directory.py).
#include "policy/pipeline.hpp"

#include <boost/test/unit_test.hpp>

#include <map>
#include <optional>

using namespace pigeon;
using policy::Found;
using policy::Lookup;

namespace {

class TableDirectory final : public policy::UserDirectory {
public:
    std::map<std::string, std::string> receives;                 // address -> user
    std::map<std::string, std::vector<std::string>> addresses;   // login -> may send as
    bool down = false;
    std::vector<std::string> asked;

    void recipient(std::string a, std::function<void(Lookup<std::string>)> done) override {
        asked.push_back(a);
        done(recipient_blocking(a));
    }
    void login(std::string, std::function<void(Lookup<policy::Account>)> done) override {
        done(Lookup<policy::Account>::not_found());
    }
    void senders(std::string l, std::function<void(Lookup<std::vector<std::string>>)> done) override {
        asked.push_back(l);
        if (down) return done(Lookup<std::vector<std::string>>::unavailable("down"));
        auto it = addresses.find(l);
        done(it == addresses.end() ? Lookup<std::vector<std::string>>::not_found()
                                   : Lookup<std::vector<std::string>>::found(it->second));
    }
    Lookup<std::string> recipient_blocking(const std::string& a) override {
        if (down) return Lookup<std::string>::unavailable("down");
        auto it = receives.find(a);
        return it == receives.end() ? Lookup<std::string>::not_found() : Lookup<std::string>::found(it->second);
    }
};

struct CountingRandom final : queue::RandomSource {
    std::uint64_t n = 0;
    std::uint64_t next_u64() override { return ++n; }
};

core::Path path(const std::string& text) { return core::Path::of(core::Mailbox::parse(text).value()); }

struct World {
    std::shared_ptr<TableDirectory> users = std::make_shared<TableDirectory>();
    policy::Directory directory{{"example.org"}, {}, {"noreply@example.org"}, users};
    core::FixedClock clock{1'790'000'000};
    CountingRandom random;
    std::optional<policy::Pipeline> pipeline;

    World() {
        users->receives = {{"bob@example.org", "bob@example.org"}, {"robert@example.org", "bob@example.org"}};
        users->addresses = {{"bob@example.org", {"robert@example.org"}}};
        policy::PipelineOptions o;
        o.hostname = "mx.example.org";
        pipeline.emplace(std::move(o), directory, clock, random, nullptr);
    }
    smtp::Verdict rcpt(smtp::Role role, const std::string& to) {
        std::optional<smtp::Event> out;
        core::Envelope e;
        e.auth_identity = role == smtp::Role::submission ? "bob@example.org" : "";
        pipeline->check_recipient(role, smtp::CheckRecipient{e, path(to)}, [&](smtp::Event ev) { out = ev; });
        BOOST_REQUIRE(out.has_value());
        return std::get<smtp::Verdict>(*out);
    }
    smtp::Verdict mail(const std::string& login, const std::string& from) {
        std::optional<smtp::Event> out;
        core::Envelope e;
        e.auth_identity = login;
        e.reverse_path = path(from);
        pipeline->check_sender(smtp::Role::submission, smtp::CheckSender{e}, "c1", [&](smtp::Event ev) { out = ev; });
        BOOST_REQUIRE(out.has_value());
        return std::get<smtp::Verdict>(*out);
    }
    smtp::Verdict data(const std::string& login, const std::string& message) {
        std::optional<smtp::Event> out;
        core::Envelope e;
        e.auth_identity = login;
        e.reverse_path = path(login);
        pipeline->check_message(smtp::Role::submission,
                                smtp::CheckMessage{e, core::MessageRef(std::make_shared<std::string>(message))}, "c1",
                                [&](smtp::Event ev) { out = ev; });
        BOOST_REQUIRE(out.has_value());
        return std::get<smtp::Verdict>(*out);
    }
};

std::string reply_of(const smtp::Verdict& v) { return v.reply ? core::format_reply(*v.reply) : "(accepted)"; }

}  // namespace

BOOST_AUTO_TEST_SUITE(pipeline_with_users)

BOOST_AUTO_TEST_CASE(rcpt_asks_the_directory_for_local_domains) {
    for (auto role : {smtp::Role::inbound, smtp::Role::submission}) {
        World w;
        BOOST_TEST(w.rcpt(role, "Bob@Example.org").accept);
        BOOST_TEST(w.rcpt(role, "robert@example.org").accept);
        const auto unknown = w.rcpt(role, "carol@example.org");
        BOOST_TEST(!unknown.accept);
        BOOST_TEST(reply_of(unknown) == "550 5.1.1 <carol@example.org>: Recipient address rejected: User unknown\r\n");
        // An unknown address is also asked as the domain's catch-all ("@domain").
        BOOST_TEST(w.users->asked == (std::vector<std::string>{"bob@example.org", "robert@example.org",
                                                              "carol@example.org", "@example.org"}));
    }
}

BOOST_AUTO_TEST_CASE(an_unavailable_directory_is_451_never_550) {
    World w;
    w.users->down = true;
    const auto v = w.rcpt(smtp::Role::inbound, "bob@example.org");
    BOOST_TEST(!v.accept);
    BOOST_TEST(reply_of(v) == "451 4.3.0 User directory temporarily unavailable; try again later\r\n");
    const auto sub = w.rcpt(smtp::Role::submission, "carol@example.org");
    BOOST_TEST(reply_of(sub).substr(0, 9) == "451 4.3.0");
}

BOOST_AUTO_TEST_CASE(other_recipients_keep_the_configuration_rules) {
    World w;
    BOOST_TEST(w.rcpt(smtp::Role::inbound, "noreply@example.org").accept);  // [delivery] discard
    BOOST_TEST(reply_of(w.rcpt(smtp::Role::inbound, "x@elsewhere.example")).substr(0, 9) == "554 5.7.1");
    BOOST_TEST(w.rcpt(smtp::Role::submission, "x@elsewhere.example").accept);
    BOOST_TEST(w.users->asked.empty());
}

BOOST_AUTO_TEST_CASE(submission_senders_come_from_the_directory) {
    World w;
    BOOST_TEST(w.mail("bob@example.org", "bob@example.org").accept);
    BOOST_TEST(w.mail("bob@example.org", "Robert@example.org").accept);
    BOOST_TEST(reply_of(w.mail("bob@example.org", "alice@example.org")) ==
               "553 5.7.1 Sender address <alice@example.org> not owned by user bob@example.org\r\n");
    w.users->down = true;
    BOOST_TEST(reply_of(w.mail("bob@example.org", "bob@example.org")).substr(0, 9) == "451 4.3.0");
}

BOOST_AUTO_TEST_CASE(from_ownership_at_end_of_data_uses_the_same_addresses) {
    World w;
    BOOST_TEST(w.data("bob@example.org", "From: <robert@example.org>\r\n\r\nhi\r\n").accept);
    BOOST_TEST(reply_of(w.data("bob@example.org", "From: <alice@example.org>\r\n\r\nhi\r\n")) ==
               "553 5.7.1 From: address <alice@example.org> not owned by user bob@example.org\r\n");
    w.users->down = true;
    BOOST_TEST(reply_of(w.data("bob@example.org", "From: <bob@example.org>\r\n\r\nhi\r\n")).substr(0, 9) == "451 4.3.0");
}

BOOST_AUTO_TEST_SUITE_END()
