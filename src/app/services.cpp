#include "app/services.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "core/ascii.hpp"
#include "core/assert.hpp"
#include "os/cpu_time.hpp"

#include "tls/password.hpp"

namespace pigeon::app {
namespace {
// A hash to verify against when the user does not exist, so that a wrong user name costs the
// same time as a wrong password (no user enumeration by timing). Made once, lazily.
const std::string& decoy_hash() {
    static const std::string hash = tls::hash_password("pigeon decoy password");
    return hash;
}

// The CPU time of the verification task running on this pool thread started at this value.
thread_local std::int64_t task_cpu_start = 0;

core::MailService service_of(const net::ConnectionInfo& connection) {
    return connection.role == smtp::Role::submission ? core::MailService::submission
                                                     : core::MailService::smtpd;
}

unsigned pool_threads(unsigned configured) {
    return configured != 0 ? configured : std::max(1u, std::thread::hardware_concurrency());
}

// The stage a session's question belongs to, for counting its answers.
const char* stage_of(const smtp::Action& action) {
    if (std::holds_alternative<smtp::CheckSender>(action)) return "mail";
    if (std::holds_alternative<smtp::CheckRecipient>(action)) return "rcpt";
    if (std::holds_alternative<smtp::CheckMessage>(action)) return "data";
    if (std::holds_alternative<smtp::Enqueue>(action)) return "queue";
    return "auth";
}

policy::PipelineOptions check_options(const AppServices::Options& o, const AppServices::Settings& s,
                                      boost::asio::thread_pool& pool) {
    policy::PipelineOptions c;
    // Each task is one message's DKIM verification (or its DMARC verdict): at most one per
    // session at a time, so the queue is bounded by the number of connections.
    c.offload = [&pool](std::function<void()> task) {
        boost::asio::post(pool, [task = std::move(task)] {
            task_cpu_start = os::thread_cpu_nanoseconds();
            task();
        });
    };
    const std::int64_t budget_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(o.verify_cpu_budget).count();
    c.over_budget = [budget_ns] { return os::thread_cpu_nanoseconds() - task_cpu_start > budget_ns; };
    c.hostname = s.hostname;
    c.spf = s.spf;
    c.dmarc = s.dmarc;
    c.org_domain = s.org_domain;
    c.dkim_keys = s.dkim_keys;
    c.rng = o.rng;
    c.dmarc_recorder = o.dmarc_recorder;
    if (o.log)
        c.log = o.log;
    c.count = o.count_verdict;
    return c;
}
}  // namespace

AppServices::AppServices(Options options, Settings settings,
                         os::GroupCommitter& committer, const core::Clock& clock,
                         queue::RandomSource& random, dns::Resolver* resolver)
    : options_(std::move(options)),
      committer_(committer),
      clock_(clock),
      random_(random),
      resolver_(resolver),
      verify_pool_(pool_threads(options_.verify_threads)),
      auth_failures_(options_.auth_failures_per_ip_per_minute) {
    use(prepare(std::move(settings)));
}

std::shared_ptr<const net::ServicesSnapshot> AppServices::prepare(Settings settings) {
    if (settings.directory == nullptr) throw std::invalid_argument("AppServices::Settings.directory is required");
    auto options = check_options(options_, settings, verify_pool_);
    auto dovecot = dovecot_client(settings.auth);
    return std::make_shared<const Generation>(std::move(settings), std::move(options), clock_, random_, resolver_,
                                              std::move(dovecot));
}

std::shared_ptr<net::DovecotAuthClient> AppServices::dovecot_client(const config::AuthSettings& auth) {
    if (auth.dovecot.empty()) return nullptr;
    std::string why;
    auto endpoint = config::parse_auth_endpoint(auth.dovecot, why);
    if (!endpoint) throw std::invalid_argument("[auth] dovecot: " + why);  // the reader refused it already
    net::DovecotAuthClient::Options o;
    o.endpoint = *endpoint;
    o.name = auth.dovecot;
    o.connect_timeout = std::chrono::seconds(auth.dovecot_connect_timeout_seconds);
    o.reply_timeout = std::chrono::seconds(auth.dovecot_timeout_seconds);
    o.log = options_.log;
    std::lock_guard lock(dovecot_mutex_);
    std::erase_if(dovecot_clients_, [](const auto& w) { return w.expired(); });
    for (const auto& w : dovecot_clients_) {
        auto c = w.lock();
        if (c && c->options().name == o.name && c->options().connect_timeout == o.connect_timeout &&
            c->options().reply_timeout == o.reply_timeout)
            return c;
    }
    auto client = std::make_shared<net::DovecotAuthClient>(auth_pool_.get_executor(), std::move(o));
    dovecot_clients_.push_back(client);
    return client;
}

void AppServices::use(std::shared_ptr<const net::ServicesSnapshot> snapshot) {
    auto g = std::static_pointer_cast<const Generation>(std::move(snapshot));
    PIGEON_ASSERT(g != nullptr, "use() gets a snapshot made by prepare()");
    if (g == nullptr) return;
    std::lock_guard lock(current_mutex_);
    current_.swap(g);  // the old one, if last, goes when `g` does: outside the lock
}

std::shared_ptr<const AppServices::Generation> AppServices::current_generation() const {
    std::lock_guard lock(current_mutex_);
    return current_;
}

std::shared_ptr<const net::ServicesSnapshot> AppServices::current() const { return current_generation(); }

std::shared_ptr<const policy::Directory> AppServices::directory() const {
    return current_generation()->settings.directory;
}

AppServices::~AppServices() { stop(); }

void AppServices::stop() {
    {
        // Their connections and timers keep auth_pool_ busy until closed (pending AUTHs: 454).
        std::lock_guard lock(dovecot_mutex_);
        for (const auto& w : dovecot_clients_)
            if (auto c = w.lock()) c->close();
    }
    auth_pool_.join();
    verify_pool_.join();
}

void AppServices::handle(const net::ConnectionInfo& connection, const smtp::Action& action,
                         std::function<void(smtp::Event)> done) {
    // The connection's snapshot, which the connection keeps alive; without one (a Services
    // user that does not reload), the current one, kept alive by the answer's callback.
    std::shared_ptr<const Generation> g;
    if (connection.snapshot) {
        g = std::static_pointer_cast<const Generation>(connection.snapshot);
    } else {
        g = current_generation();
        done = [g, done = std::move(done)](smtp::Event e) { done(std::move(e)); };
    }
    if (!options_.on_answer) {
        answer(*g, connection, action, std::move(done));
        return;
    }
    answer(*g, connection, action,
           [this, listener = connection.listener, stage = stage_of(action), done = std::move(done)](
               smtp::Event event) {
               options_.on_answer(listener, stage, event);
               done(std::move(event));
           });
}

void AppServices::answer(const Generation& g, const net::ConnectionInfo& connection, const smtp::Action& action,
                         std::function<void(smtp::Event)> done) {
    const auto role = connection.role;
    if (auto* a = std::get_if<smtp::Authenticate>(&action)) {
        authenticate(g, connection, *a, std::move(done));
    } else if (auto* c = std::get_if<smtp::CheckSender>(&action)) {
        if (options_.storage_low && options_.storage_low()) {
            // RFC 5321 4.2.2 / RFC 3463 X.3.1: a temporary refusal; the client retries later.
            smtp::Verdict refused;
            refused.accept = false;
            refused.reply = core::Reply(452, "4.3.1", "Insufficient system storage; try again later");
            log_refusal(connection, "MAIL", c->envelope, nullptr, refused);
            done(std::move(refused));
            return;
        }
        g.checks.check_sender(role, *c, "c" + std::to_string(connection.id),
                              logging_refusals(connection, "MAIL", c->envelope, std::move(done)));
    } else if (auto* c = std::get_if<smtp::CheckRecipient>(&action); c && g.settings.directory->backend()) {
        g.checks.check_recipient(role, *c,
                                 [this, connection, envelope = c->envelope, to = c->recipient,
                                  done = std::move(done)](smtp::Event verdict) {
                                     log_refusal(connection, "RCPT", envelope, &to, verdict);
                                     done(std::move(verdict));
                                 });
    } else if (auto* c = std::get_if<smtp::CheckRecipient>(&action)) {
        smtp::Event verdict = g.checks.check_recipient(role, *c);
        log_refusal(connection, "RCPT", c->envelope, &c->recipient, verdict);
        done(std::move(verdict));
    } else if (auto* c = std::get_if<smtp::CheckMessage>(&action)) {
        g.checks.check_message(role, *c, "c" + std::to_string(connection.id),
                               logging_refusals(connection, "DATA", c->envelope, std::move(done)));
    } else if (auto* e = std::get_if<smtp::Enqueue>(&action)) {
        const auto id = connection.id;
        auto log = options_.log;
        committer_.submit(e->envelope, e->message, e->folder,
                          [this, done = std::move(done), id, log,
                           lines = accepted_lines(connection, *e)](os::GroupCommitter::Outcome outcome) mutable {
                              if (outcome.ok()) {
                                  log_accepted(lines, outcome.value());
                                  done(smtp::Enqueued{outcome.value()});
                              } else {
                                  if (log)
                                      log(net::LogLevel::error,
                                          "c" + std::to_string(id) + " spool: " + outcome.error().message);
                                  done(smtp::EnqueueFailed{outcome.error().message});
                              }
                          });
    }
}

void AppServices::log_refusal(const net::ConnectionInfo& connection, std::string_view stage,
                              const core::Envelope& envelope, const core::Path* to,
                              const smtp::Event& verdict) const {
    const auto* v = std::get_if<smtp::Verdict>(&verdict);
    if (!options_.event || !v || v->accept) return;
    options_.event(core::Refused{
        service_of(connection), std::string(stage), connection.peer_address, v->reply ? core::one_line(*v->reply) : std::string(),
        core::event_address(envelope.reverse_path), to ? core::event_address(*to) : std::string(),
        envelope.esmtp, envelope.helo});
}

std::function<void(smtp::Event)> AppServices::logging_refusals(const net::ConnectionInfo& connection,
                                                               std::string stage,
                                                               const core::Envelope& envelope,
                                                               std::function<void(smtp::Event)> done) const {
    if (!options_.event) return done;
    return [this, connection, stage = std::move(stage), envelope, done = std::move(done)](smtp::Event e) {
        log_refusal(connection, stage, envelope, nullptr, e);
        done(std::move(e));
    };
}

// "client=" (smtpd) and "from=, size=, nrcpt=" (qmgr), once the message is durable.
AppServices::AcceptedLines AppServices::accepted_lines(const net::ConnectionInfo& connection,
                                                       const smtp::Enqueue& e) const {
    if (!options_.event) return {};
    return {core::MessageReceived{service_of(connection), {}, connection.peer_address,
                                  e.envelope.auth_identity},
            core::MessageQueued{{}, core::event_address(e.envelope.reverse_path), e.message.size(),
                                e.envelope.recipients.size()}};
}

void AppServices::log_accepted(AcceptedLines& lines, const std::string& queue_id) const {
    if (!options_.event) return;
    lines.received.queue_id = lines.queued.queue_id = queue_id;
    options_.event(lines.received);
    options_.event(lines.queued);
}

void AppServices::authenticate(const Generation& g, const net::ConnectionInfo& connection, const smtp::Authenticate& a,
                               std::function<void(smtp::Event)> done) {
    const policy::Directory& directory = *g.settings.directory;
    const std::string ip = connection.client_key.empty() ? connection.peer_address
                                                         : connection.client_key;
    if (throttled(ip)) {
        if (options_.log)
            options_.log(net::LogLevel::warn, "c" + std::to_string(connection.id) +
                                                  " AUTH refused: too many failures from " + ip);
        done(smtp::AuthResult{smtp::AuthResult::Outcome::temporary_failure, {}});
        return;
    }
    // [auth] dovecot decides the password, whatever the directory; else a [directory] backend;
    // else the [[users]] hashes.
    if (g.dovecot) {
        authenticate_with_dovecot(g, connection, a, ip, std::move(done));
        return;
    }
    if (directory.backend()) {
        authenticate_from(*directory.backend(), connection, a, ip, std::move(done));
        return;
    }
    const config::User* user = directory.login(a.authcid);
    // PLAIN's authorization identity, when given, must be the user itself: no proxy logins.
    const bool authzid_ok = a.authzid.empty() || (user && directory.login(a.authzid) == user);
    std::string hash = user ? user->password_hash : decoy_hash();
    std::string address = user ? user->address : std::string();
    boost::asio::post(auth_pool_, [this, ip, hash = std::move(hash), address = std::move(address),
                                   password = a.password, authzid_ok, id = connection.id,
                                   done = std::move(done)] {
        const bool ok = tls::verify_password(password, hash) && !address.empty() && authzid_ok;
        if (!ok) record_failure(ip);
        if (options_.log)
            options_.log(ok ? net::LogLevel::debug : net::LogLevel::info, "c" + std::to_string(id) + " AUTH " +
                                                  (ok ? "succeeded for " + address : "failed"));
        done(smtp::AuthResult{ok ? smtp::AuthResult::Outcome::ok
                                 : smtp::AuthResult::Outcome::bad_credentials,
                              address});
    });
}

void AppServices::authenticate_with_dovecot(const Generation& g, const net::ConnectionInfo& connection,
                                            const smtp::Authenticate& a, std::string client,
                                            std::function<void(smtp::Event)> done) {
    const std::string tag = "c" + std::to_string(connection.id) + " AUTH";
    // PLAIN's authorization identity, when given, must be the user itself: no proxy logins
    // (Dovecot would take it as a master-user login).
    if (!a.authzid.empty() && core::ascii_lower(a.authzid) != core::ascii_lower(a.authcid)) {
        record_failure(client);
        if (options_.log) options_.log(net::LogLevel::info, tag + " failed (an authorization identity of another user)");
        done(smtp::AuthResult{smtp::AuthResult::Outcome::bad_credentials, {}});
        return;
    }
    net::DovecotAuthClient::Request request{a.authcid, a.password, a.secured, connection.peer_address};
    g.dovecot->authenticate(std::move(request), [this, client = std::move(client), tag,
                                                 done = std::move(done)](net::DovecotAuthClient::Result r) {
        using Outcome = net::DovecotAuthClient::Result::Outcome;
        smtp::AuthResult result{smtp::AuthResult::Outcome::temporary_failure, {}};
        if (r.outcome == Outcome::ok) {
            result = {smtp::AuthResult::Outcome::ok, r.user};
            if (options_.log) options_.log(net::LogLevel::debug, tag + " succeeded for " + r.user + " (dovecot)");
        } else if (r.outcome == Outcome::fail) {
            record_failure(client);
            result.outcome = smtp::AuthResult::Outcome::bad_credentials;
            if (options_.log) options_.log(net::LogLevel::info, tag + " failed (dovecot)");
        } else if (options_.log) {
            options_.log(net::LogLevel::warn, tag + " temporary failure: dovecot: " + r.reason);
        }
        done(std::move(result));
    });
}

bool AppServices::throttled(const std::string& client) {
    return auth_failures_.throttled(client, clock_.now_unix_seconds());
}

void AppServices::record_failure(const std::string& client) {
    auth_failures_.record_failure(client, clock_.now_unix_seconds());
}

}  // namespace pigeon::app
