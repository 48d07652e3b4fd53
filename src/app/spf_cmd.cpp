// pigeon spf check: evaluate SPF for one (IP, sender, HELO) from the command line, for
// teaching and verification. The first line is an RFC 8601 method entry
// ("spf=pass smtp.mailfrom=example.com"); --explain adds each term evaluated, each DNS query
// and the lookup counts. DNS comes from --zone FILE, or libunbound (see docs/dns.md).
#include <iostream>
#include <memory>
#include <optional>

#include "app/commands.hpp"
#include "app/wait_for.hpp"
#include "auth/spf/spf.hpp"
#include "dns/unbound_resolver.hpp"
#include "dns/zone_resolver.hpp"

namespace pigeon::app {

namespace {

constexpr int bad_arguments = 2;

// What the arguments ask to check: the check_host() request, and whether the null sender made it
// the HELO identity (RFC 7208 2.3) rather than MAIL FROM.
struct Check {
    spf::SpfRequest request;
    bool helo_identity = false;
};

// The check the arguments describe, or nullopt having said what is wrong.
std::optional<Check> request_from(const SpfCheckArgs& args, std::ostream& err) {
    const auto ip = spf::parse_ip(args.ip);
    if (!ip) {
        err << "pigeon spf check: --ip: \"" << args.ip << "\" is not an IPv4 or IPv6 address\n";
        return std::nullopt;
    }
    std::string sender = args.sender;
    if (sender == "<>") sender.clear();
    if (!sender.empty() && sender.find('@') == std::string::npos) {
        err << "pigeon spf check: --sender: \"" << args.sender
            << "\" is not an address (local@domain, or \"\" / \"<>\" for the null sender)\n";
        return std::nullopt;
    }
    if (sender.empty() && args.helo.empty()) {
        err << "pigeon spf check: the null sender checks the HELO name: give --helo\n";
        return std::nullopt;
    }
    Check check{spf::make_request(*ip, sender, args.helo), sender.empty()};
    if (check.request.domain.empty()) {
        err << "pigeon spf check: no domain to check in --sender \"" << args.sender << "\"\n";
        return std::nullopt;
    }
    return check;
}

void explain(std::ostream& out, const spf::SpfRequest& request, bool helo_identity, const spf::SpfResult& result,
             const dns::ZoneResolver* zone) {
    out << "\nchecked: check_host(" << spf::ip_text(request.ip) << ", " << request.domain << ", "
        << request.sender << ")" << (helo_identity ? " for the HELO identity" : "") << "\n";
    for (const auto& line : result.trace) out << "  " << line << "\n";
    if (!result.matched.empty()) out << "decided by: " << result.matched << "\n";
    if (!result.explanation.empty()) out << "explanation: " << result.explanation << "\n";
    if (!result.problem.empty()) out << "problem: " << result.problem << "\n";
    out << "DNS-querying terms: " << result.dns_terms << " of " << request.limits.dns_terms
        << "; void lookups: " << result.void_lookups << " of " << request.limits.void_lookups
        << "; answers consulted: " << result.queries << "\n";
    if (zone != nullptr) {
        out << "queries sent to the zone (in order):\n";
        for (const auto& q : zone->queries())
            out << "  " << q.name << " " << dns::type_name(q.type) << "\n";
    }
}

}  // namespace

int run_spf_check(const SpfCheckArgs& args, std::ostream& out, std::ostream& err) {
    const std::optional<Check> check = request_from(args, err);
    if (!check) return bad_arguments;
    const spf::SpfRequest& request = check->request;

    std::unique_ptr<dns::Resolver> resolver;
    dns::ZoneResolver* zone = nullptr;
    if (!args.zone.empty()) {
        auto loaded = dns::ZoneResolver::load(args.zone);
        if (!loaded.ok()) {
            err << "pigeon spf check: --zone: " << loaded.error().message << "\n";
            return bad_arguments;
        }
        auto z = std::make_unique<dns::ZoneResolver>(std::move(loaded).value());
        zone = z.get();
        resolver = std::move(z);
    } else {
        auto unbound = dns::UnboundResolver::create(dns::UnboundOptions{});
        if (!unbound.ok()) {
            err << "pigeon spf check: DNS: " << unbound.error().message << "\n";
            return 1;
        }
        resolver = std::move(unbound).value();
    }

    // The resolver may answer from its own thread.
    const auto result = wait_for<spf::SpfResult>(
        [&](auto done) { spf::check_host_async(*resolver, request, std::move(done)); });
    out << "spf=" << spf::verdict_name(result.verdict) << " smtp."
        << (check->helo_identity ? "helo=" + request.domain : "mailfrom=" + request.domain) << "\n";
    if (args.explain) explain(out, request, check->helo_identity, result, zone);
    return 0;
}

}  // namespace pigeon::app
