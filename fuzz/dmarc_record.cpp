// fuzz/dmarc_record.cpp: libFuzzer target for the DMARC record parser (auth/dmarc/record.hpp)
// and the Authentication-Results authserv-id reader (auth/dmarc/auth_results.hpp).
//
// Checked on every input:
//   - parse_record() never crashes or throws, fails only with a message, and accepts only
//     what is_dmarc_record() selects;
//   - a parsed record keeps pct within 0-100, and p_fallback implies a usable rua;
//   - parsing is a function of the text: twice gives the same record;
//   - an A-R field built with the input as authserv-id parses back to one field whose id is
//     found by find_our_results() (the output has no bare CR/LF whatever the input).
// A broken invariant traps, which libFuzzer reports as a crash with the input saved.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "auth/dmarc/auth_results.hpp"
#include "auth/dmarc/record.hpp"

namespace {

using namespace pigeon::dmarc;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto first = parse_record(text);
    const auto second = parse_record(text);
    check(first.ok() == second.ok());
    if (first.ok()) {
        check(is_dmarc_record(text));
        const Record& r = first.value();
        check(r.pct <= max_pct);
        check(!r.p_fallback || !r.rua.empty());
        check(r.p == second.value().p && r.rua == second.value().rua && r.warnings == second.value().warnings);
    } else {
        check(!first.error().message.empty());
    }

    std::string id;
    for (char c : text)
        if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) id += c;
    if (id.empty()) id = "mx";
    const auto field = build_authentication_results(id, {ResInfo{"dmarc", "none", std::string(text), {}}});
    const auto found = find_our_results(field, id);
    check(found.ok() && found.value().size() == 1);
    return 0;
}
