// LocalDelivery with LMTP targets (LocalTarget::Kind::lmtp, delivery/local_delivery.hpp): the
// store's reply per recipient mapped onto the spool's states: 2xx delivered, 4xx deferred with
// the queue's backoff (and skipped until due), 5xx failed with a failure notice carrying the
// store's status; the folder hint as the address's detail; one RCPT per mailbox. The store is
// a function here; tests/delivery/lmtp_test.cpp drives the real session, and
// tests/integration/test_lmtp.py a real Dovecot.
#include <boost/test/unit_test.hpp>
#include <map>

#include "delivery/local_delivery.hpp"
#include "queue/memory_storage.hpp"
#include "queue/spool_fixtures.hpp"
#include "support/temp_dir.hpp"

using namespace pigeon;
using delivery::LocalTarget;
using queue::RecipientState;

namespace {

struct LmtpWorld {
    test::TempDir dir;
    queue::MemoryStorage storage;
    core::FixedClock clock{1'790'000'000};
    test::SeededRandom random{5};
    queue::Spool spool{storage, clock, random};
    test::SeededRandom maildir_random{6};
    delivery::MaildirWriter writer{clock, maildir_random, "mx.local.example", 77};
    test::SeededRandom bounce_random{8};
    std::vector<std::string> notices;
    delivery::LocalDelivery local{spool, [](const core::Path& p) { return resolve(p); }, writer, "mx.local.example",
                                  delivery::Bounces{&clock, &bounce_random,
                                                    [this](const std::string& id, const std::vector<core::Path>&) {
                                                        notices.push_back(id);
                                                    }}};
    // What the store was given, and its answer per RCPT address (default 250).
    std::vector<smtp::ClientMessage> given;
    std::map<std::string, core::Reply> answers;

    LmtpWorld() {
        BOOST_REQUIRE(spool.recover().ok());
        delivery::LmtpDelivery lmtp;
        lmtp.deliver = [this](const std::string& endpoint, smtp::ClientMessage m) {
            BOOST_TEST(endpoint == "unix:/run/dovecot/lmtp");
            given.push_back(m);
            smtp::TransactionResult r;
            for (const auto& rcpt : m.recipients) {
                const auto it = answers.find(rcpt.to_string());
                const core::Reply reply = it == answers.end() ? core::Reply(250, "2.0.0", "Saved") : it->second;
                const auto outcome = reply.code < 400   ? smtp::Outcome::delivered
                                     : reply.code < 500 ? smtp::Outcome::transient
                                                        : smtp::Outcome::permanent;
                r.recipients.push_back({rcpt, outcome, reply, true, "end of data"});
            }
            return r;
        };
        lmtp.retry.first_retry_seconds = 60;
        lmtp.retry.give_up_after_seconds = 3600;
        local.use_lmtp(std::move(lmtp));
    }
    // Everyone at store.example is in the store; sales@ is an alias of bob.
    static LocalTarget resolve(const core::Path& p) {
        if (p.kind != core::Path::Kind::mailbox || p.mailbox.domain().lowercase() != "store.example")
            return LocalTarget::remote();
        std::string user = p.mailbox.local_part();
        if (user == "sales") user = "bob";
        return LocalTarget::lmtp("unix:/run/dovecot/lmtp",
                                 core::Path::of(core::Mailbox::parse(user + "@store.example").value()));
    }
    std::string commit(std::vector<std::string> to, std::string folder = {}) {
        auto id = spool.commit({test::make_envelope("alice@remote.example", to), test::make_message("hi"), folder});
        BOOST_REQUIRE(id.ok());
        return *id;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(local_delivery_lmtp)

BOOST_AUTO_TEST_CASE(replies_map_onto_recipient_states) {
    LmtpWorld w;
    w.answers["<carol@store.example>"] = core::Reply(452, "4.2.2", "<carol@store.example> Quota exceeded");
    w.answers["<dave@store.example>"] = core::Reply(550, "5.1.1", "<dave@store.example> User doesn't exist");
    const auto id = w.commit({"bob@store.example", "carol@store.example", "dave@store.example", "x@remote.example"});
    const auto report = w.local.deliver(id);
    BOOST_REQUIRE_MESSAGE(report.ok(), test::why(report));
    BOOST_TEST(report->delivered == 1u);
    BOOST_TEST(report->deferred == 1u);
    BOOST_TEST(report->failed == 1u);
    BOOST_TEST(report->remote == 1u);
    BOOST_REQUIRE(w.given.size() == 1u);  // one transaction for the three
    BOOST_TEST(w.given[0].recipients.size() == 3u);
    BOOST_TEST(*w.given[0].message == w.spool.show(id)->message);  // the octets as spooled

    const auto entry = w.spool.show(id)->entry;
    BOOST_TEST((entry.status[0].state == RecipientState::delivered));
    BOOST_TEST(entry.status[0].diagnostic == "lmtp:unix:/run/dovecot/lmtp: 250 2.0.0 Saved");
    BOOST_TEST((entry.status[1].state == RecipientState::pending));
    BOOST_TEST(entry.status[1].attempts == 1u);
    // The queue's backoff: first_retry_seconds, +-10%.
    BOOST_TEST(entry.status[1].next_attempt_unix >= w.clock.now_unix_seconds() + 54);
    BOOST_TEST(entry.status[1].next_attempt_unix <= w.clock.now_unix_seconds() + 66);
    BOOST_TEST((entry.status[2].state == RecipientState::failed));
    // The failure notice carries the store's own status and reply.
    BOOST_REQUIRE(w.notices.size() == 1u);
    const auto dsn = w.spool.show(w.notices[0]);
    BOOST_REQUIRE(dsn.ok());
    BOOST_TEST(dsn->message.find("Final-Recipient: rfc822; dave@store.example") != std::string::npos);
    BOOST_TEST(dsn->message.find("Status: 5.1.1") != std::string::npos);
    BOOST_TEST(dsn->message.find("Diagnostic-Code: smtp; 550 5.1.1 <dave@store.example> User doesn't exist") !=
               std::string::npos);
    BOOST_TEST(dsn->message.find("carol@store.example") == std::string::npos);
    // Operator lines: relay=lmtp:..., the store's status.
    bool saw = false;
    for (const auto& d : report->deliveries)
        if (d.relay == "lmtp:unix:/run/dovecot/lmtp" && d.dsn == "4.2.2") saw = true;
    BOOST_TEST(saw);
}

BOOST_AUTO_TEST_CASE(a_deferred_recipient_waits_for_its_next_attempt_then_is_delivered) {
    LmtpWorld w;
    w.answers["<bob@store.example>"] = core::Reply(451, "4.3.0", "Temporary failure");
    const auto id = w.commit({"bob@store.example"});
    BOOST_REQUIRE(w.local.deliver(id).ok());
    BOOST_TEST(w.given.size() == 1u);
    // Not due yet: nothing is tried, the message stays.
    w.clock.set(w.clock.now_unix_seconds() + 30);
    const auto early = w.local.deliver(id);
    BOOST_REQUIRE(early.ok());
    BOOST_TEST(w.given.size() == 1u);
    BOOST_TEST(!early->removed);
    // Due: tried again, the store takes it now, the message leaves the spool.
    w.answers.clear();
    w.clock.set(w.clock.now_unix_seconds() + 60);
    const auto later = w.local.deliver(id);
    BOOST_REQUIRE(later.ok());
    BOOST_TEST(w.given.size() == 2u);
    BOOST_TEST(later->delivered == 1u);
    BOOST_TEST(later->removed);
}

BOOST_AUTO_TEST_CASE(past_the_retry_period_a_transient_reply_fails_with_a_notice) {
    LmtpWorld w;
    w.answers["<bob@store.example>"] = core::Reply(451, "4.3.0", "Temporary failure");
    const auto id = w.commit({"bob@store.example"});
    w.clock.set(w.clock.now_unix_seconds() + 3601);  // give_up_after_seconds passed since arrival
    const auto report = w.local.deliver(id);
    BOOST_REQUIRE(report.ok());
    BOOST_TEST(report->failed == 1u);
    BOOST_TEST(report->removed);
    BOOST_REQUIRE(w.notices.size() == 1u);
    BOOST_TEST(w.spool.show(w.notices[0])->message.find("Status: 5.4.7") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(quarantine_goes_to_the_junk_detail_and_an_alias_shares_the_copy) {
    LmtpWorld w;
    const auto id = w.commit({"bob@store.example", "sales@store.example"}, "Junk");
    const auto report = w.local.deliver(id);
    BOOST_REQUIRE(report.ok());
    BOOST_TEST(report->delivered == 2u);
    BOOST_REQUIRE(w.given.size() == 1u);
    BOOST_REQUIRE(w.given[0].recipients.size() == 1u);  // one copy for bob and his alias
    BOOST_TEST(w.given[0].recipients[0].to_string() == "<bob+Junk@store.example>");
    BOOST_TEST(report->removed);
}

BOOST_AUTO_TEST_CASE(without_use_lmtp_the_recipients_stay_pending) {
    test::TempDir dir;
    queue::MemoryStorage storage;
    core::FixedClock clock{1'790'000'000};
    test::SeededRandom random{5};
    queue::Spool spool{storage, clock, random};
    BOOST_REQUIRE(spool.recover().ok());
    test::SeededRandom maildir_random{6};
    delivery::MaildirWriter writer{clock, maildir_random, "mx", 1};
    delivery::LocalDelivery local{spool, [](const core::Path& p) { return LmtpWorld::resolve(p); }, writer};
    auto id = spool.commit({test::make_envelope("a@remote.example", {"bob@store.example"}), test::make_message("x"), {}});
    BOOST_REQUIRE(id.ok());
    const auto report = local.deliver(*id);
    BOOST_REQUIRE(report.ok());
    BOOST_TEST(!report->removed);
    BOOST_TEST((spool.show(*id)->entry.status[0].state == RecipientState::pending));
}

BOOST_AUTO_TEST_SUITE_END()
