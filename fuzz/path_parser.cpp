// fuzz/path_parser.cpp: libFuzzer target for the address grammar of core/address.hpp and
// core/domain.hpp (Domain, Mailbox, reverse-path, forward-path).
//
// Checked on every input, under both ASCII and SMTPUTF8 syntax:
//   - no parser crashes or throws;
//   - whatever parses reparses from its canonical text to an equal value;
//   - a Domain keeps its text exactly and within 255 octets;
//   - SMTPUTF8 and address literals only widen the language;
//   - a mailbox forward-path is also a reverse-path, and the other way round;
//   - a parsed domain name that converts to A-labels (core/idna.hpp) converts to ASCII, and
//     converting that again changes nothing.
// A broken invariant traps, which libFuzzer reports as a crash with the input saved.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/address.hpp"
#include "core/domain.hpp"
#include "core/idna.hpp"
#include "core/limits.hpp"

namespace {

using namespace pigeon::core;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

void check_domain(std::string_view text) {
    const auto helo = Domain::parse(text, DomainSyntax{false, false});
    const auto plain = Domain::parse(text, DomainSyntax{true, false});
    const auto utf8 = Domain::parse(text, DomainSyntax{true, true});
    if (helo) check(plain && *plain == *helo && !helo->is_literal());
    if (plain) check(utf8 && *utf8 == *plain);
    if (utf8) {
        check(utf8->text() == text && text.size() <= domain_max_octets);
        const auto again = Domain::parse(utf8->text(), DomainSyntax{true, true});
        check(again && *again == *utf8);
        check(!utf8->is_literal() || utf8->lowercase() == utf8->text());
        // What the outbound engine asks DNS about (core/idna.hpp): ASCII out, a fixed point.
        if (!utf8->is_literal()) {
            if (const auto a = to_a_labels(utf8->text())) {
                for (char c : a.value()) check(static_cast<unsigned char>(c) < 0x80);
                const auto again_a = to_a_labels(a.value());
                check(again_a && again_a.value() == a.value());
            }
        }
    }
}

void check_paths(std::string_view text, AddressSyntax syntax) {
    const auto mailbox = Mailbox::parse(text, syntax);
    if (mailbox) {
        check(mailbox->to_string() == text);
        const auto again = Mailbox::parse(mailbox->to_string(), syntax);
        check(again && *again == *mailbox);
        check(mailbox->local_part().size() <= local_part_max_octets);
        if (!syntax.allow_utf8) check(mailbox->is_ascii());
    }
    const auto rev = parse_reverse_path(text, syntax);
    const auto fwd = parse_forward_path(text, syntax);
    if (rev) {
        check(text.size() <= path_max_octets);
        const auto again = parse_reverse_path(rev->to_string(), syntax);
        check(again && *again == *rev);
        check(rev->kind != Path::Kind::postmaster);
        if (!rev->is_null()) check(fwd && *fwd == *rev);
    }
    if (fwd) {
        const auto again = parse_forward_path(fwd->to_string(), syntax);
        check(again && *again == *fwd);
        check(!fwd->is_null());
        if (fwd->kind == Path::Kind::mailbox) check(rev && *rev == *fwd);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    check_domain(text);
    check_paths(text, AddressSyntax{false});
    check_paths(text, AddressSyntax{true});
    // ASCII success implies UTF-8 success with the same value.
    const auto a = parse_forward_path(text, AddressSyntax{false});
    if (a) {
        const auto b = parse_forward_path(text, AddressSyntax{true});
        check(b && *a == *b);
    }
    return 0;
}
