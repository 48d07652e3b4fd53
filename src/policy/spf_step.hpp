// pigeon/policy/spf_step.hpp: SPF (RFC 7208) at the inbound role's MAIL FROM: which identity
// is checked, what the result means for the reply, and the Received-SPF field that records it.
//
// Contract: pure functions.
//   - Identity (RFC 7208 2.4): the MAIL FROM domain; for the null reverse-path, the HELO name
//     as "postmaster@<helo>". A HELO that is an address literal has no SPF: result none.
//   - Reply: fail with spf.reject_fail -> 550 5.7.23 (RFC 7372) with the explanation;
//     temperror with spf.temperror = defer -> 451 4.4.3; everything else is accepted.
//   - Every accepted message carries a Received-SPF field (RFC 7208 9.1) in the verdict's
//     prepend: result, comment, client-ip, envelope-from, helo, receiver, identity.
//   - Every accepted verdict carries the typed SpfOutcome in Verdict::sender_facts, which the
//     session hands back in Envelope::sender_facts at the end of DATA (DMARC's SPF input).
#pragma once
#include <optional>
#include <string>

#include "config/model.hpp"
#include "auth/spf/spf.hpp"
#include "smtp/server/session.hpp"

namespace pigeon::policy {


// What SPF found at MAIL FROM, kept for DMARC at the end of DATA (RFC 7489 4.2: only a pass
// on the MAIL FROM domain counts toward alignment, so the identity is recorded too).
struct SpfOutcome {
    spf::Verdict verdict = spf::Verdict::none;
    std::string domain;
    bool helo_identity = false;  // the HELO name was checked (null reverse-path)
};

struct SpfCheck {
    spf::SpfRequest request;
    bool helo_identity = false;  // the null reverse-path: the HELO name was checked
};

// What to evaluate, or nullopt when SPF does not apply (no usable identity or client IP).
std::optional<SpfCheck> spf_check_for(const smtp::CheckSender& check, const std::string& receiver,
                                      std::int64_t now);

smtp::Verdict spf_verdict(const config::SpfSettings& settings, const SpfCheck& check,
                          const spf::SpfResult& result);

// "Received-SPF: pass (mx.example: ...) client-ip=...; ...\r\n"
std::string received_spf_field(const SpfCheck& check, const spf::SpfResult& result);

}  // namespace pigeon::policy
