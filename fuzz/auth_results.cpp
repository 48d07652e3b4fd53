// fuzz/auth_results.cpp: libFuzzer target for the removal of forged Authentication-Results
// fields (auth/dmarc/auth_results.hpp: strip_our_results, find_our_results, authserv_id_of) on
// arbitrary messages, with our authserv-id fixed to "mx.example.org".
//
// Checked on every input:
//   - nothing crashes or throws; authserv_id_of() of the whole input and of every field
//     value returns text without CR or LF;
//   - find_our_results() and strip_our_results() always succeed, also on a header that
//     core::parse_header refuses (RFC 8601 5: the removal is unconditional);
//   - what strip returns holds no field of ours and keeps the text after the header (the body)
//     as it was; when the header parses, the result parses too and has exactly as many fields
//     fewer as were found;
//   - stripping is idempotent: a second pass changes nothing more;
//   - renaming (rename_to set) keeps the number of fields, leaves none of ours, and is
//     idempotent too.
// A broken invariant traps, which libFuzzer reports as a crash with the input saved.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/dmarc/auth_results.hpp"
#include "core/header.hpp"

namespace {

using namespace pigeon;

constexpr std::string_view our_id = "mx.example.org";
constexpr std::string_view renamed = "X-Original-Authentication-Results";

void check(bool ok) {
    if (!ok) __builtin_trap();
}

bool has_line_break(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// The text after the header's empty line ("" when there is none).
std::string_view body_of(std::string_view message) {
    if (message.starts_with("\r\n")) return message.substr(2);
    const std::size_t end = message.find("\r\n\r\n");
    return end == std::string_view::npos ? std::string_view() : message.substr(end + 4);
}

std::size_t field_count(std::string_view message) {
    auto fields = core::parse_header(message);
    check(fields.ok());
    return fields.value().size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view message(reinterpret_cast<const char*>(data), size);
    check(!has_line_break(dmarc::authserv_id_of(message)));

    const auto found = dmarc::find_our_results(message, our_id);
    const auto stripped = dmarc::strip_our_results(message, our_id);
    check(found.ok() && stripped.ok());
    const auto fields = core::parse_header(message);
    const bool parses = fields.ok();
    if (parses)
        for (const auto& f : fields.value()) check(!has_line_break(dmarc::authserv_id_of(f.value)));

    const std::string& out = stripped.value();
    const auto again = dmarc::find_our_results(out, our_id);
    check(again.ok() && again.value().empty());
    if (parses) check(field_count(out) + found.value().size() == field_count(message));
    check(body_of(out) == body_of(message));
    const auto twice = dmarc::strip_our_results(out, our_id);
    check(twice.ok() && twice.value() == out);

    const auto moved = dmarc::strip_our_results(message, our_id, renamed);
    check(moved.ok());
    const auto left = dmarc::find_our_results(moved.value(), our_id);
    check(left.ok() && left.value().empty());
    if (parses) check(field_count(moved.value()) == field_count(message));
    const auto moved_twice = dmarc::strip_our_results(moved.value(), our_id, renamed);
    check(moved_twice.ok() && moved_twice.value() == moved.value());
    return 0;
}
