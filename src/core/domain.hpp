// pigeon/core/domain.hpp: the Domain of RFC 5321 4.1.2, including address literals (4.1.3).
//
// Contract: parse() accepts exactly the RFC 5321 grammar
//   Domain          = sub-domain *("." sub-domain)
//   sub-domain      = Let-dig [Ldh-str]          (U-label too when allow_utf8, RFC 6531)
//   address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
//                           General-address-literal ) "]"
// and at most domain_max_octets (255) octets. It never throws; bad input gives a
// ParseError naming the problem. Names compare case-insensitively (ASCII).
#pragma once
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace pigeon::core {

struct DomainSyntax {
    bool allow_address_literal = true;  // EHLO, paths: yes. HELO: no (RFC 5321 4.1.1.1)
    bool allow_utf8 = false;            // SMTPUTF8 transactions (RFC 6531 3.3)
};

class Domain {
public:
    enum class Kind { name, ipv4_literal, ipv6_literal, general_literal };

    Domain() = default;  // an empty name; only parse() makes a valid one
    static Result<Domain> parse(std::string_view text, DomainSyntax syntax = {});

    const std::string& text() const noexcept { return text_; }  // as written, literals with brackets
    std::string lowercase() const;  // ASCII-lowercased name; literals unchanged
    Kind kind() const noexcept { return kind_; }
    bool is_literal() const noexcept { return kind_ != Kind::name; }
    bool empty() const noexcept { return text_.empty(); }
    // The address inside an IPv4/IPv6 literal ("1.2.3.4", "::1"), empty otherwise.
    std::string literal_address() const;

    friend bool operator==(const Domain& a, const Domain& b);

private:
    std::string text_;
    Kind kind_ = Kind::name;
};

// IPv4 dotted quad, each part 0..255 written in at most 3 digits (RFC 5321 4.1.3 Snum).
bool is_ipv4_address(std::string_view text);
// RFC 5321 4.1.3 IPv6-addr (full, compressed, and with embedded IPv4).
bool is_ipv6_address(std::string_view text);
// Well-formed UTF-8 (RFC 3629): no overlong forms, surrogates or code points past U+10FFFF.
// Shared by the Domain and Local-part parsers, which accept UTF-8 under SMTPUTF8.
bool is_well_formed_utf8(std::string_view text);

}  // namespace pigeon::core
