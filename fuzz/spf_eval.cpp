// fuzz/spf_eval.cpp: libFuzzer target for the SPF evaluator (auth/spf/spf.hpp, RFC 7208
// check_host) over arbitrary zone data: the input is zone-file text served by a ZoneResolver,
// and check_host runs for a fixed request (MAIL FROM postmaster@example.org, HELO
// mail.example.org) from an IPv4 and from an IPv6 client.
//
// Checked on every input whose zone text parses:
//   - the evaluation ends, synchronously (the zone answers inside resolve()), with `done`
//     called exactly once, and never by the driver giving up: every question is answered;
//   - it stays within the RFC 7208 4.6.4 limits: at most 10 DNS-querying terms, the void
//     lookups over the limit only as the permerror that stops it, and no more questions to
//     DNS than max_driver_rounds;
//   - permerror and temperror say why; an explanation comes only with fail;
//   - it is a function of the zone and the request: a second run gives the same result.
// A broken invariant traps, which libFuzzer reports as a crash with the input saved.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "auth/spf/spf.hpp"
#include "dns/zone_resolver.hpp"

namespace {

using namespace pigeon;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

spf::SpfResult evaluate(std::string_view zone_text, const spf::IpAddress& ip) {
    auto zone = dns::ZoneResolver::parse(zone_text);
    check(zone.ok());
    spf::SpfRequest request = spf::make_request(ip, "postmaster@example.org", "mail.example.org");
    request.receiver = "mx.test";
    request.now = 1700000000;
    std::optional<spf::SpfResult> result;
    int calls = 0;
    spf::check_host_async(zone.value(), request, [&](spf::SpfResult r) {
        ++calls;
        result = std::move(r);
    });
    check(calls == 1 && result.has_value());
    check(zone.value().queries().size() <= spf::max_driver_rounds);
    return *result;
}

void check_result(const spf::SpfResult& r, const spf::SpfLimits& limits) {
    check(!r.problem.starts_with("gave up"));
    check(r.dns_terms <= limits.dns_terms);
    check(r.void_lookups <= limits.void_lookups ||
          (r.void_lookups == limits.void_lookups + 1 && r.verdict == spf::Verdict::permerror));
    if (r.verdict == spf::Verdict::permerror || r.verdict == spf::Verdict::temperror)
        check(!r.problem.empty());
    if (r.verdict != spf::Verdict::fail) check(r.explanation.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (!dns::ZoneResolver::parse(text).ok()) return 0;  // the zone parser has its own target
    for (const char* client : {"192.0.2.10", "2001:db8::10"}) {
        const auto ip = spf::parse_ip(client);
        check(ip.has_value());
        const spf::SpfResult first = evaluate(text, *ip);
        check_result(first, spf::SpfLimits{});
        const spf::SpfResult second = evaluate(text, *ip);
        check(first.verdict == second.verdict && first.problem == second.problem &&
              first.explanation == second.explanation && first.trace == second.trace);
    }
    return 0;
}
