// fuzz/passwd_file.cpp: libFuzzer target for directory/passwd_file.hpp (Dovecot's passwd-file).
//
// Checked on every input:
//   - the parser never crashes or throws;
//   - an error names the source ("fuzz:<line>: ..." or "fuzz: ...");
//   - a parsed file's users are distinct, sorted, lower-case, each found by find(), each with a
//     known {SCHEME} and a non-empty hash; one warning per {PLAIN} user;
//   - writing the users back as "user:password" lines parses to the same users.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "directory/passwd_file.hpp"

namespace {

void check(bool ok) {
    if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace pigeon::directory;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto r = parse_passwd_file(text, "fuzz");
    if (!r) {
        check(r.error().message.rfind("fuzz:", 0) == 0);
        return 0;
    }
    std::size_t plain = 0;
    std::string again;
    for (std::size_t i = 0; i < r->users.size(); ++i) {
        const PasswdUser& u = r->users[i];
        if (i > 0) check(r->users[i - 1].address < u.address);
        for (char c : u.address) check(!(c >= 'A' && c <= 'Z'));
        check(r->find(u.address) == &u);
        const std::string scheme = scheme_of(u.password_hash);
        check(is_known_scheme(scheme));
        check(u.password_hash.size() > scheme.size() + 2);
        if (scheme == "PLAIN") ++plain;
        again += u.address + ":" + u.password_hash + "\n";
    }
    check(r->warnings.size() == plain);
    const auto back = parse_passwd_file(again, "again");
    check(back.ok() && back->users == r->users);
    return 0;
}
