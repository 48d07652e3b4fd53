// fuzz/dmarc_eval.cpp: libFuzzer target for DMARC (auth/dmarc/dmarc.hpp): author_domain() on
// arbitrary messages and the evaluation over arbitrary zone data. Input: one byte of flags
// (bit 0: SPF passes for example.org; bit 1: a DKIM signature of the From domain passes, else
// fails; bits 2-7: the pct sample), then the message, then a NUL byte and zone-file text
// (none: an empty zone). Organizational domains come from a small fixed suffix list.
//
// Checked on every input:
//   - author_domain() never crashes or throws and is the same over the text and over its
//     parsed fields; `ok` exactly when it found a domain, which is then normalised (lower
//     case, no trailing dot, no '@') and one of its addresses' domains; otherwise it says why;
//   - when the zone parses, the evaluation ends synchronously with `done` called once, after
//     at most max_questions questions; permerror exactly when the From domain is not usable;
//     pass only with an aligned identifier and never with a disposition; a record keeps pct
//     within 0-100; a second run gives the same result.
// A broken invariant traps, which libFuzzer reports as a crash with the input saved.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "auth/dmarc/dmarc.hpp"
#include "auth/dmarc/org_domain.hpp"
#include "core/header.hpp"
#include "dns/zone_resolver.hpp"

namespace {

using namespace pigeon;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

constexpr unsigned pct_sample_steps = 64;

void check_author(std::string_view message, const dmarc::AuthorDomain& from) {
    if (auto fields = core::parse_header(message); fields.ok()) {
        const auto again = dmarc::author_domain(fields.value());
        check(again.status == from.status && again.domain == from.domain &&
              again.addresses == from.addresses);
    } else {
        check(from.status == dmarc::FromStatus::malformed_header);
    }
    if (from.status != dmarc::FromStatus::ok) {
        check(!from.problem.empty() && from.domain.empty());
        return;
    }
    check(!from.domain.empty() && !from.addresses.empty());
    check(dmarc::normalize_domain(from.domain) == from.domain);
    check(from.domain.find('@') == std::string::npos);
    bool named = false;
    for (const auto& a : from.addresses)
        named = named || dmarc::normalize_domain(a.substr(a.rfind('@') + 1)) == from.domain;
    check(named);
}

dmarc::DmarcResult evaluate(std::string_view zone_text, const dmarc::DmarcRequest& request,
                            const dmarc::OrganizationalDomain& org) {
    auto zone = dns::ZoneResolver::parse(zone_text);
    check(zone.ok());
    std::optional<dmarc::DmarcResult> result;
    int calls = 0;
    dmarc::evaluate_async(zone.value(), request, org, [&](dmarc::DmarcResult r) {
        ++calls;
        result = std::move(r);
    });
    check(calls == 1 && result.has_value());
    check(zone.value().queries().size() <= dmarc::max_questions);
    return *result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t flags = data[0];
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::size_t nul = rest.find('\0');
    const std::string_view message = rest.substr(0, nul);
    const std::string_view zone_text = nul == std::string_view::npos ? "" : rest.substr(nul + 1);

    dmarc::DmarcRequest request;
    request.from = dmarc::author_domain(message);
    check_author(message, request.from);
    if (!dns::ZoneResolver::parse(zone_text).ok()) return 0;  // the zone parser has its own target

    request.spf = {(flags & 1) ? spf::Verdict::pass : spf::Verdict::fail, "example.org", false};
    request.dkim = {{request.from.domain.empty() ? "example.org" : request.from.domain, "s",
                     (flags & 2) ? dmarc::DkimResult::pass : dmarc::DkimResult::fail, "abc"},
                    {"other.test", "s", dmarc::DkimResult::pass, ""}};
    request.pct_sample = static_cast<double>(flags >> 2) / pct_sample_steps;
    static const dmarc::SuffixList suffixes({"org", "test", "example", "co.uk", "*.ck", "!www.ck"});
    const auto org = suffixes.function();

    const dmarc::DmarcResult r = evaluate(zone_text, request, org);
    check((r.verdict == dmarc::Verdict::permerror) ==
          (request.from.status != dmarc::FromStatus::ok));
    if (r.verdict == dmarc::Verdict::pass) {
        check(r.spf_aligned || r.dkim_aligned);
        check(r.disposition == dmarc::Disposition::none);
    }
    if (r.record) check(r.record->pct <= dmarc::max_pct);
    const dmarc::DmarcResult again = evaluate(zone_text, request, org);
    check(again.verdict == r.verdict && again.disposition == r.disposition &&
          again.reason == r.reason && again.problem == r.problem &&
          again.explanation == r.explanation);
    return 0;
}
