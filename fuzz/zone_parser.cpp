// libFuzzer target: the zone-file parser behind ZoneResolver on arbitrary text. Invariants: no
// crash and no exception; every parsed record answers a query for its own name and type with
// NOERROR and itself among the records (unless a test directive makes that name fail or its
// zone bogus); every parsed record, formatted with to_zone_line, parses back to itself.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dns/zone_resolver.hpp"

using namespace pigeon::dns;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto parsed = ZoneResolver::parse(text);
    if (!parsed.ok()) {
        if (parsed.error().message.empty()) __builtin_trap();
        return 0;
    }
    ZoneResolver& zone = parsed.value();
    const auto records = zone.records();
    for (const auto& r : records) {
        const Answer a = zone.lookup(Question{r.name, r.type});
        if (a.rcode == Rcode::noerror && a.security != Security::bogus) {
            bool found = false;
            for (const auto& got : a.records) found = found || got == r;
            if (!found) __builtin_trap();
        }
        (void)zone.lookup(Question{r.name, RrType::cname});
        (void)zone.lookup(Question{"x." + r.name, RrType::txt});
        (void)zone.lookup(Question{"", RrType::ns});

        auto again = ZoneResolver::parse(to_zone_line(r));
        if (!again.ok()) __builtin_trap();
        const auto back = again.value().records();
        if (back.size() != 1 || !(back[0] == r)) __builtin_trap();
    }
    return 0;
}
