// pigeon/core/idna.hpp: domain names for DNS - U-labels to A-labels (IDNA2008, RFC 5890 and
// RFC 5891, with UTS #46 non-transitional mapping), through libidn2.
//
// Contract: to_a_labels(name) returns the name as DNS must be asked about it. A name of
// ASCII only comes back ASCII-lowercased and otherwise unchanged (its syntax is the Domain
// parser's business, core/domain.hpp). A name with UTF-8 has every label converted, after NFC
// and UTS #46 mapping ("BÜCHER.example" and "bücher.example" -> "xn--bcher-kva.example";
// "例え.テスト" -> "xn--r8jz45g.xn--zckzah"). A name that is not valid IDNA2008 (a disallowed
// code point such as U+2603, a leading hyphen, "--" in positions 3-4, malformed UTF-8) is a
// ParseError naming libidn2's reason. The result of an ok conversion is a fixed point:
// to_a_labels(to_a_labels(x)) == to_a_labels(x). Pure: no I/O, no state, never throws.
// Used where a recipient domain becomes a DNS question (the outbound engine's MX lookup);
// the envelope keeps the domain as the client wrote it (RFC 6531).
#pragma once
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace pigeon::core {

Result<std::string> to_a_labels(std::string_view name);

}  // namespace pigeon::core
