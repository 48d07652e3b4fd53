// fuzz/dkim_signature.cpp: libFuzzer target for the tag-list and DKIM-Signature parsers
// (auth/dkim/tag_list.hpp, auth/dkim/record.hpp).
//
// Checked on every input:
//   - neither parser crashes or throws, and each fails only with a message;
//   - the tag-list is a function of the text, its tags are unique and their offsets point at
//     their values;
//   - a parsed signature satisfies what the verifier relies on: i= within d=, From in h=, b= and
//     bh= non-empty, the b= offsets inside the text, x= not before t=.
// A broken invariant traps, which libFuzzer reports as a crash with the input saved.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "auth/dkim/record.hpp"
#include "auth/dkim/tag_list.hpp"

namespace {

using namespace pigeon::dkim;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto tags = parse_tag_list(text);
    const auto again = parse_tag_list(text);
    check(tags.ok() == again.ok());
    if (tags.ok()) {
        std::set<std::string_view> names;
        for (const Tag& t : tags.value().tags) {
            check(names.insert(t.name).second);
            check(t.value_begin <= t.value_end && t.value_end <= text.size());
            check(text.substr(t.value_begin, t.value_end - t.value_begin) == t.value);
        }
        check(tags.value().tags.size() <= max_tags);
    } else {
        check(!tags.error().message.empty());
    }
    const auto sig = parse_signature(text);
    if (!sig.ok()) {
        check(!sig.error().message.empty());
        return 0;
    }
    check(tags.ok());
    const Signature& s = sig.value();
    check(identity_within(s.identity, s.domain));
    bool from = false;
    for (const auto& h : s.headers) from |= h == "from";
    check(from);
    check(!s.signature.empty() && !s.body_hash.empty());
    check(s.b_begin <= s.b_end && s.b_end <= text.size());
    if (s.timestamp && s.expiration) check(*s.expiration >= *s.timestamp);
    return 0;
}
