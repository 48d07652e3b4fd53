// fuzz/spf_macro.cpp: libFuzzer target for SPF macro expansion (auth/spf/macro.hpp) with an
// arbitrary macro-string and an arbitrary context.
//
// Input layout: the first byte picks the mode and the address family; the rest is split on
// NUL into the macro-string, sender local part, sender domain, current domain, HELO name,
// receiver and %{p} name (missing pieces are empty). Checked on every input:
//   - check_macro_string() and expand_macros() never crash or throw, and agree on validity;
//   - explanation mode accepts everything domain-spec mode accepts (it only adds SP, c, r, t);
//   - truncate_domain() of any expansion fits in 253 octets unless one label is too long;
//   - expansion is a function of its inputs: twice gives the same text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/spf/macro.hpp"

namespace {

using namespace pigeon::spf;
namespace dns = pigeon::dns;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t control = data[0];
    std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    std::vector<std::string> pieces;
    while (pieces.size() < 7) {
        const std::size_t nul = rest.find('\0');
        pieces.emplace_back(rest.substr(0, nul));
        if (nul == std::string_view::npos) break;
        rest.remove_prefix(nul + 1);
    }
    pieces.resize(7);

    const MacroMode mode = (control & 1) ? MacroMode::explanation : MacroMode::domain_spec;
    MacroContext c;
    c.local_part = pieces[1];
    c.sender_domain = pieces[2];
    c.sender = pieces[1] + "@" + pieces[2];
    c.domain = pieces[3];
    c.helo = pieces[4];
    c.receiver = pieces[5];
    c.timestamp = static_cast<std::int64_t>(control) * 1000003;
    const std::string validated = pieces[6];
    c.validated_name = [&validated] { return validated; };
    if (control & 2) {
        dns::Ipv6 ip;
        for (std::size_t i = 0; i < ip.octets.size(); ++i) ip.octets[i] = static_cast<std::uint8_t>(control * (i + 7));
        c.ip = ip;
    } else {
        c.ip = dns::Ipv4{{192, 0, 2, control}};
    }

    const std::string& text = pieces[0];
    const bool valid = !check_macro_string(text, mode).has_value();
    const auto once = expand_macros(text, mode, c);
    const auto twice = expand_macros(text, mode, c);
    check(valid == once.ok());
    check(once.ok() == twice.ok());
    if (mode == MacroMode::domain_spec && valid)
        check(!check_macro_string(text, MacroMode::explanation).has_value());
    if (!once.ok()) return 0;
    check(once.value() == twice.value());
    const std::string truncated = truncate_domain(once.value());
    if (truncated.size() > max_domain_octets) check(truncated.find('.') == std::string::npos);
    return 0;
}
