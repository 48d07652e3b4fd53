// pigeon/auth/dkim/tag_list.hpp: the tag=value lists of RFC 6376 3.2, shared by the
// DKIM-Signature header field and the DNS key record.
//
// Contract:
//   - parse_tag_list() follows the ABNF of 3.2: tag-name = ALPHA *(ALPHA / DIGIT / "_"),
//     tag-value = VALCHARs (%x21-3A / %x3C-7E) separated by folding white space; FWS is allowed
//     around names, "=" and values; a final ";" is allowed (and white space after it).
//   - Errors (never exceptions): a tag without "=", an invalid name or value character, an
//     empty tag-spec between two ";", and a duplicate tag name (3.2: "Tags with duplicate
//     names MUST NOT occur ... MUST be treated as invalid"). Names are case-sensitive.
//   - Values are views into the input, trimmed of surrounding FWS; `value_begin`/`value_end`
//     are their offsets so a verifier can delete the b= value from the raw header (3.7).
//   - At most max_tags tags: a list longer than that is an error (no real record comes close).
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace pigeon::dkim {

inline constexpr std::size_t max_tags = 64;

struct Tag {
    std::string_view name;
    std::string_view value;    // without the FWS around it; may contain FWS inside
    std::size_t value_begin = 0;  // offsets of `value` in the parsed text
    std::size_t value_end = 0;
};

struct TagList {
    std::vector<Tag> tags;  // in the order written
    const Tag* find(std::string_view name) const;
};

core::Result<TagList> parse_tag_list(std::string_view text);

// The value with every FWS character (SP, HTAB, CR, LF) removed: base64 tags (b=, bh=, p=).
std::string strip_fws(std::string_view value);

// A colon-separated list (h=, and the key record's h=, s=, k= use ":"), each element trimmed
// of FWS; empty elements are kept (as empty strings) so callers can reject them.
std::vector<std::string> split_list(std::string_view value, char separator = ':');

}  // namespace pigeon::dkim
