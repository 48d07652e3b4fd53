// pigeon/core/header.hpp: reading the header section of an RFC 5322 message, enough for
// policy (who is in From:, is there a Date: or a Message-ID:). The DKIM issue brings the full
// canonicalising parser; this one only reads.
//
// Contract: never throws, never allocates more than the fields it returns. The header ends at
// the first empty line (or the end of the message: a message may have no body). A field is
// `name ":" value` with continuation lines starting with SP or HTAB (RFC 5322 2.2.3); names are
// 1*(%d33-57 / %d59-126) (2.2). A line that is neither makes the header malformed: the result
// is an error naming the line. Lines end in CRLF (the session guarantees it).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace pigeon::core {

struct HeaderField {
    std::string_view name;   // as written
    std::string_view value;  // raw, folded, without the CRLF that ends the field
};

Result<std::vector<HeaderField>> parse_header(std::string_view message);

// The value without folding: every CRLF followed by WSP becomes that WSP (RFC 5322 2.2.3).
std::string unfold(std::string_view value);

// The addr-specs of an address-list or mailbox-list (RFC 5322 3.4): display names, comments,
// quoted strings and groups are skipped; "Name <a@b>" gives "a@b", a bare "a@b" gives itself.
std::vector<std::string> addresses_in(std::string_view value);

// ASCII case-insensitive field name comparison.
bool field_is(const HeaderField& field, std::string_view name);

}  // namespace pigeon::core
