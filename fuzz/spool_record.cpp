// libFuzzer target: the spool's record decoders (src/queue/record.hpp) on arbitrary bytes, as
// recovery meets them after a crash or a disk error. Invariants: no crash; whatever decodes
// re-encodes (as format version 2, or 3 for a held message's state record) and decodes again
// to the same record, retry state and held flag included; a version 2 or 3 record re-encodes
// to exactly its own bytes (the format is canonical);
// a version 1 record re-encodes to version 2; a removal record re-encodes to its own bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "queue/record.hpp"

using namespace pigeon::queue;

namespace {

std::uint16_t version_of(std::string_view bytes) {
    return static_cast<std::uint16_t>(static_cast<unsigned char>(bytes[4]) |
                                      static_cast<unsigned char>(bytes[5]) << 8);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    if (auto m = decode_message_record(bytes); m.ok()) {
        auto again = encode_message_record(m->entry, m->message);
        if (!again.ok()) __builtin_trap();
        if (version_of(*again) != record_format_version) __builtin_trap();
        if (version_of(bytes) == record_format_version && *again != bytes) __builtin_trap();
        auto back = decode_message_record(*again);
        if (!back.ok() || back->message != m->message || back->entry.id != m->entry.id ||
            back->entry.status != m->entry.status ||
            back->entry.arrival_unix_seconds != m->entry.arrival_unix_seconds)
            __builtin_trap();
    }
    if (auto s = decode_state_record(bytes); s.ok()) {
        auto again = encode_state_record(*s);
        if (!again.ok()) __builtin_trap();
        // Version 2, and version 3 (a held message's, only with the flag set), are canonical.
        if (version_of(bytes) >= record_format_version && *again != bytes) __builtin_trap();
        auto back = decode_state_record(*again);
        if (!back.ok() || back->status != s->status || back->sequence != s->sequence ||
            back->held != s->held)
            __builtin_trap();
    }
    if (auto r = decode_removal_record(bytes); r.ok()) {
        auto again = encode_removal_record(*r);
        if (!again.ok() || *again != bytes) __builtin_trap();
    }
    return 0;
}
