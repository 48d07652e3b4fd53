// fuzz/spf_record.cpp: libFuzzer target for the SPF record parser (auth/spf/record.hpp).
//
// Checked on every input:
//   - parse_record() never crashes or throws, and fails only with a message;
//   - it accepts only what is_spf_record() selects;
//   - a parsed record keeps its CIDR lengths in range and every domain-spec passes
//     check_domain_spec() (what the evaluator will expand is valid macro syntax);
//   - parsing is a function of the text: twice gives the same terms.
// A broken invariant traps, which libFuzzer reports as a crash with the input saved.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "auth/spf/record.hpp"

namespace {

using namespace pigeon::spf;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto first = parse_record(text);
    const auto second = parse_record(text);
    check(first.ok() == second.ok());
    if (!first.ok()) {
        check(!first.error().message.empty());
        return 0;
    }
    check(is_spf_record(text));
    const Record& r = first.value();
    check(r.mechanisms.size() == second.value().mechanisms.size());
    for (std::size_t i = 0; i < r.mechanisms.size(); ++i) {
        const Mechanism& m = r.mechanisms[i];
        check(m.text == second.value().mechanisms[i].text);
        check(m.cidr4 <= ip4_max_prefix && m.cidr6 <= ip6_max_prefix);
        if (!m.domain_spec.empty()) check(!check_domain_spec(m.domain_spec).has_value());
        const bool needs_spec = m.kind == MechanismKind::include || m.kind == MechanismKind::exists;
        if (needs_spec) check(!m.domain_spec.empty());
    }
    if (r.redirect) check(!check_domain_spec(*r.redirect).has_value());
    if (r.exp) check(!check_domain_spec(*r.exp).has_value());
    return 0;
}
