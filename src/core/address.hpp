// pigeon/core/address.hpp: Mailbox and the reverse-path / forward-path of RFC 5321 4.1.2.
//
// Contract:
//   Mailbox      = Local-part "@" ( Domain / address-literal )
//   Local-part   = Dot-string / Quoted-string     (UTF-8 allowed when allow_utf8, RFC 6531)
//   Path         = "<" [ A-d-l ":" ] Mailbox ">"
//   Reverse-path = Path / "<>"
//   Forward-path = Path, plus "<Postmaster>" without a domain (RFC 5321 4.1.1.3)
// A source route (A-d-l) is accepted and ignored (RFC 5321 4.1.2 and Appendix C).
// Limits: local part 64 octets, domain 255, whole path 256 (RFC 5321 4.5.3.1).
// Never throws; bad input is a ParseError.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/domain.hpp"
#include "core/result.hpp"

namespace pigeon::core {

struct AddressSyntax {
    bool allow_utf8 = false;  // SMTPUTF8 (RFC 6531): UTF-8 local parts and U-labels
};

class Mailbox {
public:
    Mailbox() = default;
    Mailbox(std::string local_part, Domain domain);
    // "local@domain", exactly the Mailbox production (no angle brackets).
    static Result<Mailbox> parse(std::string_view text, AddressSyntax syntax = {});

    // The local part as written on the wire: a Dot-string, or a Quoted-string with its quotes.
    const std::string& local_part() const noexcept { return local_; }
    const Domain& domain() const noexcept { return domain_; }
    std::string to_string() const;  // local "@" domain
    bool is_ascii() const;

    // Local parts are case-sensitive (RFC 5321 2.4); domains are not.
    friend bool operator==(const Mailbox& a, const Mailbox& b);

private:
    std::string local_;
    Domain domain_;
};

struct Path {
    enum class Kind { null, mailbox, postmaster };
    Kind kind = Kind::null;
    Mailbox mailbox;            // valid when kind == mailbox
    std::vector<Domain> route;  // source route as received; never used (RFC 5321 Appendix C)

    static Path null_path() { return {}; }
    static Path of(Mailbox m) { return Path{Kind::mailbox, std::move(m), {}}; }
    static Path postmaster() { return Path{Kind::postmaster, {}, {}}; }

    bool is_null() const noexcept { return kind == Kind::null; }
    // "<>", "<Postmaster>" or "<local@domain>"; the source route is dropped.
    std::string to_string() const;

    friend bool operator==(const Path& a, const Path& b);  // ignores the route
};

// The text between "FROM:" / "TO:" and the parameters, e.g. "<a@b>" or "<>".
Result<Path> parse_reverse_path(std::string_view text, AddressSyntax syntax = {});
Result<Path> parse_forward_path(std::string_view text, AddressSyntax syntax = {});

}  // namespace pigeon::core
