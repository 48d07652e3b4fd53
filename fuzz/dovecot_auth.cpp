// libFuzzer target: Dovecot's auth client protocol (src/policy/dovecot_auth.hpp) on arbitrary
// bytes from the auth server, and its tab-escaping on arbitrary values.
// Invariants: no crash; put() never uses more than it was given and makes progress until an
// error; once failed it stays failed; an OK answer carries a user of 1..255 octets without
// control characters or space; tab_unescape(tab_escape(v)) == v.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "policy/dovecot_auth.hpp"

namespace dovecot = pigeon::policy::dovecot;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    if (dovecot::tab_unescape(dovecot::tab_escape(bytes)) != bytes) __builtin_trap();
    dovecot::Decoder decoder;
    bool failed = false;
    // Feed in chunks of up to 7 bytes so that lines are split across calls.
    while (!bytes.empty()) {
        const std::string_view chunk = bytes.substr(0, 7);
        auto r = decoder.put(chunk);
        if (r.used > chunk.size()) __builtin_trap();
        if (failed && r.status != dovecot::Decoder::Status::error) __builtin_trap();
        if (r.status == dovecot::Decoder::Status::error) {
            failed = true;
            bytes.remove_prefix(chunk.size());
            continue;
        }
        if (r.used == 0) __builtin_trap();  // no progress without an error
        if (r.status == dovecot::Decoder::Status::answer && r.answer.kind == dovecot::Answer::Kind::ok) {
            const auto& user = r.answer.user;
            if (user.empty() || user.size() > dovecot::max_user_octets) __builtin_trap();
            for (char c : user)
                if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) __builtin_trap();
        }
        bytes.remove_prefix(r.used);
    }
    return 0;
}
