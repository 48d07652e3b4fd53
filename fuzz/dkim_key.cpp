// fuzz/dkim_key.cpp: libFuzzer target for the DKIM key record parser (auth/dkim/record.hpp).
//
// Checked on every input:
//   - parse_key_record() never crashes or throws, fails only with a message, and is a function
//     of the text;
//   - a revoked record has no key bytes, any other parsed record has some;
//   - base64 decoding of p= round-trips through base64_encode.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "auth/dkim/record.hpp"

namespace {

using namespace pigeon::dkim;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto key = parse_key_record(text);
    const auto again = parse_key_record(text);
    check(key.ok() == again.ok());
    if (!key.ok()) {
        check(!key.error().message.empty());
    } else {
        const KeyRecord& k = key.value();
        check(k.revoked == k.public_key.empty());
        check(k.public_key == again.value().public_key);
        if (!k.revoked) check(base64_decode(base64_encode(k.public_key)) == k.public_key);
    }
    if (auto decoded = base64_decode(text)) check(base64_decode(base64_encode(*decoded)) == *decoded);
    return 0;
}
