// pigeon/policy/dmarc_step.hpp: the inbound role's end-of-DATA verdict from DKIM and DMARC
// (RFC 7489 6.6, 7): what the sender's policy means here, given [dmarc] in the config.
//
// Contract: pure functions.
//   - DMARC's SPF input is the SpfOutcome the MAIL FROM check left in the envelope
//     (spf_step.hpp; none when SPF did not run); DKIM's is the verification of every signature.
//   - A message without exactly one From: domain -> 550 5.7.1 (RFC 7489 6.6.1).
//   - Disposition (with dmarc.enforce): reject -> 550 5.7.1 "Unauthenticated email from <d> is
//     not accepted due to domain's DMARC policy", unless <d> is in dmarc.never_reject (then
//     quarantine); quarantine -> delivered to the Junk folder; temperror with
//     dmarc.temperror = defer -> 451 4.7.5; anything else is delivered.
//   - Every delivered message carries one Authentication-Results field (RFC 8601) with the
//     spf, dkim (one per signature) and dmarc results, authserv-id = our host name.
#pragma once
#include <string>
#include <vector>

#include "config/model.hpp"
#include "auth/dkim/dkim.hpp"
#include "auth/dmarc/dmarc.hpp"
#include "smtp/server/session.hpp"

namespace pigeon::policy {


// The SPF result the MAIL FROM check recorded (Envelope::sender_facts), as DMARC's input.
dmarc::SpfInput spf_input_from(const core::Envelope& envelope);

std::vector<dmarc::DkimInput> dkim_inputs_from(const dkim::DkimVerification& verification);

smtp::Verdict dmarc_verdict(const config::DmarcSettings& settings, const std::string& authserv_id,
                            const dmarc::SpfInput& spf, const std::vector<dmarc::DkimInput>& dkim,
                            const dmarc::DmarcResult& result);

}  // namespace pigeon::policy
