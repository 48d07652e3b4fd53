// libFuzzer target: a whole session of either role fed arbitrary bytes, split into chunks at
// fuzzer-chosen points, with every asynchronous action answered (accept or reject as the input
// decides). A message spill in memory takes messages past a threshold the input chooses, and
// refuses to open or write when the input says so. Invariants: no crash, no sanitizer report,
// every byte the server sends parses as a sequence of well-formed replies, and a stored
// message is never larger than the limit plus our header fields.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/clock.hpp"
#include "core/reply.hpp"
#include "smtp/server/session.hpp"

namespace {

using namespace pigeon;

struct Driver {
    std::unique_ptr<smtp::Session> session;
    std::string output;
    std::uint8_t decisions = 0;  // bits from the input decide accept / reject
    std::size_t max_message_octets = 0;

    bool next_bit() {
        bool b = decisions & 1u;
        decisions = static_cast<std::uint8_t>((decisions >> 1) | (b ? 0x80u : 0u));
        return b;
    }

    void run(std::vector<smtp::Action> actions) {
        for (std::size_t i = 0; i < actions.size() && i < 10000; ++i) {
            std::vector<smtp::Action> more;
            std::visit(
                [&](auto& a) {
                    using A = std::decay_t<decltype(a)>;
                    if constexpr (std::is_same_v<A, smtp::Send>) {
                        output += a.bytes;
                    } else if constexpr (std::is_same_v<A, smtp::BeginTls>) {
                        more = session->on(smtp::TlsReady{});
                    } else if constexpr (std::is_same_v<A, smtp::Authenticate>) {
                        more = session->on(smtp::AuthResult{
                            next_bit() ? smtp::AuthResult::Outcome::ok
                                       : smtp::AuthResult::Outcome::bad_credentials,
                            a.authcid});
                    } else if constexpr (std::is_same_v<A, smtp::CheckSender> ||
                                         std::is_same_v<A, smtp::CheckRecipient> ||
                                         std::is_same_v<A, smtp::CheckMessage>) {
                        smtp::Verdict v;
                        v.accept = next_bit();
                        more = session->on(v);
                    } else if constexpr (std::is_same_v<A, smtp::Enqueue>) {
                        if (a.message.body().size() > max_message_octets) __builtin_trap();
                        if (next_bit())
                            more = session->on(smtp::Enqueued{"Q"});
                        else
                            more = session->on(smtp::EnqueueFailed{"fuzz"});
                    }
                },
                actions[i]);
            for (auto& m : more) actions.push_back(std::move(m));
        }
    }
};

// An in-memory spill file that fails when two decision bits in a row say so (1 in 4).
struct FuzzSpill final : smtp::MessageSpill {
    Driver* driver = nullptr;
    bool unlucky() { return driver->next_bit() && driver->next_bit(); }

    struct File final : smtp::MessageSpill::File {
        FuzzSpill& spill;
        std::shared_ptr<std::string> octets = std::make_shared<std::string>();
        explicit File(FuzzSpill& s) : spill(s) {}
        bool write(std::string_view more) override {
            if (spill.unlucky()) return false;
            octets->append(more);
            return true;
        }
        core::MessageRef finish() override {
            if (spill.unlucky()) return {};
            return core::MessageRef(std::move(octets));
        }
    };
    std::unique_ptr<smtp::MessageSpill::File> open() override {
        if (unlucky()) return nullptr;
        return std::make_unique<File>(*this);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    static core::FixedClock clock(1795000000);
    smtp::SessionConfig config;
    config.role = (data[0] & 1) ? smtp::Role::submission : smtp::Role::inbound;
    config.tls_available = data[0] & 2;
    config.tls_active = data[0] & 4;
    config.max_recipients = 1 + (data[0] >> 4);
    config.max_message_octets = 64 + 64 * (data[0] >> 3);
    config.clock = &clock;
    Driver d;
    d.decisions = data[1];
    d.max_message_octets = config.max_message_octets;
    // Thresholds from 0 to 1008 against messages of at most 64..1024 octets: some spill,
    // some do not.
    FuzzSpill spill;
    spill.driver = &d;
    config.spill = &spill;
    config.spill_threshold_octets = 16u * (data[1] & 0x3fu);
    d.session = smtp::make_session(config, smtp::PeerInfo{"192.0.2.7"});
    d.run(d.session->start());

    // Chunk boundaries: a 0xff byte ends a chunk (and is not sent), so the fuzzer explores
    // splits of commands, CRLFs and end-of-data marks.
    std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
    while (!rest.empty()) {
        auto cut = rest.find('\xff');
        d.run(d.session->put(rest.substr(0, cut)));
        if (cut == std::string_view::npos) break;
        rest.remove_prefix(cut + 1);
    }
    d.run(d.session->put_eof());

    std::string_view out(d.output);
    core::ReplyParser parser;
    while (!out.empty()) {
        auto used = parser.put(out);
        if (parser.failed() || used == 0 || !parser.done()) __builtin_trap();
        out.remove_prefix(used);
        parser.reset();
    }
    return 0;
}
