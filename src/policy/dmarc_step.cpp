#include "policy/dmarc_step.hpp"
#include "policy/spf_step.hpp"

#include "core/ascii.hpp"

#include <algorithm>
#include <cctype>

#include "auth/dmarc/auth_results.hpp"

namespace pigeon::policy {
namespace {

dmarc::DkimResult dkim_result(dkim::Status s) {
    switch (s) {
        case dkim::Status::pass: return dmarc::DkimResult::pass;
        case dkim::Status::fail: return dmarc::DkimResult::fail;
        case dkim::Status::neutral: return dmarc::DkimResult::neutral;
        case dkim::Status::temperror: return dmarc::DkimResult::temperror;
        case dkim::Status::permerror: return dmarc::DkimResult::permerror;
        case dkim::Status::policy: return dmarc::DkimResult::policy;
    }
    return dmarc::DkimResult::none;
}

smtp::Verdict refuse(int code, const char* enhanced, std::string text) {
    return smtp::Verdict::refusal(code, enhanced, std::move(text));
}

}  // namespace

dmarc::SpfInput spf_input_from(const core::Envelope& envelope) {
    dmarc::SpfInput in;
    if (const auto* spf = std::any_cast<SpfOutcome>(&envelope.sender_facts)) {
        in.verdict = spf->verdict;
        in.domain = spf->domain;
        in.helo = spf->helo_identity;
    }
    return in;
}

std::vector<dmarc::DkimInput> dkim_inputs_from(const dkim::DkimVerification& verification) {
    std::vector<dmarc::DkimInput> out;
    for (const auto& s : verification.signatures)
        out.push_back(dmarc::DkimInput{s.domain, s.selector, dkim_result(s.status), s.b_prefix});
    return out;
}

smtp::Verdict dmarc_verdict(const config::DmarcSettings& settings, const std::string& authserv_id,
                            const dmarc::SpfInput& spf, const std::vector<dmarc::DkimInput>& dkim,
                            const dmarc::DmarcResult& result) {
    const std::string& domain = result.from_domain;
    if (result.verdict == dmarc::Verdict::temperror &&
        settings.temperror == config::SpfTempErrorAction::defer)
        return refuse(451, "4.7.5", "DMARC check of " + domain +
                                        " failed temporarily (DNS); try again later");
    smtp::Verdict v;
    if (settings.enforce && result.reason == dmarc::DispositionReason::malformed_from)
        return refuse(550, "5.7.1",
                      "Message must have exactly one From: domain (RFC 7489 6.6.1): " +
                          (result.problem.empty() ? std::string("none found") : result.problem));
    if (settings.enforce && result.disposition == dmarc::Disposition::reject) {
        const bool spared =
            std::any_of(settings.never_reject.begin(), settings.never_reject.end(),
                        [&](const std::string& d) { return core::ascii_lower(d) == core::ascii_lower(domain); });
        if (!spared)
            return refuse(550, "5.7.1", "Unauthenticated email from " +
                                            (domain.empty() ? std::string("this sender") : domain) +
                                            " is not accepted due to domain's DMARC policy");
        v.folder = "Junk";  // the local override: quarantine instead
    } else if (settings.enforce && result.disposition == dmarc::Disposition::quarantine) {
        v.folder = "Junk";
    }
    std::vector<dmarc::ResInfo> results;
    if (!spf.domain.empty()) results.push_back(dmarc::spf_resinfo(spf));
    for (const auto& d : dkim) results.push_back(dmarc::dkim_resinfo(d));
    if (dkim.empty()) results.push_back(dmarc::ResInfo{"dkim", "none", {}, {}});
    results.push_back(dmarc::dmarc_resinfo(result));
    v.prepend = dmarc::build_authentication_results(authserv_id, results);
    return v;
}

}  // namespace pigeon::policy
