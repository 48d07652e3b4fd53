// fuzz/dkim_canon.cpp: libFuzzer target for the DKIM header section reader and both
// canonicalizations (auth/dkim/canon.hpp).
//
// Checked on every input (taken as a whole message):
//   - parse_message() never crashes, and its fields are in order, cover the header section
//     byte for byte, and the body is the rest of the input;
//   - every canonical header ends in CRLF; relaxed headers and bodies are idempotent;
//   - a canonical body is empty or ends in CRLF, and never ends in an empty line (CRLF CRLF).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/dkim/canon.hpp"

namespace {

using namespace pigeon::dkim;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    for (Canon c : {Canon::simple, Canon::relaxed}) {
        const std::string body = canonicalize_body(text, c);
        check(body.empty() ? c == Canon::relaxed : ends_with(body, "\r\n"));
        check(!ends_with(body, "\r\n\r\n"));
        if (c == Canon::relaxed) check(canonicalize_body(body, c) == body);
    }
    const auto m = parse_message(text);
    if (!m.ok()) {
        check(!m.error().message.empty());
        return 0;
    }
    const char* expect = text.data();
    for (const Field& f : m.value().fields) {
        check(f.raw.data() == expect);
        expect += f.raw.size();
        check(!f.name.empty());
        for (Canon c : {Canon::simple, Canon::relaxed}) check(ends_with(canonicalize_header(f, c), "\r\n"));
        const std::string relaxed = canonicalize_header(f, Canon::relaxed);
        const std::string again_text = relaxed + "\r\n";
        const auto again = parse_message(again_text);
        if (again.ok() && again.value().fields.size() == 1)
            check(canonicalize_header(again.value().fields[0], Canon::relaxed) == relaxed);
    }
    check(m.value().body.data() + m.value().body.size() == text.data() + text.size());
    return 0;
}
