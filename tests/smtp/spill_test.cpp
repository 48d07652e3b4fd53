// Large messages received into a spill file (smtp::MessageSpill, session.hpp): the threshold,
// writes in chunks, the stored message byte for byte the same as without a spill, memory
// bounded near the threshold, and 452 4.3.1 when the file cannot be made or written.
#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "smtp/server/session.hpp"
#include "support/session_driver.hpp"

using pigeon::smtp::MessageSpill;
using pigeon::smtp::SessionConfig;
using pigeon::test::SessionDriver;

namespace {

// A spill in memory that records what it is asked, as net::SpillDirectory's files are.
struct MemorySpill final : MessageSpill {
    struct State {
        std::vector<std::size_t> writes;  // sizes, in order
        std::string octets;
        bool finished = false;
        bool dropped = false;
    };
    bool refuse_open = false;
    std::size_t fail_after_octets = std::string::npos;  // a write past this fails (disk full)
    bool fail_finish = false;
    std::vector<std::shared_ptr<State>> files;

    struct File final : MessageSpill::File {
        MemorySpill& spill;
        std::shared_ptr<State> state;
        File(MemorySpill& s, std::shared_ptr<State> st) : spill(s), state(std::move(st)) {}
        ~File() override {
            if (!state->finished) state->dropped = true;
        }
        bool write(std::string_view octets) override {
            if (state->octets.size() + octets.size() > spill.fail_after_octets) return false;
            state->writes.push_back(octets.size());
            state->octets.append(octets);
            return true;
        }
        pigeon::core::MessageRef finish() override {
            state->finished = true;
            if (spill.fail_finish) return {};
            // Kept alive by the state, as a mapping is by its file.
            return pigeon::core::MessageRef::viewing(state, state->octets);
        }
    };
    std::unique_ptr<MessageSpill::File> open() override {
        if (refuse_open) return nullptr;
        files.push_back(std::make_shared<State>());
        return std::make_unique<File>(*this, files.back());
    }
};

struct Gate final : pigeon::smtp::ResourceGate {
    std::size_t in_use = 0;
    std::size_t peak = 0;
    bool message_memory_fits(std::size_t) const override { return true; }
    bool reserve_message_memory(std::size_t n) override {
        in_use += n;
        peak = std::max(peak, in_use);
        return true;
    }
    void release_message_memory(std::size_t n) override { in_use -= n; }
};

SessionConfig config(MemorySpill* spill, std::uint64_t threshold, Gate* gate = nullptr) {
    SessionConfig c;
    c.spill = spill;
    c.spill_threshold_octets = threshold;
    c.resources = gate;
    c.max_message_octets = 64 * 1024 * 1024;
    return c;
}

std::string message_of(std::size_t lines, char fill = 'a') {
    std::string text = "From: a@example.org\r\nSubject: big\r\n\r\n";
    for (std::size_t i = 0; i < lines; ++i) text += std::string(70, fill) + "\r\n";
    return text;
}

// Runs one transaction, sending `message` in pieces of `piece` octets; returns the final reply.
std::string transact(SessionDriver& d, const std::string& message, std::size_t piece = 1024) {
    d.send("EHLO client.example");
    d.send("MAIL FROM:<a@example.org>");
    d.send("RCPT TO:<b@test.example>");
    BOOST_REQUIRE(SessionDriver::code(d.send("DATA")) == "354");
    std::vector<std::string> replies;
    for (std::size_t at = 0; at < message.size(); at += piece) {
        auto r = d.send_raw(message.substr(at, piece));
        replies.insert(replies.end(), r.begin(), r.end());
    }
    BOOST_REQUIRE(replies.empty());
    return SessionDriver::last(d.send_raw(".\r\n"));
}

}  // namespace

// What a message that could not be stored gets after its final dot (RFC 5321 4.2.3: 452).
const std::string no_room = "452 4.3.1 Insufficient system resources for this message now; try again later";

BOOST_AUTO_TEST_SUITE(message_spill)

BOOST_AUTO_TEST_CASE(a_message_under_the_threshold_never_opens_a_file) {
    MemorySpill spill;
    SessionDriver d(config(&spill, 64 * 1024));
    BOOST_TEST(transact(d, message_of(100)).substr(0, 3) == "250");
    BOOST_TEST(spill.files.empty());
    BOOST_REQUIRE(d.queued.size() == 1u);
    BOOST_TEST(d.queued[0].message.to_string().find(message_of(100)) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_large_message_goes_to_the_file_in_chunks_and_is_stored_unchanged) {
    const std::string message = message_of(20000);  // about 1.4 MB
    MemorySpill spill;
    SessionDriver with(config(&spill, 256 * 1024));
    SessionDriver without(config(nullptr, 256 * 1024));
    BOOST_TEST(transact(with, message).substr(0, 3) == "250");
    BOOST_TEST(transact(without, message).substr(0, 3) == "250");
    BOOST_REQUIRE(spill.files.size() == 1u);
    const auto& file = *spill.files[0];
    BOOST_TEST(file.finished);
    BOOST_TEST(file.octets == message);  // the unstuffed message, nothing before or after
    // The first write is what reached the threshold; then spill_chunk_octets at least, except
    // the last (the rest at the end mark).
    BOOST_REQUIRE(file.writes.size() >= 2u);
    BOOST_TEST(file.writes.front() >= 256u * 1024);
    for (std::size_t i = 1; i + 1 < file.writes.size(); ++i)
        BOOST_TEST(file.writes[i] >= pigeon::smtp::spill_chunk_octets);
    BOOST_REQUIRE(with.queued.size() == 1u);
    BOOST_REQUIRE(without.queued.size() == 1u);
    // The stored message is our Received: as the prefix and the file as the body, never copied.
    BOOST_TEST(with.queued[0].message.body().data() == file.octets.data());
    BOOST_TEST(with.queued[0].message.to_string() == without.queued[0].message.to_string());
}

BOOST_AUTO_TEST_CASE(memory_taken_stays_near_the_threshold_whatever_the_size) {
    MemorySpill spill;
    Gate gate;
    SessionDriver d(config(&spill, 128 * 1024, &gate));
    d.send("EHLO client.example");
    d.send("MAIL FROM:<a@example.org> SIZE=50000000");  // declared: 50 MB
    d.send("RCPT TO:<b@test.example>");
    BOOST_REQUIRE(SessionDriver::code(d.send("DATA")) == "354");
    // Reserved at DATA: the threshold and one chunk, not the declared 50 MB.
    BOOST_TEST(gate.in_use == 128u * 1024 + pigeon::smtp::spill_chunk_octets);
    const std::string message = message_of(60000);  // about 4.3 MB
    for (std::size_t at = 0; at < message.size(); at += 1024) d.send_raw(message.substr(at, 1024));
    BOOST_TEST(gate.peak <= 128u * 1024 + pigeon::smtp::spill_chunk_octets);
    BOOST_TEST(SessionDriver::code(d.send_raw(".\r\n")) == "250");
    BOOST_TEST(gate.in_use == 0u);
}

BOOST_AUTO_TEST_CASE(no_file_means_452_after_the_end_and_the_session_goes_on) {
    MemorySpill spill;
    spill.refuse_open = true;
    SessionDriver d(config(&spill, 64 * 1024));
    BOOST_TEST(transact(d, message_of(5000)) == no_room);
    BOOST_TEST(d.queued.empty());
    spill.refuse_open = false;
    BOOST_TEST(transact(d, message_of(10)).substr(0, 3) == "250");
}

BOOST_AUTO_TEST_CASE(a_failed_write_means_452_and_the_file_is_dropped) {
    MemorySpill spill;
    spill.fail_after_octets = 200 * 1024;
    SessionDriver d(config(&spill, 64 * 1024));
    BOOST_TEST(transact(d, message_of(10000)) == no_room);
    BOOST_TEST(d.queued.empty());
    BOOST_REQUIRE(spill.files.size() == 1u);
    BOOST_TEST(spill.files[0]->dropped);
}

BOOST_AUTO_TEST_CASE(a_failed_finish_means_452) {
    MemorySpill spill;
    spill.fail_finish = true;
    SessionDriver d(config(&spill, 64 * 1024));
    BOOST_TEST(transact(d, message_of(5000)) == no_room);
    BOOST_TEST(d.queued.empty());
}

BOOST_AUTO_TEST_CASE(a_refused_message_drops_its_file_at_once) {
    MemorySpill spill;
    SessionConfig c = config(&spill, 64 * 1024);
    c.max_message_octets = 300 * 1024;
    SessionDriver d(c);
    // Too large: 552 5.3.4 at the end; the file goes as soon as the size is crossed.
    BOOST_TEST(transact(d, message_of(10000)).substr(0, 9) == "552 5.3.4");
    BOOST_REQUIRE(spill.files.size() == 1u);
    BOOST_TEST(spill.files[0]->dropped);
    BOOST_TEST(spill.files[0]->octets.size() <= 300u * 1024);
}

BOOST_AUTO_TEST_CASE(a_rejecting_verdict_and_a_closed_session_leave_no_file_behind) {
    MemorySpill spill;
    {
        SessionDriver d(config(&spill, 64 * 1024));
        d.message_policy = [](auto&) {
            pigeon::smtp::Verdict v;
            v.accept = false;
            v.reply = pigeon::core::Reply(550, "5.7.1", "no");
            return v;
        };
        BOOST_TEST(transact(d, message_of(5000)).substr(0, 3) == "550");
        BOOST_TEST(d.queued.empty());
    }
    {
        SessionDriver d(config(&spill, 64 * 1024));
        d.send("EHLO client.example");
        d.send("MAIL FROM:<a@example.org>");
        d.send("RCPT TO:<b@test.example>");
        d.send("DATA");
        d.send_raw(message_of(5000));  // then the connection is lost
    }
    BOOST_REQUIRE(spill.files.size() == 2u);
    BOOST_TEST(spill.files[1]->dropped);
}

// The law: with a spill of any threshold, and the message in any pieces, what is stored is
// exactly what is stored without one.
RC_BOOST_PROP(spilling_never_changes_what_is_stored,
              (std::uint16_t threshold_kib, std::uint16_t lines, std::uint16_t piece)) {
    const std::size_t threshold = 1 + threshold_kib % 300 * 1024;
    const std::string message = message_of(lines % 6000, 'q');
    const std::size_t slice = 512 + piece % 9000;
    MemorySpill spill;
    SessionDriver with(config(&spill, threshold));
    SessionDriver without(config(nullptr, threshold));
    RC_ASSERT(transact(with, message, slice).substr(0, 3) == "250");
    RC_ASSERT(transact(without, message, slice).substr(0, 3) == "250");
    RC_ASSERT(with.queued.size() == 1u);
    RC_ASSERT(with.queued[0].message.to_string() == without.queued[0].message.to_string());
    RC_ASSERT(spill.files.size() == (message.size() >= threshold ? 1u : 0u));
}

BOOST_AUTO_TEST_SUITE_END()
