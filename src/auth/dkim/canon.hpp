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
//   - BodyCanonicalizer is the same canonicalization in pieces: the body fed to put() in any
//     chunks, then finish(), hands the sink exactly the octets canonicalize_body() returns for
//     the whole body, in order. It keeps a few flags and a count of held-back empty lines, never
//     the body or a line, and hands the sink at most sink_chunk octets at a time, so memory
//     stays bounded whatever the body (a 25 MiB line, a million empty lines).
//   - FieldIndex selects the fields h= names (5.4.2: the last instance first, then upwards; a
//     name with no instance left selects nothing) in time linear in fields + names.
//   - Nothing here throws or allocates beyond its outputs (and FieldIndex's index).
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
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

// canonicalize_body() in pieces; see the contract.
class BodyCanonicalizer {
public:
    using Sink = std::function<void(std::string_view)>;
    static constexpr std::size_t sink_chunk = 64 * 1024;  // octets per sink call, at most

    BodyCanonicalizer(Canon canon, Sink sink);
    void put(std::string_view chunk);  // the next octets of the body
    void finish();                     // the body ended; call once, then nothing more

private:
    void content(char c);  // an octet of the current line, not CR or LF
    void end_line();
    void emit(char c);
    void flush();

    Canon canon_;
    Sink sink_;
    std::string out_;                  // canonical octets not yet given to the sink
    std::size_t pending_empty_ = 0;    // empty lines not yet known not to be trailing
    bool line_open_ = false;           // the current line has written something
    bool pending_space_ = false;       // relaxed: WSP seen since the line's last output
    bool pending_cr_ = false;          // a CR that is a line end only if LF follows
    bool wrote_any_ = false;           // some line was not empty
};

// The fields of one message by lower-cased name, built once, for any number of h= lists.
class FieldIndex {
public:
    explicit FieldIndex(const Message& message);
    // One entry per name of `names` (compared case-insensitively): the field it selects, or
    // null (no instance left: over-signing, hashed as nothing).
    std::vector<const Field*> select(const std::vector<std::string>& names) const;

private:
    std::unordered_map<std::string, std::vector<const Field*>> by_name_;  // top first
};

}  // namespace pigeon::dkim
