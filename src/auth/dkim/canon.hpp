// pigeon/auth/dkim/canon.hpp: the header section as DKIM sees it, and the simple and relaxed
// canonicalizations of RFC 6376 3.4.
//
// Contract:
//   - parse_message() splits a message into header fields, keeping each field's raw bytes
//     (name, colon, folded value and the line break), and the body (everything after the empty
//     line; empty if there is none). Lines end in CRLF; a bare LF is accepted as a line end too
//     so that verification tolerates what a mail store produced, and is kept as is in `raw`.
//     Obsolete syntax is tolerated (RFC 5322 4.5: white space between the name and the colon).
//     A line that is neither a field nor a continuation, or a continuation before any field,
//     is an error: the header section cannot be canonicalized reliably.
//   - canonicalize_header() returns the field as it is fed to the hash, including the final
//     CRLF (3.4.1, 3.4.2); the caller drops that CRLF for the DKIM-Signature field (3.7).
//   - canonicalize_body() returns the canonical body (3.4.3, 3.4.4, with errata 3133: relaxed
//     turns an empty body into the empty string, simple into a single CRLF).
//   - Nothing here throws or allocates beyond its outputs.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace pigeon::dkim {

enum class Canon { simple, relaxed };
const char* canon_name(Canon c);  // "simple" / "relaxed"

struct Field {
    std::string_view raw;    // the whole field, with its line break(s)
    std::string_view name;   // as written, without trailing white space
    std::string_view value;  // after the colon, folded, without the final line break
};

struct Message {
    std::vector<Field> fields;  // in order, top first
    std::string_view body;
};

// At most this many header fields are read: an absurd header is refused, not hashed.
inline constexpr std::size_t max_header_fields = 1000;

core::Result<Message> parse_message(std::string_view message);

bool name_equals(std::string_view a, std::string_view b);  // ASCII case-insensitive

std::string canonicalize_header(const Field& field, Canon canon);
void append_canonical_header(std::string& out, const Field& field, Canon canon);  // same, appended
std::string canonicalize_body(std::string_view body, Canon canon);

}  // namespace pigeon::dkim
