// Tests for queue/record.hpp and queue/queue_id.hpp: encode/decode round trip (property),
// every truncation and every corruption rejected, ids sortable and unique.
#include "queue/record.hpp"

#include <rapidcheck/boost_test.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "queue/queue_id.hpp"
#include "support/assertion_recorder.hpp"
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

// A recipient state with the version 2 retry fields anywhere in their range.
rc::Gen<RecipientStatus> gen_status() {
    return rc::gen::exec([] {
        RecipientStatus s;
        s.state = static_cast<RecipientState>(*rc::gen::inRange(0, 3));
        s.diagnostic = *rc::gen::arbitrary<std::string>();
        s.attempts = *rc::gen::arbitrary<std::uint32_t>();
        s.next_attempt_unix = *rc::gen::arbitrary<std::int64_t>();
        s.delay_notified = *rc::gen::arbitrary<bool>();
        return s;
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
            e.status.push_back(*gen_status());
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
    e.status = {RecipientStatus{RecipientState::pending, "451 4.7.1 greylisted", 3, 1'790'001'800, true},
                RecipientStatus{RecipientState::failed, "5.1.1 no such user"}};
    e.folder = "Junk";
    return e;
}

const std::string sample_message = "Subject: hi\r\n\r\nbody\r\n";

// ---- version 1 records, built by hand as Pigeon before format version 2 wrote them ----------

struct V1Writer {
    std::string out;
    void le(std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
    }
    void str(const std::string& s) {
        le(s.size(), 4);
        out += s;
    }
    void path(const std::string& mailbox) {  // "" for <>
        if (mailbox.empty()) {
            le(0, 1);
        } else {
            le(1, 1);
            str(mailbox);
        }
    }
    void start(std::uint16_t kind, std::uint16_t version = 1) {
        out = "PGNQ";
        le(version, 2);
        le(kind, 2);
    }
    std::string finish() {
        const std::uint64_t length = out.size();
        const std::uint32_t crc = queue::crc32c(out);
        le(length, 8);
        le(crc, 4);
        out += "QEND";
        return out;
    }
};

// The v1 message record of sample_entry(), whose v1 fields are: state + diagnostic.
std::string v1_message_record(std::uint16_t version = 1) {
    V1Writer w;
    w.start(1, version);
    w.str("0123456789ABCDEF");
    w.le(static_cast<std::uint64_t>(1'790'000'000), 8);
    w.str("Junk");
    w.path("alice@example.org");
    w.le(2, 1);  // 8BITMIME
    w.le(1, 1);  // smtputf8
    w.le(1, 1);  // has declared size
    w.le(42, 8);
    w.str("client.example");
    w.le(1, 1);  // esmtp
    w.str("192.0.2.7");
    w.str("alice");
    w.le(1, 1);  // tls
    w.le(2, 4);  // recipients
    w.path("bob@example.net");
    w.le(0, 1);
    w.str("");
    w.path("carol@example.com");
    w.le(2, 1);
    w.str("5.1.1 no such user");
    w.le(sample_message.size(), 8);
    w.out += sample_message;
    return w.finish();
}

std::string v1_state_record() {
    V1Writer w;
    w.start(2);
    w.str("0123456789ABCDEF");
    w.le(7, 4);  // sequence
    w.le(2, 4);  // count
    w.le(1, 1);
    w.str("new/1790000000.Q0123456789ABCDEFR0.host");
    w.le(0, 1);
    w.str("");
    return w.finish();
}

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

// Every encoder decodes what it wrote when the costly checks are on (PIGEON_ASSERT, on in the
// dev, fuzz and simulator builds): for any entry and message, in one piece or several, no
// assertion is raised, so the check has no false alarms (and the properties above, which run
// with it on in the dev build, would stop at a real mismatch).
RC_BOOST_PROP(the_encoders_round_trip_assertion_holds, ()) {
    pigeon::core::enable_costly_assertions();
    pigeon::test::AssertionRecorder recorder;
    const SpoolEntry e = *gen_entry();
    const std::string message = *rc::gen::arbitrary<std::string>();
    const std::size_t cut = *rc::gen::inRange<std::size_t>(0, message.size() + 1);
    const std::string_view whole(message);
    const std::string_view parts[] = {whole.substr(0, cut), whole.substr(cut)};
    RC_ASSERT(queue::encode_message_record_parts(e, parts).ok());
    queue::StateRecord r;
    r.id = e.id;
    r.status = e.status;
    r.held = *rc::gen::arbitrary<bool>();
    RC_ASSERT(queue::encode_state_record(r).ok());
    RC_ASSERT(pigeon::core::assertions_enabled());
    RC_ASSERT(recorder.seen().empty());
}

RC_BOOST_PROP(state_record_round_trips, ()) {
    queue::StateRecord r;
    r.id = *gen_id();
    r.sequence = *rc::gen::arbitrary<std::uint32_t>();
    const int n = *rc::gen::inRange(0, 8);
    for (int i = 0; i < n; ++i) {
        r.status.push_back(*gen_status());
    }
    r.held = *rc::gen::arbitrary<bool>();
    const auto bytes = queue::encode_state_record(r);
    RC_ASSERT(bytes.ok());
    // Version 3 exactly when it carries the held flag; 2 otherwise (what older servers read).
    RC_ASSERT(static_cast<int>((*bytes)[4]) == (r.held ? 3 : 2));
    const auto back = queue::decode_state_record(*bytes);
    RC_ASSERT(back.ok());
    RC_ASSERT(back->id == r.id);
    RC_ASSERT(back->sequence == r.sequence);
    RC_ASSERT(back->status == r.status);
    RC_ASSERT(back->held == r.held);
    RC_ASSERT(*queue::encode_state_record(*back) == *bytes);  // canonical
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
    BOOST_TEST(torn.error().message.find("torn") != std::string::npos);
    BOOST_TEST(!queue::decode_message_record("hello").ok());
}

BOOST_AUTO_TEST_CASE(version_1_message_records_still_decode_with_default_retry_state) {
    const auto rec = queue::decode_message_record(v1_message_record());
    BOOST_REQUIRE_MESSAGE(rec.ok(), test::why(rec));
    const SpoolEntry& e = rec->entry;
    BOOST_TEST(e.id == "0123456789ABCDEF");
    BOOST_TEST(e.arrival_unix_seconds == 1'790'000'000);
    BOOST_TEST(e.folder == "Junk");
    BOOST_TEST(e.envelope.reverse_path.to_string() == "<alice@example.org>");
    BOOST_TEST(e.envelope.recipients.size() == 2u);
    BOOST_TEST(e.envelope.recipients[1].to_string() == "<carol@example.com>");
    BOOST_TEST((e.envelope.declared_size == std::optional<std::uint64_t>(42)));
    BOOST_TEST(e.envelope.tls);
    BOOST_TEST(rec->message == sample_message);
    const std::vector<RecipientStatus> expected = {
        RecipientStatus{RecipientState::pending, "", 0, 0, false},
        RecipientStatus{RecipientState::failed, "5.1.1 no such user", 0, 0, false}};
    BOOST_TEST(e.status == expected);
    // Re-encoding writes version 2, which decodes to the same entry.
    const auto again = queue::encode_message_record(e, rec->message);
    BOOST_REQUIRE(again.ok());
    BOOST_TEST(static_cast<int>((*again)[4]) == 2);
    const auto back = queue::decode_message_record(*again);
    BOOST_REQUIRE(back.ok());
    BOOST_TEST(back->entry.status == expected);
    BOOST_TEST(back->message == sample_message);
}

BOOST_AUTO_TEST_CASE(version_1_state_records_still_decode) {
    const auto rec = queue::decode_state_record(v1_state_record());
    BOOST_REQUIRE_MESSAGE(rec.ok(), test::why(rec));
    BOOST_TEST(rec->sequence == 7u);
    BOOST_REQUIRE(rec->status.size() == 2u);
    BOOST_TEST(rec->status[0].state == RecipientState::delivered);
    BOOST_TEST(rec->status[0].attempts == 0u);
    BOOST_TEST(rec->status[0].next_attempt_unix == 0);
    BOOST_TEST(!rec->status[0].delay_notified);
    BOOST_TEST(rec->status[1].state == RecipientState::pending);
}

// `pigeon queue hold` (issue 13): the held flag is the one field of state format version 3.
BOOST_AUTO_TEST_CASE(held_state_records_are_version_3_and_strict) {
    const queue::StateRecord held{"0123456789ABCDEF", 4, {{RecipientState::pending, "451 later", 2, 99, false}}, true};
    const auto bytes = queue::encode_state_record(held);
    BOOST_REQUIRE(bytes.ok());
    BOOST_TEST(static_cast<int>((*bytes)[4]) == 3);
    const auto back = queue::decode_state_record(*bytes);
    BOOST_REQUIRE_MESSAGE(back.ok(), test::why(back));
    BOOST_TEST(back->held);
    BOOST_TEST(back->status == held.status);
    for (std::size_t n = 0; n < bytes->size(); ++n)
        BOOST_CHECK(!queue::decode_state_record(std::string_view(*bytes).substr(0, n)).ok());

    // The same record released is version 2, octet for octet what a server before hold wrote.
    queue::StateRecord released = held;
    released.held = false;
    const auto v2 = queue::encode_state_record(released);
    BOOST_REQUIRE(v2.ok());
    BOOST_TEST(static_cast<int>((*v2)[4]) == 2);
    BOOST_TEST(v2->size() + 1 == bytes->size());

    // Hand-made: version 3 with the flag 0 (not canonical) or 2 (not a boolean), and a
    // version 3 message or removal record (only state records have one): all refused.
    const auto v3_state = [](std::uint8_t flag) {
        V1Writer w;
        w.start(2, 3);
        w.str("0123456789ABCDEF");
        w.le(4, 4);  // sequence
        w.le(0, 4);  // no recipients
        w.le(flag, 1);
        return w.finish();
    };
    BOOST_TEST(queue::decode_state_record(v3_state(1)).ok());
    BOOST_TEST(test::why(queue::decode_state_record(v3_state(0))).find("without the held flag") != std::string::npos);
    BOOST_TEST(!queue::decode_state_record(v3_state(2)).ok());
    V1Writer removal;
    removal.start(3, 3);
    removal.str("0123456789ABCDEF");
    BOOST_TEST(test::why(queue::decode_removal_record(removal.finish())).find("unsupported record version 3") !=
               std::string::npos);
    auto message = queue::encode_message_record(sample_entry(), sample_message);
    BOOST_REQUIRE(message.ok());
    V1Writer m;
    m.out = message->substr(0, message->size() - queue::record_trailer_octets);
    m.out[4] = 3;
    BOOST_TEST(!queue::decode_message_record(m.finish()).ok());
}

BOOST_AUTO_TEST_CASE(version_1_records_keep_the_strict_checks) {
    const std::string msg = v1_message_record();
    for (std::size_t n = 0; n < msg.size(); ++n) {
        BOOST_CHECK_MESSAGE(!queue::decode_message_record(std::string_view(msg).substr(0, n)).ok(),
                            "v1 prefix of " << n << " octets accepted");
    }
    for (std::size_t i = 0; i < msg.size(); ++i) {
        std::string damaged = msg;
        damaged[i] = static_cast<char>(damaged[i] ^ 0x10);
        BOOST_CHECK_MESSAGE(!queue::decode_message_record(damaged).ok(), "v1 flip at " << i << " accepted");
    }
    // v1 bytes labelled version 2 (checksum recomputed) are too short for the v2 layout.
    const auto relabelled = queue::decode_message_record(v1_message_record(2));
    BOOST_TEST(!relabelled.ok());
    // Unknown versions, with a valid checksum, are refused by name.
    for (std::uint16_t version : {0, 3, 0xFFFF}) {
        const auto r = queue::decode_message_record(v1_message_record(version));
        BOOST_REQUIRE(!r.ok());
        BOOST_TEST(r.error().message.find("unsupported record version") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(version_2_carries_the_retry_state) {
    const auto bytes = queue::encode_message_record(sample_entry(), sample_message);
    BOOST_REQUIRE(bytes.ok());
    BOOST_TEST(static_cast<int>((*bytes)[4]) == 2);
    const auto back = queue::decode_message_record(*bytes);
    BOOST_REQUIRE(back.ok());
    BOOST_TEST(back->entry.status[0].attempts == 3u);
    BOOST_TEST(back->entry.status[0].next_attempt_unix == 1'790'001'800);
    BOOST_TEST(back->entry.status[0].delay_notified);
    // A delay flag that is neither 0 nor 1 is refused even with a valid checksum: find the
    // flag (the octet after the 8-octet next-attempt time of recipient 0) and set it to 2.
    std::string body = bytes->substr(0, bytes->size() - queue::record_trailer_octets);
    const std::string needle = "451 4.7.1 greylisted";
    const std::size_t at = body.find(needle) + needle.size() + 4 + 8;
    BOOST_REQUIRE(static_cast<int>(body[at]) == 1);
    body[at] = 2;
    V1Writer w;
    w.out = body;
    const auto bad = queue::decode_message_record(w.finish());
    BOOST_REQUIRE(!bad.ok());
    BOOST_TEST(bad.error().message.find("delay notified") != std::string::npos);
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
