// Tests for queue/record.hpp and queue/queue_id.hpp: encode/decode round trip (property),
// every truncation and every corruption rejected, ids sortable and unique.
#include "queue/record.hpp"

#include <rapidcheck/boost_test.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "queue/queue_id.hpp"
#include "queue/spool_fixtures.hpp"

using namespace pigeon;
using queue::RecipientState;
using queue::RecipientStatus;
using queue::SpoolEntry;

namespace {

const std::string atext = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~";
const std::vector<std::string> utf8_chars = {"\xC3\xA9", "\xE6\x97\xA5", "\xF0\x9F\x93\xA7"};

rc::Gen<std::string> gen_mailbox_text() {
    return rc::gen::exec([] {
        std::string local;
        const int n = *rc::gen::inRange(1, 10);
        for (int i = 0; i < n; ++i) {
            if (*rc::gen::inRange(0, 6) == 0) local += *rc::gen::elementOf(utf8_chars);
            else local += *rc::gen::elementOf(atext);
        }
        if (*rc::gen::inRange(0, 5) == 0) local = "\"" + local + " x\"";  // a quoted string
        std::string domain;
        switch (*rc::gen::inRange(0, 4)) {
        case 0: domain = "[192.0.2." + std::to_string(*rc::gen::inRange(0, 256)) + "]"; break;
        default: {
            const int labels = *rc::gen::inRange(1, 4);
            for (int i = 0; i < labels; ++i) {
                domain += (i ? "." : "") + std::string(1, static_cast<char>('a' + *rc::gen::inRange(0, 26))) +
                          std::to_string(*rc::gen::inRange(0, 1000));
            }
        }
        }
        return local + "@" + domain;
    });
}

rc::Gen<core::Path> gen_path() {
    return rc::gen::exec([] {
        switch (*rc::gen::inRange(0, 8)) {
        case 0: return core::Path::null_path();
        case 1: return core::Path::postmaster();
        default: {
            const std::string text = *rc::gen::suchThat(gen_mailbox_text(), [](const std::string& t) {
                return core::Mailbox::parse(t, core::AddressSyntax{true}).ok();
            });
            return core::Path::of(core::Mailbox::parse(text, core::AddressSyntax{true}).value());
        }
        }
    });
}

rc::Gen<std::string> gen_id() {
    return rc::gen::exec([] {
        const std::string alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        std::string id;
        for (std::size_t i = 0; i < queue::queue_id_length; ++i) id += *rc::gen::elementOf(alphabet);
        return id;
    });
}

rc::Gen<SpoolEntry> gen_entry() {
    return rc::gen::exec([] {
        SpoolEntry e;
        e.id = *gen_id();
        e.arrival_unix_seconds = *rc::gen::arbitrary<std::int64_t>();
        e.folder = *rc::gen::arbitrary<std::string>();
        core::Envelope& env = e.envelope;
        env.reverse_path = *gen_path();
        const int n = *rc::gen::inRange(0, 6);
        for (int i = 0; i < n; ++i) {
            env.recipients.push_back(*gen_path());
            RecipientStatus s;
            s.state = static_cast<RecipientState>(*rc::gen::inRange(0, 3));
            s.diagnostic = *rc::gen::arbitrary<std::string>();
            e.status.push_back(s);
        }
        env.body = static_cast<core::BodyType>(*rc::gen::inRange(0, 3));
        env.smtputf8 = *rc::gen::arbitrary<bool>();
        if (*rc::gen::arbitrary<bool>()) env.declared_size = *rc::gen::arbitrary<std::uint64_t>();
        env.helo = *rc::gen::arbitrary<std::string>();
        env.esmtp = *rc::gen::arbitrary<bool>();
        env.client_address = *rc::gen::arbitrary<std::string>();
        env.auth_identity = *rc::gen::arbitrary<std::string>();
        env.tls = *rc::gen::arbitrary<bool>();
        return e;
    });
}

void check_same(const SpoolEntry& a, const SpoolEntry& b) {
    RC_ASSERT(a.id == b.id);
    RC_ASSERT(a.arrival_unix_seconds == b.arrival_unix_seconds);
    RC_ASSERT(a.folder == b.folder);
    RC_ASSERT(a.status == b.status);
    const core::Envelope& x = a.envelope;
    const core::Envelope& y = b.envelope;
    RC_ASSERT(x.reverse_path == y.reverse_path);
    RC_ASSERT(x.reverse_path.kind == y.reverse_path.kind);
    RC_ASSERT(x.recipients == y.recipients);
    for (std::size_t i = 0; i < x.recipients.size(); ++i) {
        RC_ASSERT(x.recipients[i].kind == y.recipients[i].kind);
        RC_ASSERT(x.recipients[i].to_string() == y.recipients[i].to_string());
    }
    RC_ASSERT(x.body == y.body);
    RC_ASSERT(x.smtputf8 == y.smtputf8);
    RC_ASSERT(x.declared_size == y.declared_size);
    RC_ASSERT(x.helo == y.helo);
    RC_ASSERT(x.esmtp == y.esmtp);
    RC_ASSERT(x.client_address == y.client_address);
    RC_ASSERT(x.auth_identity == y.auth_identity);
    RC_ASSERT(x.tls == y.tls);
}

SpoolEntry sample_entry() {
    SpoolEntry e;
    e.id = "0123456789ABCDEF";
    e.arrival_unix_seconds = 1'790'000'000;
    e.envelope = test::make_envelope("alice@example.org", {"bob@example.net", "carol@example.com"});
    e.envelope.smtputf8 = true;
    e.envelope.declared_size = 42;
    e.envelope.auth_identity = "alice";
    e.envelope.tls = true;
    e.status = {RecipientStatus{}, RecipientStatus{RecipientState::failed, "5.1.1 no such user"}};
    e.folder = "Junk";
    return e;
}

const std::string sample_message = "Subject: hi\r\n\r\nbody\r\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(spool_record)

RC_BOOST_PROP(message_record_round_trips, ()) {
    const SpoolEntry e = *gen_entry();
    const std::string message = *rc::gen::arbitrary<std::string>();
    const auto bytes = queue::encode_message_record(e, message);
    RC_ASSERT(bytes.ok());
    const auto back = queue::decode_message_record(*bytes);
    RC_ASSERT(back.ok());
    check_same(e, back->entry);
    RC_ASSERT(back->message == message);
    // Canonical: encoding the decoded record gives the same bytes.
    RC_ASSERT(*queue::encode_message_record(back->entry, back->message) == *bytes);
}

RC_BOOST_PROP(state_record_round_trips, ()) {
    queue::StateRecord r;
    r.id = *gen_id();
    r.sequence = *rc::gen::arbitrary<std::uint32_t>();
    const int n = *rc::gen::inRange(0, 8);
    for (int i = 0; i < n; ++i) {
        r.status.push_back({static_cast<RecipientState>(*rc::gen::inRange(0, 3)), *rc::gen::arbitrary<std::string>()});
    }
    const auto bytes = queue::encode_state_record(r);
    RC_ASSERT(bytes.ok());
    const auto back = queue::decode_state_record(*bytes);
    RC_ASSERT(back.ok());
    RC_ASSERT(back->id == r.id);
    RC_ASSERT(back->sequence == r.sequence);
    RC_ASSERT(back->status == r.status);
}

RC_BOOST_PROP(arbitrary_bytes_never_crash_the_decoders, (const std::string& bytes)) {
    // Mostly rejected; the point is that it returns (sanitizers watch the reads).
    (void)queue::decode_message_record(bytes);
    (void)queue::decode_state_record(bytes);
}

BOOST_AUTO_TEST_CASE(every_truncation_is_rejected) {
    const auto bytes = queue::encode_message_record(sample_entry(), sample_message);
    BOOST_REQUIRE(bytes.ok());
    BOOST_REQUIRE(queue::decode_message_record(*bytes).ok());
    for (std::size_t n = 0; n < bytes->size(); ++n) {
        const auto r = queue::decode_message_record(std::string_view(*bytes).substr(0, n));
        BOOST_CHECK_MESSAGE(!r.ok(), "prefix of " << n << " octets accepted");
    }
    // And a record with garbage appended (a longer torn write over an old file) is rejected.
    BOOST_CHECK(!queue::decode_message_record(*bytes + "x").ok());
}

BOOST_AUTO_TEST_CASE(every_state_record_truncation_is_rejected) {
    const auto bytes = queue::encode_state_record({"0123456789ABCDEF", 3, {{RecipientState::delivered, "ok"}}});
    BOOST_REQUIRE(bytes.ok());
    for (std::size_t n = 0; n < bytes->size(); ++n) {
        BOOST_CHECK(!queue::decode_state_record(std::string_view(*bytes).substr(0, n)).ok());
    }
}

BOOST_AUTO_TEST_CASE(every_single_bit_flip_is_rejected) {
    const auto bytes = queue::encode_message_record(sample_entry(), sample_message);
    BOOST_REQUIRE(bytes.ok());
    for (std::size_t i = 0; i < bytes->size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            std::string damaged = *bytes;
            damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
            BOOST_CHECK_MESSAGE(!queue::decode_message_record(damaged).ok(),
                                "flip of bit " << bit << " at " << i << " accepted");
        }
    }
}

BOOST_AUTO_TEST_CASE(kinds_do_not_mix) {
    const auto msg = queue::encode_message_record(sample_entry(), sample_message);
    const auto st = queue::encode_state_record({"0123456789ABCDEF", 1, {}});
    BOOST_CHECK(!queue::decode_state_record(*msg).ok());
    BOOST_CHECK(!queue::decode_message_record(*st).ok());
}

BOOST_AUTO_TEST_CASE(encode_refuses_what_it_cannot_carry) {
    SpoolEntry e = sample_entry();
    e.status.pop_back();
    BOOST_CHECK(!queue::encode_message_record(e, "").ok());
    e = sample_entry();
    e.id = "not an id";
    BOOST_CHECK(!queue::encode_message_record(e, "").ok());
}

BOOST_AUTO_TEST_CASE(errors_name_the_problem) {
    const auto bytes = queue::encode_message_record(sample_entry(), sample_message);
    const auto torn = queue::decode_message_record(std::string_view(*bytes).substr(0, bytes->size() - 3));
    BOOST_REQUIRE(!torn.ok());
    BOOST_TEST(torn.error().find("torn") != std::string::npos);
    BOOST_TEST(!queue::decode_message_record("hello").ok());
}

BOOST_AUTO_TEST_CASE(crc32c_check_value) {
    // The standard check value of CRC-32C (RFC 3720 B.4 family): "123456789".
    BOOST_TEST(queue::crc32c("123456789") == 0xE3069283u);
    BOOST_TEST(queue::crc32c("") == 0u);
    const std::string long_text(1000, 'q');
    BOOST_TEST(queue::crc32c(long_text.substr(300), queue::crc32c(long_text.substr(0, 300))) ==
               queue::crc32c(long_text));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(queue_ids)

BOOST_AUTO_TEST_CASE(ids_are_unique_sortable_and_carry_their_time) {
    test::SeededRandom random(7);
    queue::QueueIdGenerator gen;
    std::vector<std::string> ids;
    for (std::int64_t t : {1'700'000'000, 1'700'000'000, 1'700'000'001, 1'700'000'001, 1'800'000'000}) {
        for (int i = 0; i < 100; ++i) ids.push_back(gen.next(t, random));
    }
    std::set<std::string> unique(ids.begin(), ids.end());
    BOOST_TEST(unique.size() == ids.size());
    BOOST_TEST(std::is_sorted(ids.begin(), ids.end()));
    for (const auto& id : ids) BOOST_TEST(queue::is_valid_queue_id(id));
    BOOST_TEST(queue::queue_id_time(ids.front()) == 1'700'000'000);
    BOOST_TEST(queue::queue_id_time(ids.back()) == 1'800'000'000);
}

BOOST_AUTO_TEST_CASE(clock_going_back_keeps_order) {
    test::SeededRandom random(7);
    queue::QueueIdGenerator gen;
    const std::string a = gen.next(1'700'000'100, random);
    const std::string b = gen.next(1'700'000'000, random);  // the clock stepped back
    BOOST_TEST(a < b);
}

BOOST_AUTO_TEST_CASE(id_syntax) {
    BOOST_TEST(!queue::is_valid_queue_id(""));
    BOOST_TEST(!queue::is_valid_queue_id("0123456789ABCDEI"));  // I is not Crockford
    BOOST_TEST(!queue::is_valid_queue_id("0123456789abcdef"));
    BOOST_TEST(queue::is_valid_queue_id("0123456789ABCDEF"));
    BOOST_TEST(queue::queue_id_time("bad") == -1);
}

BOOST_AUTO_TEST_SUITE_END()
