// libFuzzer target: spool recovery (src/queue/spool.hpp) over a segment file with arbitrary
// bytes, as a crash or a damaged disk may leave it. The input is split at the first "|||"
// into two segments (000000000001.seg, 000000000002.seg) so removal records can refer back.
// Invariants: no crash; read-only recovery changes no file; every message it reports can be
// shown with its octets; repair recovery reports the same messages, and after it a commit,
// a removal and another recovery still work.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "queue/memory_storage.hpp"
#include "queue/spool.hpp"

using namespace pigeon;

namespace {

class CountingRandom final : public queue::RandomSource {
public:
    std::uint64_t next_u64() override { return state_ += 0x9E3779B97F4A7C15ull; }

private:
    std::uint64_t state_ = 1;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto cut = input.find("|||");
    queue::MemoryStorage storage;
    if (!storage.create(queue::Spool::segment_file(1), input.substr(0, cut)).ok()) __builtin_trap();
    if (cut != std::string_view::npos &&
        !storage.create(queue::Spool::segment_file(2), input.substr(cut + 3)).ok())
        __builtin_trap();
    if (!storage.sync().ok()) __builtin_trap();
    core::FixedClock clock(1'790'000'000);
    CountingRandom random;

    const auto files = storage.files();
    queue::Spool reader(storage, clock, random);
    const auto seen = reader.recover(queue::Spool::Recovery::read_only);
    if (!seen.ok() || storage.files() != files) __builtin_trap();
    for (const auto& m : reader.list()) {
        const auto rec = reader.show(m.id);
        if (!rec.ok() || rec->message.size() != m.size_octets) __builtin_trap();
    }

    queue::Spool spool(storage, clock, random);
    const auto repaired = spool.recover();
    if (!repaired.ok() || repaired->recovered + repaired->finished != seen->recovered + seen->finished)
        __builtin_trap();
    core::Envelope e;
    auto to = core::Mailbox::parse("b@example.org", core::AddressSyntax{true});
    if (!to.ok()) __builtin_trap();
    e.recipients.push_back(core::Path::of(std::move(to).value()));
    const auto id = spool.commit({e, std::make_shared<const std::string>("Subject: x\r\n\r\nx\r\n"), ""});
    if (!id.ok() || !spool.show(*id).ok() || !spool.remove(*id).ok()) __builtin_trap();
    queue::Spool again(storage, clock, random);
    const auto last = again.recover();
    if (!last.ok() || last->recovered != repaired->recovered) __builtin_trap();
    return 0;
}
