#include "app/checks.hpp"

#include <cstdio>

#include "app/dmarc_policy.hpp"
#include "app/dmarc_report.hpp"
#include "app/spf_policy.hpp"
#include "auth/dmarc/auth_results.hpp"
#include "auth/dmarc/report.hpp"
#include "auth/spf/spf.hpp"

namespace pigeon::app {

using Level = CheckOptions::Level;

namespace {

// The verdict stores the renamed fields instead of the message's first octets.
void store_patch(const std::optional<dmarc::ResultsPatch>& patch, smtp::Verdict& v) {
    if (!patch) return;
    v.replacement = patch->text;
    v.replaced_octets = patch->replaced_octets;
}

}  // namespace

Checks::Checks(CheckOptions options, const Directory& directory, const core::Clock& clock,
               queue::RandomSource& random, dns::Resolver* resolver)
    : options_(std::move(options)),
      directory_(directory),
      clock_(clock),
      random_(random),
      resolver_(resolver) {}

void Checks::check_sender(smtp::Role role, const smtp::CheckSender& c, const std::string& label,
                          std::function<void(smtp::Event)> done) {
    if (role == smtp::Role::inbound)
        check_inbound_sender(c, label, std::move(done));
    else
        done(app::check_sender(directory_, role, c));
}

smtp::Verdict Checks::check_recipient(smtp::Role role, const smtp::CheckRecipient& c) const {
    return app::check_recipient(directory_, role, c);
}

void Checks::check_message(smtp::Role role, const smtp::CheckMessage& c, const std::string& label,
                           std::function<void(smtp::Event)> done) {
    // RFC 8601 5: an Authentication-Results field that claims to be ours did not come from
    // us: renamed on every role, so a local recipient's reader never trusts a forged one.
    // DKIM is verified on the message as received; the renamed one is what is stored, as a
    // patch over its first octets, so a large message's body is never copied.
    Patch patch;
    if (auto renamed = dmarc::patch_our_results(c.message.contiguous(), options_.hostname,
                                                "X-Original-Authentication-Results");
        renamed.ok())
        patch = std::move(renamed).value();
    if (role == smtp::Role::inbound) {
        check_inbound_message(c, std::move(patch), label, std::move(done));
    } else {
        smtp::Verdict v = app::check_message(directory_, role, c, stamp());
        store_patch(patch, v);
        if (!v.accept || options_.dkim_keys.empty()) {
            done(std::move(v));
            return;
        }
        // Signing is crypto too (RSA-2048: about a millisecond): on the offload pool, never
        // an I/O thread. The message's stamp (Date:, Message-ID:) was drawn above, in order.
        offload([this, v = std::move(v), message = c.message, done = std::move(done)]() mutable {
            if (v.replacement) {
                // What is stored, renamed fields and all (an authenticated user's message,
                // within max_message_octets): the signer reads it whole.
                std::string patched = *v.replacement;
                patched.append(message.contiguous().substr(v.replaced_octets));
                sign_submission(patched, v);
            } else {
                sign_submission(message.contiguous(), v);
            }
            done(std::move(v));
        });
    }
}

void Checks::offload(std::function<void()> task) const {
    if (options_.offload)
        options_.offload(std::move(task));
    else
        task();
}

// SPF at MAIL FROM (RFC 7208 2.4), asynchronously: the resolver answers from its own thread
// (or at once, from a zone file); `done` may run there, the connection posts it back.
void Checks::check_inbound_sender(const smtp::CheckSender& c, const std::string& label,
                                  std::function<void(smtp::Event)> done) {
    std::optional<SpfCheck> check;
    if (options_.spf.check && resolver_ != nullptr)
        check = spf_check_for(c, options_.hostname, clock_.now_unix_seconds());
    if (!check) {
        done(app::check_sender(directory_, smtp::Role::inbound, c));
        return;
    }
    spf::check_host_async(
        *resolver_, check->request,
        [done = std::move(done), settings = options_.spf, check = *check, log = options_.log,
         label](spf::SpfResult result) {
            if (log)
                log(Level::info,
                    label + " SPF " + spf::verdict_name(result.verdict) + " for " +
                        check.request.domain + " from " + spf::ip_text(check.request.ip) +
                        (result.problem.empty() ? "" : " (" + result.problem + ")"));
            done(spf_verdict(settings, check, result));
        });
}

// End of DATA on the inbound role, before the final reply: DKIM for every signature, then
// DMARC, then the disposition and one Authentication-Results field (docs/dmarc.md). The DNS
// questions go to the resolver without blocking; the DKIM crypto runs in one offloaded task
// (under the CPU budget), and so does the verdict with its report record. `done` runs on an
// offload thread (or inline without one).
void Checks::check_inbound_message(const smtp::CheckMessage& c, Patch patch,
                                   const std::string& label, std::function<void(smtp::Event)> done) {
    if (!options_.dmarc.check || resolver_ == nullptr || !options_.org_domain) {
        smtp::Verdict v = app::check_message(directory_, smtp::Role::inbound, c, stamp());
        store_patch(patch, v);
        done(std::move(v));
        return;
    }
    dkim::VerifyOptions verify;
    verify.now = clock_.now_unix_seconds();
    verify.over_budget = options_.over_budget;
    dmarc::DmarcRequest request;
    request.from = dmarc::author_domain(c.message.contiguous());
    request.spf = spf_input_from(c.envelope);
    request.pct_sample = pct_sample();
    auto* resolver = resolver_;
    dkim::check_dkim_async(
        *resolver, c.message, verify, options_.offload,
        [this, resolver, request, patch = std::move(patch), done = std::move(done), label,
         ip = c.envelope.client_address,
         envelope_from = c.envelope.reverse_path.kind == core::Path::Kind::mailbox
                             ? c.envelope.reverse_path.mailbox.domain().lowercase()
                             : std::string()](dkim::DkimVerification verification) mutable {
            request.dkim = dkim_inputs_from(verification);
            auto dkim_inputs = request.dkim;
            auto spf = request.spf;
            dmarc::evaluate_async(
                *resolver, std::move(request), options_.org_domain,
                [this, done = std::move(done), label, dkim_inputs, spf, patch = std::move(patch), ip,
                 envelope_from](dmarc::DmarcResult result) mutable {
                    offload([this, done = std::move(done), label, dkim_inputs, spf,
                             patch = std::move(patch), ip, envelope_from,
                             result = std::move(result)]() mutable {
                        finish_inbound_message(result, dkim_inputs, spf, std::move(patch), ip,
                                               envelope_from, label, std::move(done));
                    });
                });
        });
}

void Checks::finish_inbound_message(const dmarc::DmarcResult& result,
                                    const std::vector<dmarc::DkimInput>& dkim_inputs,
                                    const dmarc::SpfInput& spf,
                                    Patch patch, const std::string& ip, const std::string& envelope_from,
                                    const std::string& label, std::function<void(smtp::Event)> done) {
    const auto& log = options_.log;
    smtp::Verdict v = dmarc_verdict(options_.dmarc, options_.hostname, spf, dkim_inputs, result);
    // For aggregate reports (RFC 7489 7.2): every evaluation with a policy.
    if (options_.dmarc_recorder != nullptr && result.record.has_value()) {
        auto problem = options_.dmarc_recorder->record(dmarc::record_from(
            result, spf, dkim_inputs, ip, envelope_from, clock_.now_unix_seconds()));
        if (problem && log) log(Level::warn, "DMARC report data not recorded: " + *problem);
    }
    store_patch(patch, v);
    if (log) {
        std::string line = label + " DMARC " + dmarc::verdict_name(result.verdict) + " for " +
                           (result.from_domain.empty() ? "(no From domain)" : result.from_domain);
        for (const auto& d : dkim_inputs)
            line += ", DKIM " + std::string(dmarc::dkim_result_name(d.result)) + " d=" + d.domain;
        line += v.accept ? (v.folder.empty() ? ": deliver" : ": to " + v.folder) : ": refused";
        log(Level::info, line);
    }
    done(std::move(v));
}

// RFC 6376 5: the signer adds DKIM-Signature for the author's domain (d= = the From: domain,
// so DMARC aligns), over the message as it will be stored: with the Date: and Message-ID:
// the policy added. A failure to sign is logged and the message goes unsigned (a signature is
// an assertion we could not make, not a reason to lose the message).
void Checks::sign_submission(std::string_view message, smtp::Verdict& v) {
    if (options_.dkim_keys.empty() || options_.rng == nullptr) return;
    const auto author = dmarc::author_domain(message);
    if (author.status != dmarc::FromStatus::ok) return;
    std::string to_sign = v.prepend;
    to_sign.append(message);
    std::string signatures;
    for (const auto& k : options_.dkim_keys) {
        if (k.domain != author.domain) continue;
        dkim::SignOptions o;
        o.domain = k.domain;
        o.selector = k.selector;
        o.key = k.key;
        o.algorithm = k.algorithm;
        o.now = clock_.now_unix_seconds();
        core::Result<std::string> sig = core::ParseError{"not signed"};
        // No lock: sessions sign in parallel. options_.rng is thread-safe (checks.hpp) and
        // the DKIM code keeps its Botan signers in per-key pools (auth/dkim/crypto.cpp).
        sig = dkim::sign(to_sign, o, *options_.rng);
        if (sig.ok())
            signatures += sig.value();
        else if (options_.log)
            options_.log(Level::error, "DKIM signing with " + k.selector + "._domainkey." +
                                           k.domain + " failed: " + sig.error().message);
    }
    v.prepend = signatures + v.prepend;
}

double Checks::pct_sample() {
    std::lock_guard lock(mutex_);
    return static_cast<double>(random_.next_u64() >> 11) * 0x1.0p-53;
}

MessageStamp Checks::stamp() {
    std::uint64_t r1, r2;
    {
        std::lock_guard lock(mutex_);
        r1 = random_.next_u64();
        r2 = random_.next_u64();
    }
    char id[40];
    std::snprintf(id, sizeof id, "%016llx%08llx", static_cast<unsigned long long>(r1),
                  static_cast<unsigned long long>(r2 & 0xffffffffu));
    return MessageStamp{core::format_rfc5322_date(clock_.now_unix_seconds()),
                        "<" + std::string(id) + "@" + options_.hostname + ">"};
}

}  // namespace pigeon::app
