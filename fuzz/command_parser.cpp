// fuzz/command_parser.cpp: libFuzzer target for smtp::parse_command.
//
// Contract checked on every input (the whole input is one command line, without CRLF):
//   - parse_command never crashes or throws;
//   - an error is a single-line 5xx reply (500..555) with an enhanced status of class 5;
//   - a parsed command survives format/parse: parse(format(c)) == c;
//   - utf8_recipients only widens the language: what parses without it parses the same with it.
// A broken invariant traps, which libFuzzer reports as a crash with the input saved.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "smtp/command.hpp"

namespace {

using pigeon::smtp::Command;
using pigeon::smtp::CommandSyntax;
using pigeon::smtp::ParsedCommand;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

const Command* check_one(std::string_view line, CommandSyntax syntax, const ParsedCommand& p) {
    if (const auto* r = std::get_if<pigeon::core::Reply>(&p)) {
        check(r->code >= 500 && r->code <= 555);
        check(r->enhanced.has_value() && r->enhanced->cls == 5);
        check(r->lines.size() == 1);
        return nullptr;
    }
    const Command& c = std::get<Command>(p);
    const std::string again_line = pigeon::smtp::format_command(c);
    check(again_line.size() <= line.size());  // canonical form never grows the line
    const ParsedCommand again = pigeon::smtp::parse_command(again_line, syntax);
    check(std::holds_alternative<Command>(again));
    check(std::get<Command>(again) == c);
    return &c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    const ParsedCommand strict = pigeon::smtp::parse_command(line, CommandSyntax{false});
    const ParsedCommand utf8 = pigeon::smtp::parse_command(line, CommandSyntax{true});
    const Command* a = check_one(line, CommandSyntax{false}, strict);
    const Command* b = check_one(line, CommandSyntax{true}, utf8);
    if (a) check(b != nullptr && *a == *b);
    return 0;
}
