#include "policy/pipeline.hpp"

#include <cstdio>

#include "policy/dmarc_step.hpp"
#include "policy/spf_step.hpp"
#include "auth/dmarc/auth_results.hpp"
#include "auth/dmarc/report.hpp"
#include "auth/spf/spf.hpp"
#include "core/ascii.hpp"

namespace pigeon::policy {

using Level = PipelineOptions::Level;

namespace {

// The verdict stores the renamed fields instead of the message's first octets.
void store_patch(const std::optional<dmarc::ResultsPatch>& patch, smtp::Verdict& v) {
    if (!patch) return;
    v.replacement = patch->text;
    v.replaced_octets = patch->replaced_octets;
}

}  // namespace

Pipeline::Pipeline(PipelineOptions options, const Directory& directory, const core::Clock& clock,
                   queue::RandomSource& random, dns::Resolver* resolver)
    : options_(std::move(options)),
      directory_(directory),
      clock_(clock),
      random_(random),
      resolver_(resolver) {}

// ---- MAIL ----

void Pipeline::check_sender(smtp::Role role, const smtp::CheckSender& c, const std::string& label,
                            std::function<void(smtp::Event)> done) {
    if (role == smtp::Role::inbound) {
        check_spf(c, label, std::move(done));
    } else if (directory_.backend()) {
        // The backend's addresses for this login (user_directory.hpp).
        const std::string login = core::ascii_lower(c.envelope.auth_identity);
        directory_.backend()->senders(login, [login, sender = c.envelope.reverse_path, done = std::move(done)](
                                           Lookup<std::vector<std::string>> answer) {
            done(sender_verdict(answer, login, sender));
        });
    } else {
        done(policy::check_sender(directory_, role, c));
    }
}

// SPF at MAIL FROM (RFC 7208 2.4), asynchronously: the resolver answers from its own thread
// (or at once, from a zone file); `done` may run there, the connection posts it back.
// Skipped (the directory's answer) when [spf] check is off, without a resolver, or when the
// transaction has no identity SPF can check.
void Pipeline::check_spf(const smtp::CheckSender& c, const std::string& label,
                         std::function<void(smtp::Event)> done) {
    std::optional<SpfCheck> check;
    if (options_.spf.check && resolver_ != nullptr)
        check = spf_check_for(c, options_.hostname, clock_.now_unix_seconds());
    if (!check) {
        done(policy::check_sender(directory_, smtp::Role::inbound, c));
        return;
    }
    spf::check_host_async(
        *resolver_, check->request,
        [done = std::move(done), settings = options_.spf, check = *check, log = options_.log,
         count = options_.count, label](spf::SpfResult result) {
            if (count) count("spf", spf::verdict_name(result.verdict));
            if (log)
                log(Level::info,
                    label + " SPF " + spf::verdict_name(result.verdict) + " for " +
                        check.request.domain + " from " + spf::ip_text(check.request.ip) +
                        (result.problem.empty() ? "" : " (" + result.problem + ")"));
            done(spf_verdict(settings, check, result));
        });
}

// ---- RCPT ----

smtp::Verdict Pipeline::check_recipient(smtp::Role role, const smtp::CheckRecipient& c) const {
    return policy::check_recipient(directory_, role, c);
}

bool Pipeline::asks_directory(const core::Path& path) const {
    // <Postmaster>, discard addresses, other domains: the configuration's rules, at once.
    return directory_.backend() && path.kind == core::Path::Kind::mailbox &&
           directory_.is_local_domain(path.mailbox.domain().lowercase()) && !directory_.discards(path);
}

void Pipeline::check_recipient(smtp::Role role, const smtp::CheckRecipient& c, std::function<void(smtp::Event)> done) {
    const auto& path = c.recipient;
    if (!asks_directory(path)) {
        done(policy::check_recipient(directory_, role, c));
        return;
    }
    find_recipient(directory_.backend(), directory_.lookup_keys(path.mailbox.to_string()),
                   [path, done = std::move(done)](Lookup<std::string> answer) {
                       done(recipient_verdict(answer, path));
                   });
}

// ---- end of DATA ----

void Pipeline::check_message(smtp::Role role, const smtp::CheckMessage& c, const std::string& label,
                             std::function<void(smtp::Event)> done) {
    // RFC 8601 5: an Authentication-Results field that claims to be ours did not come from
    // us: renamed on every role, so a local recipient's reader never trusts a forged one.
    // DKIM is verified on the message as received; the renamed one is what is stored, as a
    // patch over its first octets, so a large message's body is never copied.
    Patch patch = our_results_renamed(c);
    if (role == smtp::Role::inbound)
        inbound_message(c, std::move(patch), label, std::move(done));
    else
        submission_message(c, std::move(patch), std::move(done));
}

Pipeline::Patch Pipeline::our_results_renamed(const smtp::CheckMessage& c) const {
    auto renamed = dmarc::patch_our_results(c.message.contiguous(), options_.hostname,
                                            "X-Original-Authentication-Results");
    return renamed.ok() ? Patch(std::move(renamed).value()) : Patch();
}

void Pipeline::check_local_message(const smtp::CheckMessage& c, const LocalCaller& caller,
                                   std::function<void(smtp::Event)> done) {
    Patch patch = our_results_renamed(c);
    sign_if_accepted(policy::check_local_message(caller, c, stamp()), c, std::move(patch), std::move(done));
}

// Submission: ownership of From: and the stamp (directory.hpp), then DKIM signing.
void Pipeline::submission_message(const smtp::CheckMessage& c, Patch patch,
                                  std::function<void(smtp::Event)> done) {
    if (directory_.backend()) {
        // From: must be one of the backend's addresses for this login.
        const std::string login = core::ascii_lower(c.envelope.auth_identity);
        directory_.backend()->senders(login, [this, login, c, patch = std::move(patch), done = std::move(done)](
                                           Lookup<std::vector<std::string>> answer) mutable {
            if (answer.status == Found::unavailable) {
                done(directory_unavailable());
                return;
            }
            const auto owns = [&](std::string_view a) { return may_send_as(answer.value, login, a); };
            sign_if_accepted(check_submitted_header(c.message.contiguous(), owns, login, stamp()), c,
                             std::move(patch), std::move(done));
        });
        return;
    }
    sign_if_accepted(policy::check_message(directory_, smtp::Role::submission, c, stamp()), c, std::move(patch),
                     std::move(done));
}

void Pipeline::sign_if_accepted(smtp::Verdict v, const smtp::CheckMessage& c, Patch patch,
                                std::function<void(smtp::Event)> done) {
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

// The inbound end of DATA, before the final reply: DKIM for every signature, then DMARC, then
// Authentication-Results, the report record and the disposition (docs/dmarc.md). Each step is
// a member below; its inputs and results are fields, not captures. The DNS questions go to the
// resolver without blocking; the DKIM crypto runs in one offloaded task (under the CPU
// budget), and so do the last steps with their report record. `done` runs on an offload
// thread (or inline without one).
struct Pipeline::InboundMessage : std::enable_shared_from_this<InboundMessage> {
    Pipeline& pipeline;
    smtp::CheckMessage message;
    Patch patch;
    std::string label;
    std::function<void(smtp::Event)> done;
    std::string ip, envelope_from;  // for the report record
    dmarc::DmarcRequest request;    // From: domain, SPF's outcome, pct= sample; then DKIM's
    dmarc::DmarcResult result;      // DMARC's answer
    smtp::Verdict verdict;

    InboundMessage(Pipeline& p, const smtp::CheckMessage& c, Patch patch_, std::string label_,
                   std::function<void(smtp::Event)> done_)
        : pipeline(p), message(c), patch(std::move(patch_)), label(std::move(label_)),
          done(std::move(done_)), ip(c.envelope.client_address),
          envelope_from(c.envelope.reverse_path.kind == core::Path::Kind::mailbox
                            ? c.envelope.reverse_path.mailbox.domain().lowercase()
                            : std::string()) {}

    void verify_dkim();                                             // every signature (async)
    void evaluate_dmarc(const dkim::DkimVerification& verification);  // the policy (async)
    void conclude(dmarc::DmarcResult answer);  // offloaded: the three steps below, in order
    void decide();  // disposition and Authentication-Results
    void record() const;
    void log_decision() const;
    void count_results() const;  // PipelineOptions::count
};

void Pipeline::inbound_message(const smtp::CheckMessage& c, Patch patch, const std::string& label,
                               std::function<void(smtp::Event)> done) {
    if (!options_.dmarc.check || resolver_ == nullptr || !options_.org_domain) {
        smtp::Verdict v = policy::check_message(directory_, smtp::Role::inbound, c, stamp());
        store_patch(patch, v);
        done(std::move(v));
        return;
    }
    auto m = std::make_shared<InboundMessage>(*this, c, std::move(patch), label, std::move(done));
    m->request.from = dmarc::author_domain(c.message.contiguous());
    m->request.spf = spf_input_from(c.envelope);
    m->request.pct_sample = pct_sample();
    m->verify_dkim();
}

void Pipeline::InboundMessage::verify_dkim() {
    dkim::VerifyOptions verify;
    verify.now = pipeline.clock_.now_unix_seconds();
    verify.over_budget = pipeline.options_.over_budget;
    dkim::check_dkim_async(*pipeline.resolver_, message.message, verify, pipeline.options_.offload,
                           [self = shared_from_this()](dkim::DkimVerification verification) {
                               self->evaluate_dmarc(verification);
                           });
}

void Pipeline::InboundMessage::evaluate_dmarc(const dkim::DkimVerification& verification) {
    request.dkim = dkim_inputs_from(verification);
    dmarc::evaluate_async(*pipeline.resolver_, request, pipeline.options_.org_domain,
                          [self = shared_from_this()](dmarc::DmarcResult answer) {
                              self->pipeline.offload([self, answer = std::move(answer)]() mutable {
                                  self->conclude(std::move(answer));
                              });
                          });
}

void Pipeline::InboundMessage::conclude(dmarc::DmarcResult answer) {
    result = std::move(answer);
    decide();
    record();
    store_patch(patch, verdict);
    log_decision();
    count_results();
    done(std::move(verdict));
}

// The disposition ([dmarc] enforce, never_reject, temperror) and, on a delivered message, one
// Authentication-Results field (dmarc_step.hpp).
void Pipeline::InboundMessage::decide() {
    verdict = dmarc_verdict(pipeline.options_.dmarc, pipeline.options_.hostname, request.spf,
                            request.dkim, result);
}

// For aggregate reports (RFC 7489 7.2): every evaluation with a policy.
void Pipeline::InboundMessage::record() const {
    auto* sink = pipeline.options_.dmarc_recorder;
    if (sink == nullptr || !result.record.has_value()) return;
    auto problem = sink->record(dmarc::record_from(result, request.spf, request.dkim, ip,
                                                   envelope_from,
                                                   pipeline.clock_.now_unix_seconds()));
    if (problem && pipeline.options_.log)
        pipeline.options_.log(Level::warn, "DMARC report data not recorded: " + *problem);
}

void Pipeline::InboundMessage::log_decision() const {
    const auto& log = pipeline.options_.log;
    if (!log) return;
    std::string line = label + " DMARC " + dmarc::verdict_name(result.verdict) + " for " +
                       (result.from_domain.empty() ? "(no From domain)" : result.from_domain);
    for (const auto& d : request.dkim)
        line += ", DKIM " + std::string(dmarc::dkim_result_name(d.result)) + " d=" + d.domain;
    line += verdict.accept ? (verdict.folder.empty() ? ": deliver" : ": to " + verdict.folder)
                           : ": refused";
    log(Level::info, line);
}

void Pipeline::InboundMessage::count_results() const {
    const auto& count = pipeline.options_.count;
    if (!count) return;
    for (const auto& d : request.dkim) count("dkim", dmarc::dkim_result_name(d.result));
    if (request.dkim.empty()) count("dkim", "none");
    count("dmarc", dmarc::verdict_name(result.verdict));
}

void Pipeline::offload(std::function<void()> task) const {
    if (options_.offload)
        options_.offload(std::move(task));
    else
        task();
}

// RFC 6376 5: the signer adds DKIM-Signature for the author's domain (d= = the From: domain,
// so DMARC aligns), over the message as it will be stored: with the Date: and Message-ID:
// the policy added. A failure to sign is logged and the message goes unsigned (a signature is
// an assertion we could not make, not a reason to lose the message).
void Pipeline::sign_submission(std::string_view message, smtp::Verdict& v) {
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
        // No lock: sessions sign in parallel. options_.rng is thread-safe (pipeline.hpp) and
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

double Pipeline::pct_sample() {
    std::lock_guard lock(mutex_);
    return static_cast<double>(random_.next_u64() >> 11) * 0x1.0p-53;
}

MessageStamp Pipeline::stamp() {
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

}  // namespace pigeon::policy
