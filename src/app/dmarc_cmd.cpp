// pigeon dmarc check (see app/auth_commands.hpp): SPF, DKIM and DMARC for one message as the
// server would evaluate them, for teaching and checking a domain's records. The first line is
// the unfolded list of results an Authentication-Results field would carry (no authserv-id:
// that names the receiving host, which this command is not), so it can be compared with what
// `pigeon serve` adds.
#include <ctime>
#include <optional>

#include "app/auth_commands.hpp"
#include "app/wait_for.hpp"
#include "policy/dmarc_step.hpp"
#include "auth/dmarc/psl_org_domain.hpp"
#include "auth/spf/spf.hpp"

namespace pigeon::app {
namespace {

void explain(std::ostream& out, const spf::SpfRequest& request, const spf::SpfResult& spf,
             const dmarc::SpfInput& spf_input, const dkim::DkimVerification& dkim_v,
             const dmarc::DmarcResult& d) {
    out << "\nSPF: check_host(" << spf::ip_text(request.ip) << ", " << request.domain << ", " << request.sender
        << ") = " << spf::verdict_name(spf.verdict) << "\n";
    for (const auto& line : spf.trace) out << "  " << line << "\n";
    if (!spf.problem.empty()) out << "  problem: " << spf.problem << "\n";
    if (spf_input.helo)
        out << "  (the HELO identity: DMARC does not align it, RFC 7489 3.1.2)\n";

    out << "\nDKIM:";
    if (dkim_v.signatures.empty()) out << " no DKIM-Signature field";
    out << "\n";
    for (const auto& s : dkim_v.signatures) {
        out << "  " << dkim::status_name(s.status) << " d=" << s.domain << " s=" << s.selector;
        if (!s.reason.empty()) out << " (" << s.reason << ")";
        out << "\n";
    }

    out << "\nDMARC: " << dmarc::verdict_name(d.verdict) << "\n";
    for (const auto& line : d.explanation) out << "  " << line << "\n";
    if (!d.problem.empty()) out << "  problem: " << d.problem << "\n";
    if (d.record) {
        const auto& r = *d.record;
        out << "  policy (from _dmarc." << d.policy_domain << "): p=" << dmarc::policy_name(r.p)
            << " adkim=" << dmarc::align_mode_name(r.adkim) << " aspf=" << dmarc::align_mode_name(r.aspf)
            << " pct=" << r.pct << "\n";
        for (const auto& w : r.warnings) out << "  record warning: " << w << "\n";
        out << "  alignment: SPF " << (d.spf_aligned ? "aligned" : "not aligned") << " ("
            << (d.spf_domain.empty() ? "no SPF pass to align" : d.spf_domain) << ", "
            << dmarc::align_mode_name(r.aspf) << "); DKIM " << (d.dkim_aligned ? "aligned" : "not aligned")
            << " (" << (d.dkim_domain.empty() ? "no aligned passing signature" : d.dkim_domain) << ", "
            << dmarc::align_mode_name(r.adkim) << ")\n";
        out << "  applied policy: " << dmarc::policy_source_name(d.policy_source) << "="
            << dmarc::policy_name(d.policy) << "\n";
        if (r.pct < dmarc::max_pct)
            out << "  pct=" << r.pct << ": this command does not sample; it applies the policy as if the "
                << "message fell inside pct\n";
    }
    out << "  disposition: " << dmarc::disposition_name(d.disposition) << " ("
        << dmarc::disposition_reason_name(d.reason) << ")\n";
}

}  // namespace

int run_dmarc_check(const DmarcCheckArgs& args, std::istream& in, std::ostream& out, std::ostream& err) {
    const char* me = "pigeon dmarc check: ";
    using auth_cmd::bad_input;
    const auto ip = spf::parse_ip(args.ip);
    if (!ip) {
        err << me << "--ip: \"" << args.ip << "\" is not an IPv4 or IPv6 address\n";
        return bad_input;
    }
    std::string sender = args.mail_from;
    if (sender == "<>") sender.clear();
    if (!sender.empty() && sender.find('@') == std::string::npos) {
        err << me << "--mail-from: \"" << args.mail_from
            << "\" is not an address (local@domain, or \"\" / \"<>\" for the null sender)\n";
        return bad_input;
    }
    if (sender.empty() && args.helo.empty()) {
        err << me << "the null sender checks the HELO name: give --helo\n";
        return bad_input;
    }
    spf::SpfRequest request = spf::make_request(*ip, sender, args.helo);
    if (request.domain.empty()) {
        err << me << "no domain to check in --mail-from \"" << args.mail_from << "\"\n";
        return bad_input;
    }
    std::string error;
    const std::string message = auth_cmd::read_message(in, error);
    if (message.empty()) {
        err << me << error << "\n";
        return bad_input;
    }
    int status = 0;
    auto resolver = auth_cmd::RecordingResolver::open(args.zone, error, status);
    if (!resolver) {
        err << me << error << "\n";
        return status;
    }
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    request.now = now;

    const auto spf_result = wait_for<spf::SpfResult>(
        [&](auto done) { spf::check_host_async(*resolver, request, std::move(done)); });
    const auto dkim_v = auth_cmd::verify_dkim(*resolver, message, now);
    if (!dkim_v.problem.empty()) {
        err << me << "the message's header section cannot be parsed: " << dkim_v.problem << "\n";
        return bad_input;
    }

    dmarc::DmarcRequest dmarc_request;
    dmarc_request.from = dmarc::author_domain(message);
    dmarc_request.spf = dmarc::SpfInput{spf_result.verdict, request.domain, sender.empty()};
    dmarc_request.dkim = policy::dkim_inputs_from(dkim_v);
    // 0 applies any pct > 0: the command is deterministic, --explain says so when pct < 100.
    dmarc_request.pct_sample = 0.0;
    const dmarc::PslOrganizationalDomain psl;
    const auto result = wait_for<dmarc::DmarcResult>([&](auto done) {
        dmarc::evaluate_async(*resolver, dmarc_request, psl.function(), std::move(done));
    });

    std::string line = auth_cmd::render(dmarc::spf_resinfo(dmarc_request.spf));
    if (dmarc_request.dkim.empty()) line += "; dkim=none";
    for (const auto& d : dmarc_request.dkim) line += "; " + auth_cmd::render(dmarc::dkim_resinfo(d));
    line += "; " + auth_cmd::render(dmarc::dmarc_resinfo(result));
    out << line << "\n";
    if (!args.explain) return 0;
    explain(out, request, spf_result, dmarc_request.spf, dkim_v, result);
    out << "\nDNS records used (in the order asked):\n";
    auth_cmd::print_lookups(resolver->lookups(), out);
    return 0;
}

}  // namespace pigeon::app
