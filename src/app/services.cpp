#include "app/services.hpp"

#include <boost/asio/post.hpp>
#include <cstdio>

#include "app/dmarc_policy.hpp"
#include "app/dmarc_report.hpp"
#include "auth/dmarc/report.hpp"
#include "app/spf_policy.hpp"
#include "auth/dmarc/auth_results.hpp"
#include "auth/spf/spf.hpp"
#include "tls/password.hpp"

namespace pigeon::app {
namespace {
// A hash to verify against when the user does not exist, so that a wrong user name costs the
// same time as a wrong password (no user enumeration by timing). Made once, lazily.
const std::string& decoy_hash() {
    static const std::string hash = tls::hash_password("pigeon decoy password");
    return hash;
}
}  // namespace

AppServices::AppServices(Options options, const Directory& directory,
                         os::GroupCommitter& committer, const core::Clock& clock,
                         queue::RandomSource& random, dns::Resolver* resolver)
    : options_(std::move(options)),
      directory_(directory),
      committer_(committer),
      clock_(clock),
      random_(random),
      resolver_(resolver) {}

AppServices::~AppServices() { stop(); }

void AppServices::stop() { auth_pool_.join(); }

void AppServices::handle(const net::ConnectionInfo& connection, const smtp::Action& action,
                         std::function<void(smtp::Event)> done) {
    const auto role = connection.role;
    if (auto* a = std::get_if<smtp::Authenticate>(&action)) {
        authenticate(connection, *a, std::move(done));
    } else if (auto* c = std::get_if<smtp::CheckSender>(&action)) {
        if (role == smtp::Role::inbound)
            check_inbound_sender(connection, *c, std::move(done));
        else
            done(check_sender(directory_, role, *c));
    } else if (auto* c = std::get_if<smtp::CheckRecipient>(&action)) {
        done(check_recipient(directory_, role, *c));
    } else if (auto* c = std::get_if<smtp::CheckMessage>(&action)) {
        if (role == smtp::Role::inbound) {
            check_inbound_message(connection, *c, std::move(done));
        } else {
            smtp::Verdict v = check_message(directory_, role, *c, stamp());
            if (v.accept) sign_submission(*c, v);
            done(std::move(v));
        }
    } else if (auto* e = std::get_if<smtp::Enqueue>(&action)) {
        const auto id = connection.id;
        auto log = options_.log;
        committer_.submit(e->envelope, e->message, e->folder,
                          [done = std::move(done), id, log](os::GroupCommitter::Outcome outcome) {
                              if (outcome.ok()) {
                                  done(smtp::Enqueued{outcome.value()});
                              } else {
                                  if (log)
                                      log(net::LogLevel::error,
                                          "c" + std::to_string(id) + " spool: " + outcome.error());
                                  done(smtp::EnqueueFailed{outcome.error()});
                              }
                          });
    }
}

void AppServices::authenticate(const net::ConnectionInfo& connection, const smtp::Authenticate& a,
                               std::function<void(smtp::Event)> done) {
    const std::string ip = connection.peer_address;
    if (throttled(ip)) {
        if (options_.log)
            options_.log(net::LogLevel::warn, "c" + std::to_string(connection.id) +
                                                  " AUTH refused: too many failures from " + ip);
        done(smtp::AuthResult{smtp::AuthResult::Outcome::temporary_failure, {}});
        return;
    }
    const User* user = directory_.login(a.authcid);
    // PLAIN's authorization identity, when given, must be the user itself: no proxy logins.
    const bool authzid_ok = a.authzid.empty() || (user && directory_.login(a.authzid) == user);
    std::string hash = user ? user->password_hash : decoy_hash();
    std::string address = user ? user->address : std::string();
    boost::asio::post(auth_pool_, [this, ip, hash = std::move(hash), address = std::move(address),
                                   password = a.password, authzid_ok, id = connection.id,
                                   done = std::move(done)] {
        const bool ok = tls::verify_password(password, hash) && !address.empty() && authzid_ok;
        if (!ok) record_failure(ip);
        if (options_.log)
            options_.log(net::LogLevel::info, "c" + std::to_string(id) + " AUTH " +
                                                  (ok ? "succeeded for " + address : "failed"));
        done(smtp::AuthResult{ok ? smtp::AuthResult::Outcome::ok
                                 : smtp::AuthResult::Outcome::bad_credentials,
                              address});
    });
}

// SPF at MAIL FROM (RFC 7208 2.4), asynchronously: the resolver answers from its own thread
// (or at once, from a zone file); `done` may run there, the connection posts it back.
void AppServices::check_inbound_sender(const net::ConnectionInfo& connection,
                                       const smtp::CheckSender& c,
                                       std::function<void(smtp::Event)> done) {
    std::optional<SpfCheck> check;
    if (options_.spf.check && resolver_ != nullptr)
        check = spf_check_for(c, options_.hostname, clock_.now_unix_seconds());
    if (!check) {
        done(check_sender(directory_, smtp::Role::inbound, c));
        return;
    }
    spf::check_host_async(
        *resolver_, check->request,
        [done = std::move(done), settings = options_.spf, check = *check, log = options_.log,
         id = connection.id](spf::SpfResult result) {
            if (log)
                log(net::LogLevel::info,
                    "c" + std::to_string(id) + " SPF " + spf::verdict_name(result.verdict) +
                        " for " + check.request.domain + " from " + spf::ip_text(check.request.ip) +
                        (result.problem.empty() ? "" : " (" + result.problem + ")"));
            done(spf_verdict(settings, check, result));
        });
}

// End of DATA on the inbound role, before the final reply: DKIM for every signature, then
// DMARC, then the disposition and one Authentication-Results field (docs/dmarc.md). Both
// steps run over the resolver without blocking; `done` may run on the resolver's thread.
void AppServices::check_inbound_message(const net::ConnectionInfo& connection,
                                        const smtp::CheckMessage& c,
                                        std::function<void(smtp::Event)> done) {
    if (!options_.dmarc.check || resolver_ == nullptr || !options_.org_domain) {
        done(check_message(directory_, smtp::Role::inbound, c, stamp()));
        return;
    }
    // RFC 8601 5: an Authentication-Results field that claims to be ours did not come from
    // us. DKIM is verified on the message as received; the renamed copy is what is stored.
    std::shared_ptr<const std::string> replacement;
    if (auto renamed = dmarc::strip_our_results(*c.message, options_.hostname,
                                                "X-Original-Authentication-Results");
        renamed.ok() && renamed.value() != *c.message)
        replacement = std::make_shared<const std::string>(std::move(renamed).value());

    dkim::VerifyOptions verify;
    verify.now = clock_.now_unix_seconds();
    dmarc::DmarcRequest request;
    request.from = dmarc::author_domain(*c.message);
    request.spf = spf_input_from(c.envelope);
    request.pct_sample = pct_sample();
    auto* resolver = resolver_;
    dkim::check_dkim_async(
        *resolver, *c.message, verify,
        [resolver, request, replacement, done = std::move(done), settings = options_.dmarc,
         org = options_.org_domain, host = options_.hostname, log = options_.log,
         id = connection.id, recorder = options_.dmarc_recorder, clock = &clock_,
         ip = c.envelope.client_address,
         envelope_from = c.envelope.reverse_path.kind == core::Path::Kind::mailbox
                             ? c.envelope.reverse_path.mailbox.domain().lowercase()
                             : std::string()](dkim::DkimVerification verification) mutable {
            request.dkim = dkim_inputs_from(verification);
            auto dkim_inputs = request.dkim;
            auto spf = request.spf;
            dmarc::evaluate_async(
                *resolver, std::move(request), org,
                [done = std::move(done), settings, host, log, id, dkim_inputs, spf, replacement,
                 recorder, clock, ip, envelope_from](dmarc::DmarcResult result) {
                    smtp::Verdict v = dmarc_verdict(settings, host, spf, dkim_inputs, result);
                    // For aggregate reports (RFC 7489 7.2): every evaluation with a policy.
                    if (recorder != nullptr && result.record.has_value()) {
                        auto problem = recorder->record(dmarc::record_from(
                            result, spf, dkim_inputs, ip, envelope_from, clock->now_unix_seconds()));
                        if (problem && log)
                            log(net::LogLevel::warn, "DMARC report data not recorded: " + *problem);
                    }
                    v.replacement = replacement;
                    if (log) {
                        std::string line = "c" + std::to_string(id) + " DMARC " +
                                           dmarc::verdict_name(result.verdict) + " for " +
                                           (result.from_domain.empty() ? "(no From domain)"
                                                                       : result.from_domain);
                        for (const auto& d : dkim_inputs)
                            line += ", DKIM " + std::string(dmarc::dkim_result_name(d.result)) +
                                    " d=" + d.domain;
                        line += v.accept ? (v.folder.empty() ? ": deliver" : ": to " + v.folder)
                                         : ": refused";
                        log(net::LogLevel::info, line);
                    }
                    done(std::move(v));
                });
        });
}

// RFC 6376 5: the signer adds DKIM-Signature for the author's domain (d= = the From: domain,
// so DMARC aligns), over the message as it will be stored: with the Date: and Message-ID:
// the policy added. A failure to sign is logged and the message goes unsigned (a signature is
// an assertion we could not make, not a reason to lose the message).
void AppServices::sign_submission(const smtp::CheckMessage& c, smtp::Verdict& v) {
    if (options_.dkim_keys.empty() || options_.rng == nullptr) return;
    const auto author = dmarc::author_domain(*c.message);
    if (author.status != dmarc::FromStatus::ok) return;
    const std::string to_sign = v.prepend + *c.message;
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
        {
            std::lock_guard lock(mutex_);  // the RNG is shared
            sig = dkim::sign(to_sign, o, *options_.rng);
        }
        if (sig.ok())
            signatures += sig.value();
        else if (options_.log)
            options_.log(net::LogLevel::error, "DKIM signing with " + k.selector + "._domainkey." +
                                                   k.domain + " failed: " + sig.error().message);
    }
    v.prepend = signatures + v.prepend;
}

double AppServices::pct_sample() {
    std::lock_guard lock(mutex_);
    return static_cast<double>(random_.next_u64() >> 11) * 0x1.0p-53;
}

bool AppServices::throttled(const std::string& ip) {
    if (options_.auth_failures_per_ip_per_minute == 0) return false;
    std::lock_guard lock(mutex_);
    auto it = failures_.find(ip);
    if (it == failures_.end()) return false;
    const auto now = clock_.now_unix_seconds();
    while (!it->second.empty() && it->second.front() <= now - 60) it->second.pop_front();
    if (it->second.empty()) {
        failures_.erase(it);
        return false;
    }
    return it->second.size() >= options_.auth_failures_per_ip_per_minute;
}

void AppServices::record_failure(const std::string& ip) {
    std::lock_guard lock(mutex_);
    failures_[ip].push_back(clock_.now_unix_seconds());
}

MessageStamp AppServices::stamp() {
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
