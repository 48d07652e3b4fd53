// Large messages in the spool: a message given as a prefix and a body (core::MessageRef, what
// a session hands over for a message received into a spill file) is written from where it is,
// in pieces, and reads back as the same octets; the record in pieces is the record whole.
#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include <string>
#include <vector>

#include "core/message_ref.hpp"
#include "queue/memory_storage.hpp"
#include "queue/record.hpp"
#include "queue/spool.hpp"
#include "queue/spool_checks.hpp"

using namespace pigeon;
using queue::Submission;

namespace {

std::string big_body(std::size_t octets, char fill) {
    std::string body = "Subject: large\r\n\r\n";
    while (body.size() < octets) body += std::string(78, fill) + "\r\n";
    return body;
}

Submission with(core::MessageRef message) {
    return Submission{test::make_envelope("alice@example.org", {"bob@example.net"}), std::move(message), {}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spool_large)

RC_BOOST_PROP(a_record_in_pieces_is_the_record_whole, (const std::string& message)) {
    queue::SpoolEntry e;
    e.id = "0123456789ABCDEF";
    e.envelope = test::make_envelope("a@example.org", {"b@example.net"});
    e.status.resize(1);
    e.arrival_unix_seconds = 1795000000;
    RC_PRE(queue::is_valid_queue_id(e.id));
    // Any cut of the message into three parts.
    const std::size_t a = *rc::gen::inRange<std::size_t>(0, message.size() + 1);
    const std::size_t b = *rc::gen::inRange<std::size_t>(a, message.size() + 1);
    const std::string_view m(message);
    const std::string_view parts[] = {m.substr(0, a), m.substr(a, b - a), m.substr(b)};
    const auto whole = queue::encode_message_record(e, message);
    const auto pieces = queue::encode_message_record_parts(e, parts);
    RC_ASSERT(whole.ok());
    RC_ASSERT(pieces.ok());
    RC_ASSERT(pieces->head + message + pieces->tail == *whole);
}

BOOST_AUTO_TEST_CASE(a_large_message_is_stored_from_its_parts_and_reads_back_whole) {
    for (const bool segments : {true, false}) {
        test::SpoolHarness h(test::spool_layout(segments));
        BOOST_REQUIRE(h.spool.recover().ok());
        const std::string body = big_body(6u << 20, 'x');  // over the spool's 4 MiB append chunk
        const auto large = core::MessageRef::viewing(std::make_shared<std::string>(body), body)
                               .with_prefix("Received: by test\r\nX-Renamed: yes\r\n", 16);
        std::vector<Submission> batch;
        batch.push_back(test::spool_submission("before"));
        batch.push_back(with(large));
        batch.push_back(test::spool_submission("after"));
        const auto ids = h.spool.commit_batch(std::move(batch));
        BOOST_REQUIRE(ids.size() == 3u);
        for (const auto& id : ids) BOOST_REQUIRE_MESSAGE(id.ok(), test::why(id));
        const auto shown = h.spool.show(*ids[1]);
        BOOST_REQUIRE(shown.ok());
        BOOST_TEST(shown->message == "Received: by test\r\nX-Renamed: yes\r\n" + body.substr(16));
        BOOST_TEST(shown->message == large.to_string());
        // A restart reads the same three messages from disk.
        h.storage.crash();
        queue::Spool again(h.storage, h.clock, h.random, test::spool_layout(segments));
        const auto report = again.recover();
        BOOST_REQUIRE(report.ok());
        BOOST_TEST(report->recovered == 3u);
        BOOST_TEST(report->discarded == 0u);
        BOOST_TEST(again.show(*ids[1])->message == large.to_string());
        BOOST_TEST(again.show(*ids[0])->message.find("Subject: before") != std::string::npos);
        BOOST_TEST(again.show(*ids[2])->message.find("Subject: after") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(a_failed_append_of_a_large_message_fails_the_batch_and_leaves_nothing) {
    test::SpoolHarness h(test::spool_layout(true));
    BOOST_REQUIRE(h.spool.recover().ok());
    const std::string body = big_body(5u << 20, 'y');
    std::vector<Submission> batch;
    batch.push_back(test::spool_submission("small"));
    batch.push_back(with(core::MessageRef(body)));
    h.storage.fail_creates("disk full");  // creates and appends store half, then fail
    const auto ids = h.spool.commit_batch(std::move(batch));
    h.storage.fail_creates(std::nullopt);
    BOOST_REQUIRE(ids.size() == 2u);
    BOOST_TEST(!ids[0].ok());
    BOOST_TEST(!ids[1].ok());
    BOOST_TEST(h.spool.size() == 0u);
    h.storage.crash();
    queue::Spool again(h.storage, h.clock, h.random, test::spool_layout(true));
    const auto report = again.recover();
    BOOST_REQUIRE(report.ok());
    BOOST_TEST(report->recovered == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
