// fuzz_reply_parser: ReplyParser and parse_reply on arbitrary bytes.
// Input: two octets choosing a split point, then the reply bytes.
// Invariants (a violation traps):
//   - feeding the bytes in one piece or in two pieces gives the same outcome;
//   - parse_reply agrees with the parser;
//   - a reply that parses re-formats and re-parses to the same Reply (the law, from the side
//     of the parser: parse(format(parse(x))) == parse(x)).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/reply.hpp"

namespace {

using pigeon::core::ReplyParser;

struct Outcome {
    std::size_t consumed = 0;
    bool done = false;
    bool failed = false;
    pigeon::core::Reply reply;
    std::string error;
    friend bool operator==(const Outcome&, const Outcome&) = default;
};

Outcome run(std::string_view input, std::size_t cut) {
    ReplyParser parser;
    Outcome out;
    const std::size_t first = parser.put(input.substr(0, cut));
    if (first < cut && !parser.done() && !parser.failed()) {
        __builtin_trap();  // stopped early without a reason
    }
    out.consumed = first + parser.put(input.substr(cut));
    if (out.consumed > input.size()) {
        __builtin_trap();
    }
    out.done = parser.done();
    out.failed = parser.failed();
    if (out.done) {
        out.reply = parser.reply();
    }
    if (out.failed) {
        out.error = parser.error();
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
    const std::size_t cut = ((std::size_t{data[0]} << 8) | data[1]) % (input.size() + 1);

    const Outcome whole = run(input, input.size());
    if (!(run(input, cut) == whole)) {
        __builtin_trap();
    }

    const auto parsed = pigeon::core::parse_reply(input);
    if (parsed.ok()) {
        if (!whole.done || whole.consumed != input.size() || !(whole.reply == parsed.value())) {
            __builtin_trap();
        }
        const auto again = pigeon::core::parse_reply(pigeon::core::format_reply(parsed.value()));
        if (!again.ok() || !(again.value() == parsed.value())) {
            __builtin_trap();
        }
    } else if (whole.done && whole.consumed == input.size()) {
        __builtin_trap();  // the parser took it all as one reply, parse_reply refused it
    }
    return 0;
}
