// Shared helpers for the queue and delivery tests: envelopes, a seeded random source, a
// temporary directory that cleans up after itself (support/temp_dir.hpp).
#pragma once
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <system_error>
#include <vector>

#include "core/address.hpp"
#include "core/envelope.hpp"
#include "queue/queue_id.hpp"
#include "queue/record.hpp"
#include "support/temp_dir.hpp"

namespace pigeon::queue {
// For BOOST_TEST's messages.
inline std::ostream& operator<<(std::ostream& os, RecipientState s) { return os << state_name(s); }
inline std::ostream& operator<<(std::ostream& os, const RecipientStatus& s) {
    return os << state_name(s.state) << " (" << s.diagnostic << ")";
}
}  // namespace pigeon::queue

namespace pigeon::test {

// The error text of a result, or "" when it is ok (Boost evaluates messages eagerly).
template <class R>
std::string why(const R& r) {
    return r.ok() ? std::string() : r.error().message;
}

// splitmix64: deterministic across compilers, so failures replay.
class SeededRandom final : public queue::RandomSource {
public:
    explicit SeededRandom(std::uint64_t seed = 1) : state_(seed) {}
    std::uint64_t next_u64() override {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }

private:
    std::uint64_t state_;
};

inline core::Path path_of(const std::string& mailbox) {
    auto m = core::Mailbox::parse(mailbox, core::AddressSyntax{true});
    if (!m) {
        return core::Path::postmaster();  // tests only pass valid mailboxes
    }
    return core::Path::of(std::move(m).value());
}

inline core::Envelope make_envelope(const std::string& from, const std::vector<std::string>& to) {
    core::Envelope e;
    e.reverse_path = from.empty() ? core::Path::null_path() : path_of(from);
    for (const auto& r : to) {
        e.recipients.push_back(path_of(r));
    }
    e.body = core::BodyType::eight_bit_mime;
    e.helo = "client.example";
    e.esmtp = true;
    e.client_address = "192.0.2.7";
    return e;
}

inline std::shared_ptr<const std::string> make_message(const std::string& subject) {
    return std::make_shared<const std::string>("Subject: " + subject + "\r\n\r\nHello.\r\n");
}


}  // namespace pigeon::test
