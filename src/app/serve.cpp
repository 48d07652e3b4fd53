// pigeon serve: builds the running server from a Config: state directory and its lock, TLS
// certificate (generated on first start when none is configured), the demo user of the
// embedded default, the spool (recovered), local delivery, and the listeners. Reloads the
// configuration live on SIGHUP or `pigeon reload` (ServerProcess::reload).
#include <fcntl.h>
#include <cstdlib>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/assert.hpp"
#include "app/commands.hpp"
#include "app/control.hpp"
#include <boost/asio/signal_set.hpp>
#include "app/dmarc_report.hpp"
#include "app/local_submit.hpp"
#include "app/logger.hpp"
#include "app/metrics.hpp"
#include "app/outbound_setup.hpp"
#include "app/serve_setup.hpp"
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/post.hpp>
#include "policy/directory.hpp"
#include "app/services.hpp"
#include <botan/auto_rng.h>
#include <botan/pk_keys.h>

#include "auth/dkim/dkim.hpp"
#include "auth/dmarc/psl_org_domain.hpp"
#include "delivery/local_delivery.hpp"
#include "dns/unbound_resolver.hpp"
#include "dns/zone_resolver.hpp"
#include "net/metrics_http.hpp"
#include "net/outbound_runtime.hpp"
#include "net/resources.hpp"
#include "net/spill.hpp"
#include "net/server.hpp"
#include "delivery/outbound.hpp"
#include "os/file_io.hpp"
#include "os/group_commit.hpp"
#include "os/privilege.hpp"
#include "os/systemd.hpp"
#include "net/listen.hpp"
#include "os/posix_storage.hpp"
#include "os/random.hpp"
#include "os/system_clock.hpp"
#include "queue/spool.hpp"
#include "tls/credentials.hpp"
#include "tls/pkix.hpp"
#include "tls/password.hpp"

namespace pigeon::app {
namespace fs = std::filesystem;
namespace {

LogOptions log_options(const config::Config& config) {
    LogOptions o;
    o.level = config.log_level;
    o.format = config.log.format == config::LogFormat::json ? LineFormat::json : LineFormat::text;
    switch (config.log.target) {
        case config::LogTarget::standard_error: o.target = LogOptions::Target::standard_error; break;
        case config::LogTarget::syslog: o.target = LogOptions::Target::syslog; break;
        case config::LogTarget::file: o.target = LogOptions::Target::file; break;
    }
    o.file = config.log.file;
    o.syslog_socket = config.log.syslog_socket;
    return o;
}

// "a, b, c" for the log.
std::string comma_list(const std::vector<std::string>& items) {
    std::string list;
    for (const auto& item : items) list += (list.empty() ? "" : ", ") + item;
    return list;
}

void stop_outbound(net::AsioRuntime& runtime, std::unique_ptr<delivery::OutboundEngine>& engine,
                   boost::asio::signal_set& control_signal) {
    runtime.call([&] { control_signal.cancel(); });
    if (engine) runtime.call([&] { engine->stop([] {}); });
    runtime.stop();
    engine.reset();
}

// `pigeon queue flush|retry|delete|hold|release` (hold and release also --all), as the running
// server carries them out on its one Spool (app/control.hpp); each message request is answered,
// each problem logged.
class ControlRequests {
public:
    // reload: carries out `pigeon reload` and answers it (ServerProcess::reload, elsewhere).
    ControlRequests(std::string state, queue::Spool& spool, delivery::LocalDeliveryWorker& worker,
                    const std::unique_ptr<delivery::OutboundEngine>& outbound, Logger& log,
                    std::function<void(const ControlRequest&)> reload)
        : state_(std::move(state)), spool_(spool), worker_(worker), outbound_(outbound), log_(log),
          reload_(std::move(reload)) {}

    // Takes every request waiting in <state>/control/ and carries it out.
    void take() {
        std::vector<std::string> problems;
        for (const ControlRequest& req : take_control_requests(state_, &problems)) {
            if (req.kind == ControlRequest::Kind::reload) {
                reload_(req);
            } else if (req.kind == ControlRequest::Kind::flush) {
                say("queue flush requested: every deferred recipient is due now");
                if (outbound_) outbound_->flush();
                else if (auto s = spool_.reschedule_all(0); !s) log_(net::LogLevel::warn, "queue flush: " + s.error().message);
            } else if (req.kind == ControlRequest::Kind::retry) {
                say("queue retry " + req.id + " requested");
                if (outbound_) outbound_->retry(req.id);
                else if (auto s = spool_.reschedule(req.id, 0); !s) log_(net::LogLevel::warn, "queue retry: " + s.error().message);
            } else if (req.kind == ControlRequest::Kind::hold_all || req.kind == ControlRequest::Kind::release_all) {
                hold_all(req);
            } else {
                std::string what = format_control_request(req);  // "hold <id>\n"
                what.pop_back();
                const queue::Status s = change_message(req);
                say("queue " + what + " requested: " + (s ? std::string("done") : s.error().message));
                if (queue::Status a = answer_control_request(state_, req, s.ok(), s ? "done" : s.error().message); !a)
                    log_(net::LogLevel::warn, "control: cannot answer " + what + ": " + a.error().message);
            }
        }
        for (const auto& p : problems) log_(net::LogLevel::warn, "control: " + p);
    }

private:
    // hold-all / release-all: answered with how many messages changed.
    void hold_all(const ControlRequest& req) {
        std::string what = format_control_request(req);
        what.pop_back();
        const auto done = hold_all_messages(spool_, req.kind == ControlRequest::Kind::hold_all,
                                            [this](const std::string& id) { wake(id); });
        const std::string text = done ? *done : done.error().message;
        say("queue " + what + " requested: " + text);
        if (queue::Status a = answer_control_request(state_, req, done.ok(), text); !a)
            log_(net::LogLevel::warn, "control: cannot answer " + what + ": " + a.error().message);
    }
    // A released message: its deliverers look at it now (its retry schedule still applies).
    void wake(const std::string& id) {
        worker_.notify(id);
        if (outbound_) outbound_->notify(id);
    }
    queue::Status change_message(const ControlRequest& req) {
        switch (req.kind) {
            case ControlRequest::Kind::remove: return spool_.remove(req.id);
            case ControlRequest::Kind::hold: return spool_.hold(req.id, true);
            case ControlRequest::Kind::release: {
                queue::Status s = spool_.hold(req.id, false);
                if (s) wake(req.id);
                return s;
            }
            default: return queue::Error{"not a message request"};
        }
    }
    void say(std::string_view text) { log_(net::LogLevel::info, text); }

    std::string state_;
    queue::Spool& spool_;
    delivery::LocalDeliveryWorker& worker_;
    const std::unique_ptr<delivery::OutboundEngine>& outbound_;
    Logger& log_;
    std::function<void(const ControlRequest&)> reload_;
};

// Failure notices that local delivery queues wake the deliverers like any committed message;
// the waking function is known only once the group committer's options exist.
struct NoticeWaker {
    using Wake = std::function<void(const std::string&, const std::vector<core::Path>&)>;
    void set(Wake wake) {
        std::lock_guard lock(mutex);
        this->wake = std::move(wake);
    }
    void operator()(const std::string& id, const std::vector<core::Path>& to) {
        Wake f;
        {
            std::lock_guard lock(mutex);
            f = wake;
        }
        if (f) f(id, to);
    }
    std::mutex mutex;
    Wake wake;
};

// The running server: what it owns, in the order it starts. Each step logs what it did and
// returns false (having said why on stderr) when the server cannot start. The members are
// destroyed in the reverse order, which is the order the parts can stop in.
class ServerProcess {
public:
    // config_path: the file `config` was read from, read again at each reload; empty: the
    // embedded default.
    ServerProcess(const config::Config& config, std::string config_path)
        : config_(config), running_(config), config_path_(std::move(config_path)),
          embedded_default_(config_path_.empty()), log_(log_options(config)),
          // A failed PIGEON_ASSERT goes to the log at error level, among the other lines; the
          // code then keeps its safe fallback (core/assert.hpp). Dev builds still abort after.
          assertions_to_log_([this](const core::AssertionFailure& f) {
              log_(net::LogLevel::error, core::describe(f));
              if (core::assertions_are_fatal()) std::abort();
          }) {}

    bool choose_account();       // the service user to drop to, or why root may stay
    bool create_state_dir();     // when missing: made for the service user, 0700
    bool open_listeners();       // bound here (as root for ports below 1024) or passed by systemd
    bool load_configured_tls();  // [tls] cert_file and key_file, read before the drop
    bool load_signing_keys();    // DKIM keys for submission, read before the drop
    bool drop_privileges();      // to the service user, for good; root cannot be regained
    bool claim_state_dir();      // check it is ours, owner-only, and lock it
    bool load_generated_tls();   // without [tls]: the certificate generated on first start
    bool load_users();           // the directory, with the embedded default's demo user
    bool recover_spool();        // before anything is accepted
    bool open_dns();             // a zone file, or libunbound with DNSSEC validation
    void start_local_delivery(); // local users' Maildirs, from their own thread
    bool start_outbound();       // MX routing, the relayhost or a route (when enabled)
    void start_group_commit();   // one fsync for many messages; wakes the deliverer each needs
    bool load_checks();          // the Public Suffix List, the DMARC report records
    void start_services();       // the policy pipeline and the sessions' options
    bool start_local_submission();  // the [sendmail] socket, when configured
    bool start_metrics();        // [metrics]: /metrics and /healthz on their own thread
    void take_control_requests();  // `pigeon queue ...` and `pigeon reload` (SIGUSR1), SIGHUP
    int serve();                 // listen until stopped, then stop the parts in order

private:
    struct ReloadOutcome {
        bool ok = false;
        std::string text;  // what was applied (and what needs a restart), or why nothing was
    };
    // Reads the configuration again and applies what it can (config/reload.hpp) to connections
    // accepted from now on; on any error nothing changes. Runs on reload_pool_ only.
    ReloadOutcome reload();
    void post_reload(std::function<void(const ReloadOutcome&)> then);
    std::vector<config::User> users_of(const config::Config& config);  // with the demo user
    net::LiveSettings live_settings(const config::Config& config, std::shared_ptr<tls::TlsContext> tls,
                                    std::shared_ptr<const net::ServicesSnapshot> snapshot);
    AppServices::Settings service_settings(const config::Config& config,
                                           std::shared_ptr<const policy::Directory> directory,
                                           std::vector<AppServices::SigningKey> keys);
    std::optional<delivery::OutboundOptions> engine_options(const config::Config& config,
                                                            std::shared_ptr<const policy::Directory> directory,
                                                            std::string& error);
    std::shared_ptr<const policy::Directory> directory() const;
    bool load_tls();  // the certificate of config_ (configured or generated), or false after saying why
    void say(std::string_view text) { log_(net::LogLevel::info, text); }
    void stop_after_failure();
    bool state_dir_is_the_accounts();

    const config::Config config_;  // as started; never changes (other threads read it)
    config::Config running_;       // as last reloaded; touched by the reload thread only
    const std::string config_path_;
    bool embedded_default_;
    Logger log_;
    core::ScopedAssertionHandler assertions_to_log_;
    std::optional<os::Account> account_;  // set: run as this account (dropped to when root)
    std::optional<StateLock> lock_;
    fs::path state_;
    std::vector<net::OpenedListener> listeners_;  // in config_.listeners' order
    std::shared_ptr<tls::TlsContext> tls_context_;
    mutable std::mutex directory_mutex_;
    std::shared_ptr<const policy::Directory> directory_;  // the current one, under directory_mutex_
    os::SystemClock clock_;
    os::SystemRandom random_;
    std::optional<ServerMetrics> metrics_;  // [metrics]: before every part that counts
    std::unique_ptr<os::PosixStorage> storage_;
    std::optional<queue::Spool> spool_;
    std::unique_ptr<dns::Resolver> resolver_;
    std::optional<delivery::MaildirWriter> writer_;
    NoticeWaker wake_for_notice_;
    delivery::Bounces bounces_;
    std::optional<delivery::LocalDelivery> local_;
    std::optional<delivery::LocalDeliveryWorker> worker_;
    os::GroupCommitter::Options commit_options_;
    net::AsioRuntime outbound_runtime_;
    std::unique_ptr<delivery::OutboundEngine> outbound_;
    std::optional<os::GroupCommitter> committer_;
    dmarc::PslOrganizationalDomain psl_;
    Botan::AutoSeeded_RNG signing_rng_;
    std::vector<AppServices::SigningKey> signing_keys_;
    std::optional<DmarcRecorder> dmarc_recorder_;
    std::optional<net::ServerResources> resources_;
    std::optional<AppServices> services_;
    std::unique_ptr<net::LocalSubmissionServer> sendmail_;
    net::ServerOptions options_;
    std::optional<net::SpillDirectory> spill_;
    std::optional<boost::asio::signal_set> control_signal_;  // SIGUSR1 (control requests), SIGHUP
    std::optional<ControlRequests> control_;
    std::function<void()> wait_for_signal_;
    std::atomic<bool> serving_{false};  // for /healthz
    std::mutex server_mutex_;           // guards server_ (serve() sets and clears it, a reload uses it)
    net::Server* server_ = nullptr;     // while serve() runs it
    boost::asio::thread_pool reload_pool_{1};  // reloads, one at a time, off the I/O threads
    std::optional<net::MetricsEndpoint> metrics_endpoint_;  // last: stops first
};

bool ServerProcess::choose_account() {
    if (!log_.open_error().empty()) {
        std::cerr << "pigeon: log.file: " << log_.open_error() << "\n";
        return false;
    }
    say("pigeon 0.1.0 starting as " + config_.hostname +
        (embedded_default_ ? " on the embedded default configuration" : ""));
    const bool root = os::started_as_root();
    if (config_.user.empty()) {
        if (root && !config_.allow_root) {
            std::cerr << "pigeon: refusing to run as root. Set user = \"pigeon\" (an unprivileged account: "
                         "Pigeon binds its ports and reads its keys as root, then runs as that user), or "
                         "allow_root = true to stay root (not recommended on a public port).\n";
            return false;
        }
        return true;
    }
    auto account = os::find_account(config_.user, config_.group);
    if (!account.ok()) {
        std::cerr << "pigeon: " << account.error().message << "\n";
        return false;
    }
    if (!root && ::getuid() != account->uid) {
        std::cerr << "pigeon: user = \"" << config_.user << "\": started as uid " << ::getuid()
                  << ", which is neither root nor " << config_.user << "; start it as root or as " << config_.user
                  << "\n";
        return false;
    }
    account_ = std::move(account).value();
    return true;
}

// Everything directly in the state directory must be the service user's: files an earlier
// run as root left would be unwritable after the drop.
bool ServerProcess::state_dir_is_the_accounts() {
    if (!account_) return true;
    std::error_code ec;
    std::vector<std::string> foreign;
    if (!os::owned_by(config_.state_dir, *account_)) foreign.push_back(config_.state_dir);
    for (const auto& entry : fs::directory_iterator(config_.state_dir, ec))
        if (!os::owned_by(entry.path().string(), *account_)) foreign.push_back(entry.path().string());
    if (foreign.empty()) return true;
    std::cerr << "pigeon: " << foreign.front() << (foreign.size() > 1 ? " (and " + std::to_string(foreign.size() - 1) + " more)" : "")
              << " in the state directory does not belong to " << account_->user
              << ", which the server runs as. Fix: chown -R " << account_->user << ":" << account_->group << " "
              << config_.state_dir << "\n";
    return false;
}

// Root only makes the directory (when it is missing) and gives it away: everything inside is
// made by the service user after the drop, so the service needs no CAP_DAC_OVERRIDE.
bool ServerProcess::create_state_dir() {
    std::error_code ec;
    const bool created = fs::create_directories(config_.state_dir, ec);
    if (ec) {
        std::cerr << "pigeon: cannot create the state directory " << config_.state_dir << ": "
                  << ec.message() << "\n";
        return false;
    }
    if (created) fs::permissions(config_.state_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (created && account_ && os::started_as_root())
        if (auto s = os::give_to(config_.state_dir, *account_); !s) {
            std::cerr << "pigeon: " << s.error().message << "\n";
            return false;
        }
    return true;
}

bool ServerProcess::claim_state_dir() {
    std::error_code ec;
    if (!state_dir_is_the_accounts()) return false;
    fs::permissions(config_.state_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    // Only one server may own a state directory: two would deliver the same spool twice.
    const StateLock& lock = lock_.emplace(try_lock_state_dir(config_.state_dir));
    if (lock.outcome != StateLock::Outcome::held) {
        std::cerr << "pigeon: "
                  << (lock.outcome == StateLock::Outcome::busy
                          ? "another pigeon is already using " + config_.state_dir + " (" + lock.path +
                                " is locked)"
                          : lock.error)
                  << "\n";
        return false;
    }
    state_ = fs::absolute(config_.state_dir).lexically_normal();
    if (config_.metrics.enabled()) {
        std::vector<std::string> listeners;
        for (const auto& l : config_.listeners) listeners.push_back(l.address + ":" + std::to_string(l.port));
        metrics_.emplace(std::move(listeners), clock_);
    }
    say("state directory: " + state_.string());
    say("local domains (mail for these is delivered here): " + comma_list(config_.local_domains));
    return true;
}

bool ServerProcess::open_listeners() {
    auto passed = os::take_passed_sockets();
    if (!passed.ok()) {
        std::cerr << "pigeon: " << passed.error().message << "\n";
        return false;
    }
    std::vector<net::ListenerOptions> wanted;
    for (const auto& l : config_.listeners) wanted.push_back(net::ListenerOptions{l.address, l.port, l.role, l.tls});
    auto opened = net::open_listeners(wanted, passed.value());
    if (!opened.ok()) {
        std::cerr << "pigeon: " << opened.error().message << "\n";
        return false;
    }
    listeners_ = std::move(opened).value();
    if (!passed->empty())
        say("listeners: " + std::to_string(passed->size()) + " socket(s) passed by the service manager");
    return true;
}

bool ServerProcess::load_tls() {
    auto context = app::load_tls(config_, state_, log_);
    if (!context) {
        std::cerr << "pigeon: " << context.error().message << "\n";
        return false;
    }
    tls_context_ = std::move(context).value();
    return true;
}

bool ServerProcess::load_configured_tls() { return config_.tls.self_signed() || load_tls(); }

bool ServerProcess::load_generated_tls() { return !config_.tls.self_signed() || load_tls(); }

bool ServerProcess::load_signing_keys() {
    // Read at start, as root if started so: a broken key stops the server with the file's
    // name rather than sending unsigned mail unnoticed.
    auto keys = app::load_signing_keys(config_.dkim_keys, signing_rng_, log_);
    if (!keys) {
        std::cerr << "pigeon: " << keys.error().message << "\n";
        return false;
    }
    signing_keys_ = std::move(keys).value();
    return true;
}

bool ServerProcess::drop_privileges() {
    if (!account_) {
        if (os::started_as_root())
            log_(net::LogLevel::warn, "running as root (allow_root = true); set user = \"...\" to drop to an "
                                      "unprivileged account after binding the ports");
        return true;
    }
    if (!os::started_as_root()) {
        say("running as " + account_->user + " (started so; no privileges to drop)");
        return true;
    }
    if (auto s = os::drop_to(*account_); !s) {
        std::cerr << "pigeon: cannot drop privileges: " << s.error().message << "\n";
        return false;
    }
    say("privileges: now " + account_->user + ":" + account_->group + " (uid " + std::to_string(account_->uid) +
        ", gid " + std::to_string(account_->gid) + "); root cannot be regained");
    return true;
}

// The configured users, and the embedded default's demo user first; throws when the demo
// user's file cannot be written.
std::vector<config::User> ServerProcess::users_of(const config::Config& config) {
    std::vector<config::User> users = config.users;
    if (config.create_demo_user) {
        config::User demo;
        if (!load_or_create_demo_user(config, demo, log_))
            throw std::runtime_error("cannot write the demo user file in " + state_.string());
        users.insert(users.begin(), demo);
    }
    return users;
}

std::shared_ptr<const policy::Directory> ServerProcess::directory() const {
    std::lock_guard lock(directory_mutex_);
    return directory_;
}

bool ServerProcess::load_users() {
    try {
        directory_ = std::make_shared<const policy::Directory>(config_.local_domains, users_of(config_),
                                                               config_.delivery.discard);
    } catch (const std::exception& e) {
        std::cerr << "pigeon: " << e.what() << "\n";
        return false;
    }
    return true;
}

bool ServerProcess::recover_spool() {
    auto storage = os::PosixStorage::open((state_ / "queue").string());
    if (!storage.ok()) {
        std::cerr << "pigeon: spool: " << storage.error().message << "\n";
        return false;
    }
    storage_ = std::move(storage).value();
    if (metrics_) storage_->set_sync_observer([this](std::chrono::nanoseconds t) { metrics_->storage_sync(t); });
    spool_.emplace(*storage_, clock_, random_);
    auto report = spool_->recover();
    if (!report.ok()) {
        std::cerr << "pigeon: spool recovery failed: " << report.error().message << "\n";
        return false;
    }
    say("spool: " + std::to_string(report->recovered) + " queued message(s) recovered, " +
        std::to_string(report->discarded) + " incomplete discarded");
    for (const auto& p : report->problems) log_(net::LogLevel::warn, "spool: " + p);
    return true;
}

bool ServerProcess::open_dns() {
    // For SPF, DKIM, DMARC and MX routing.
    auto resolver = open_resolver(config_.dns, log_);
    if (!resolver) {
        std::cerr << "pigeon: " << resolver.error().message << "\n";
        return false;
    }
    resolver_ = std::move(resolver).value();
    if (metrics_) resolver_ = std::make_unique<MeasuredResolver>(std::move(resolver_), *metrics_);
    return true;
}

void ServerProcess::start_local_delivery() {
    // Mail for local users goes to their Maildir; other recipients stay queued for the
    // outbound role.
    writer_.emplace(clock_, random_, config_.hostname, static_cast<std::uint64_t>(::getpid()));
    bounces_.clock = &clock_;
    bounces_.random = &random_;
    bounces_.on_queued = [this](const std::string& id, const std::vector<core::Path>& to) {
        wake_for_notice_(id, to);
    };
    local_.emplace(
        *spool_,
        // The current directory: a user a reload removed is unknown from then on.
        [this, state = state_](const core::Path& rcpt) {
            const auto current = directory();
            const policy::Directory& directory = *current;
            if (rcpt.kind != core::Path::Kind::postmaster &&
                !directory.is_local_domain(rcpt.mailbox.domain().lowercase()))
                return delivery::LocalTarget::remote();
            const config::User* u = directory.recipient(rcpt);
            if (u == nullptr && directory.discards(rcpt)) return delivery::LocalTarget::discard();
            if (u == nullptr) return delivery::LocalTarget::unknown("550 5.1.1 user unknown");
            return delivery::LocalTarget::mailbox(policy::maildir_for(state, *u));
        },
        *writer_, config_.hostname, bounces_);
    if (metrics_) local_->observe([this](const delivery::DeliveryReport& r) { metrics_->local_report(r); });
    delivery::LocalDeliveryWorker::Options worker_options;
    worker_options.log = [this](std::string_view line) { log_.write(net::LogLevel::info, "local", line); };
    worker_options.event = [this](const core::MailEvent& e) { log_.event(e); };
    worker_.emplace(*local_, worker_options);
    if (!config_.delivery.discard.empty()) {
        say("delivery: mail to " + comma_list(config_.delivery.discard) + " is accepted, queued durably, then discarded ([delivery] discard)");
    }
}

bool ServerProcess::start_outbound() {
    if (!config_.outbound.enabled) {
        say("outbound: off (outbound.enabled = false); remote recipients stay queued");
        return true;
    }
    std::string error;
    auto options = engine_options(config_, directory_, error);
    if (!options) {
        std::cerr << "pigeon: " << error << "\n";
        return false;
    }
    outbound_ = std::make_unique<delivery::OutboundEngine>(std::move(*options), *spool_, clock_, random_,
                                                           *resolver_, outbound_runtime_);
    say(describe_outbound(config_.outbound));
    for (const std::string& w : config::credential_warnings(config_)) log_(net::LogLevel::warn, "config: " + w);
    return true;
}

// The outbound engine's options for `config` (routes, relayhost and their password files),
// with this server's callbacks; nullopt with `error` set when a file cannot be read.
std::optional<delivery::OutboundOptions> ServerProcess::engine_options(
    const config::Config& config, std::shared_ptr<const policy::Directory> directory, std::string& error) {
    auto options = outbound_options(config, std::move(directory), error);
    if (!options) return std::nullopt;
    options->log = [this](std::string_view line) { log_.write(net::LogLevel::info, "smtp", line); };
    options->event = [this](const core::MailEvent& e) { log_.event(e); };
    options->on_queued = [this](const std::string& id) { worker_->notify(id); };
    if (metrics_)
        options->on_outcome = [this](queue::RecipientState state, std::int64_t arrival, std::int64_t now) {
            metrics_->remote_outcome(state, arrival, now);
        };
    return options;
}

void ServerProcess::start_group_commit() {
    // Wake only the deliverer a message needs: each wake-up is a thread hand-off.
    commit_options_.on_committed = [this](const std::string& id, const std::vector<core::Path>& to) {
        bool any_local = false;
        bool any_remote = false;
        for (const core::Path& p : to) (local_->is_local(p) ? any_local : any_remote) = true;
        if (any_local) worker_->notify(id);
        if (any_remote && outbound_) outbound_runtime_.post([this, id] { outbound_->notify(id); });
    };
    wake_for_notice_.set(commit_options_.on_committed);
    if (metrics_) commit_options_.on_batch = [this](std::size_t n) { metrics_->commit_batch(n); };
    committer_.emplace(*spool_, commit_options_);
}

bool ServerProcess::load_checks() {
    // DMARC needs organizational domains from the Public Suffix List (Debian's publicsuffix).
    describe_checks(config_, psl_, log_);
    dmarc_recorder_.emplace(state_.string());
    return true;
}

void ServerProcess::start_services() {
    const auto& lim = config_.limits;
    // Bounded in total: message memory in flight, and the spool's free disk (docs/security.md).
    resources_.emplace(net::ServerResources::Options{
        lim.message_memory_octets, (state_ / "queue").string(), lim.spool_min_free_octets,
        [this](std::string_view t) { log_(net::LogLevel::warn, t); }});
    AppServices::Options service_options;
    service_options.auth_failures_per_ip_per_minute = lim.auth_failures_per_ip_per_minute;
    service_options.rng = &signing_rng_;
    service_options.dmarc_recorder = &*dmarc_recorder_;
    service_options.verify_threads = lim.verify_threads;
    service_options.verify_cpu_budget = std::chrono::seconds(lim.verify_cpu_seconds);
    service_options.storage_low = [this] { return resources_->storage_low(); };
    service_options.log = log_.sink("smtpd");
    service_options.event = [this](const core::MailEvent& e) { log_.event(e); };
    if (metrics_) {
        service_options.on_answer = [this](std::size_t listener, std::string_view stage, const smtp::Event& e) {
            metrics_->answered(listener, stage, e);
        };
        service_options.count_verdict = [this](std::string_view check, std::string_view result) {
            metrics_->verdict(check, result);
        };
    }
    services_.emplace(service_options, service_settings(config_, directory_, std::move(signing_keys_)), *committer_,
                      clock_, random_, resolver_.get());
    // Messages past the threshold are received into unnamed files beside the spool (same file
    // system, so the free-disk reserve covers them) instead of memory.
    if (lim.message_spill_octets > 0) spill_.emplace((state_ / "incoming").string());

    options_ = server_options(config_);
    for (std::size_t i = 0; i < listeners_.size(); ++i) options_.listeners[i].fd = listeners_[i].fd;
    listeners_.clear();  // the server owns them now
    // Under systemd: a WATCHDOG=1 at half the interval it asks for, from the acceptors' event
    // loop (so a stuck loop stops the pings), and STOPPING=1 when a graceful stop begins.
    const auto watchdog = os::watchdog_interval();
    if (watchdog.count() > 0) {
        options_.heartbeat_interval = std::chrono::duration_cast<std::chrono::milliseconds>(watchdog / 2);
        options_.heartbeat = [] { os::notify("WATCHDOG=1"); };
    }
    options_.on_stopping = [] { os::notify("STOPPING=1"); };
    net::LiveSettings live = live_settings(config_, tls_context_, services_->current());
    options_.limits = live.limits;
    options_.session = std::move(live.session);
    options_.tls = std::move(live.tls);
    options_.snapshot = std::move(live.snapshot);
    options_.threads = config_.threads;
    options_.clock = &clock_;
    options_.log = log_.sink("smtpd");
    options_.event = [this](const core::MailEvent& e) { log_.event(e); };
    options_.log_level = log_.level();
    options_.events = metrics_ ? &*metrics_ : nullptr;
}

// What AppServices answers sessions from, for `config`.
AppServices::Settings ServerProcess::service_settings(const config::Config& config,
                                                      std::shared_ptr<const policy::Directory> directory,
                                                      std::vector<AppServices::SigningKey> keys) {
    AppServices::Settings settings;
    settings.hostname = config.hostname;
    settings.directory = std::move(directory);
    settings.spf = config.spf;
    settings.dmarc = config.dmarc;
    settings.dkim_keys = std::move(keys);
    if (config.dmarc.check && psl_.loaded()) settings.org_domain = psl_.function();
    return settings;
}

// The limits, session options and certificate of `config`, for net::Server (at start and at
// each reload); the memory and spill bounds are the ones made at start.
net::LiveSettings ServerProcess::live_settings(const config::Config& config, std::shared_ptr<tls::TlsContext> tls,
                                               std::shared_ptr<const net::ServicesSnapshot> snapshot) {
    net::LiveSettings live;
    live.limits = server_limits(config.limits);
    live.session = config::session_config(config);
    live.session.resources = &*resources_;
    if (spill_) {
        live.session.spill = &*spill_;
        live.session.spill_threshold_octets = config.limits.message_spill_octets;
    }
    live.tls = std::move(tls);
    live.snapshot = std::move(snapshot);
    return live;
}

// /metrics and /healthz (net/metrics_http.hpp), bound now so that a taken port stops the start.
bool ServerProcess::start_metrics() {
    if (!metrics_) return true;
    metrics_->collect_queue(*spool_);
    const std::string spool_dir = (state_ / "queue").string();
    metrics_->collect_free_space([spool_dir] { return net::ServerResources::available_octets(spool_dir); });
    net::MetricsHandlers handlers;
    handlers.metrics = [this] { return metrics_->expose(); };
    handlers.problems = [this] {
        std::vector<std::string> problems;
        if (!serving_.load()) problems.push_back("not serving: starting or stopping");
        if (resources_->storage_low())
            problems.push_back("spool below its free-disk reserve (limits.spool_min_free_octets = " +
                               std::to_string(config_.limits.spool_min_free_octets) + "): MAIL gets 452 4.3.1");
        return problems;
    };
    net::MetricsEndpointOptions endpoint;
    endpoint.address = config_.metrics.address;
    endpoint.port = config_.metrics.port;
    try {
        metrics_endpoint_.emplace(endpoint, std::move(handlers));
    } catch (const std::exception& e) {
        std::cerr << "pigeon: " << e.what() << "\n";
        return false;
    }
    metrics_endpoint_->start();
    say("metrics: http://" + config_.metrics.listen() + "/metrics and /healthz");
    return true;
}

bool ServerProcess::start_local_submission() {
    if (config_.sendmail.socket.empty()) return true;
    auto started = net::LocalSubmissionServer::start(
        local_submission_options(config_, *services_, [this](net::LogLevel l, std::string_view t) { log_(l, t); }));
    if (!started.ok()) {
        std::cerr << "pigeon: sendmail.socket: " << started.error().message << "\n";
        return false;
    }
    sendmail_ = std::move(started).value();
    say("local submission (pigeon sendmail) on " + config_.sendmail.socket);
    return true;
}

// Request files in <state>/control/ (app/control.hpp). Handled on the outbound loop, never in
// the handler, and on this process's one Spool: a second spool opened by the CLI could write
// into the segment this one appends to next, or delete segments this one still reads.
// SIGHUP reloads the configuration (the outcome only logged); `pigeon reload` is a control
// request, answered with the outcome.
void ServerProcess::take_control_requests() {
    // SIGUSR2 (logrotate's postrotate): the log file is opened anew (app/logger.hpp).
    control_signal_.emplace(outbound_runtime_.context(), SIGUSR1, SIGUSR2, SIGHUP);
    control_.emplace(state_.string(), *spool_, *worker_, outbound_, log_, [this](const ControlRequest& req) {
        post_reload([this, req](const ReloadOutcome& outcome) {
            if (queue::Status a = answer_control_request(state_.string(), req, outcome.ok, outcome.text); !a)
                log_(net::LogLevel::warn, "control: cannot answer reload: " + a.error().message);
        });
    });
    wait_for_signal_ = [this] {
        control_signal_->async_wait([this](const boost::system::error_code& ec, int signal) {
            if (ec) return;
            if (signal == SIGUSR2) {
                log_.reopen();
                say("log file reopened (SIGUSR2)");
            } else if (signal == SIGHUP) {
                say("reload requested (SIGHUP)");
                post_reload([](const ReloadOutcome&) {});
            } else {
                control_->take();
            }
            wait_for_signal_();
        });
    };
    outbound_runtime_.call([this] {
        control_->take();
        wait_for_signal_();
    });
    if (auto s = write_pid_file(state_.string()); !s)
        log_(net::LogLevel::warn, "cannot write the pid file (queue flush will not reach this server): " + s.error().message);
    if (outbound_) outbound_runtime_.call([this] { outbound_->start(); });
}

int ServerProcess::serve() {
    const auto& lim = config_.limits;
    try {
        std::unique_lock server_lock(server_mutex_);
        net::Server server(options_, *services_);
        server_ = &server;
        server_lock.unlock();
        auto ports = server.bound_ports();
        for (std::size_t i = 0; i < config_.listeners.size(); ++i) {
            auto l = config_.listeners[i];
            l.port = ports[i];
            say("listening on " + describe(l));
        }
        say("bounds: " + std::to_string(lim.message_memory_octets >> 20) +
            " MiB of messages in flight; MAIL refused below " +
            std::to_string(lim.spool_min_free_octets >> 20) + " MiB free in the spool; DKIM " +
            std::to_string(lim.verify_cpu_seconds) + " s of CPU per message" +
            (spill_ ? "; messages over " + std::to_string(lim.message_spill_octets >> 10) +
                          " KiB received into " + spill_->path()
                    : std::string("; every message received in memory")));
        say("ready; stop with Ctrl-C or SIGTERM (in-flight transactions get " +
            std::to_string(lim.shutdown_grace_seconds) + " s to finish)");
        os::notify("READY=1\nSTATUS=serving");
        log_.start_buffering();
        serving_ = true;
        server.run();
        serving_ = false;
        reload_pool_.join();  // a reload under way finishes; none starts (server_ is going)
        server_lock.lock();
        server_ = nullptr;
        server_lock.unlock();
        log_.stop_buffering();
        if (sendmail_) sendmail_->stop();  // its answers in flight come from the committer
        // Answer what is still in flight while the io_contexts the answers are posted to
        // still exist.
        committer_->stop();
        services_->stop();
        stop_outbound(outbound_runtime_, outbound_, *control_signal_);
        resolver_.reset();  // answers (with timeout) any lookup still out, while it can be posted
    } catch (const std::exception& e) {
        log_.stop_buffering();
        std::cerr << "pigeon: " << e.what() << "\n";
        stop_after_failure();
        return 1;
    }
    committer_->stop();
    worker_->stop();
    remove_pid_file(state_.string());
    say("stopped");
    return 0;
}

void ServerProcess::post_reload(std::function<void(const ReloadOutcome&)> then) {
    boost::asio::post(reload_pool_, [this, then = std::move(then)] {
        os::notify("RELOADING=1");
        const ReloadOutcome outcome = reload();
        os::notify("READY=1\nSTATUS=serving");
        then(outcome);
    });
}

ServerProcess::ReloadOutcome ServerProcess::reload() {
    const std::string source = config_path_.empty() ? std::string("the embedded default") : config_path_;
    auto fail = [&](const std::string& why) {
        log_(net::LogLevel::error, "reload: " + why + " (nothing changed: the running configuration stays)");
        return ReloadOutcome{false, why};
    };
    auto next = config_path_.empty() ? core::Result<config::Config>(config::default_config(running_.hostname))
                                     : config::load_config(config_path_);
    if (!next) return fail(next.error().message);
    const config::ReloadPlan plan = config::plan_reload(running_, next.value());
    const config::Config& config = plan.effective;
    say("reload: read " + source);
    try {
        // Everything is loaded first; only then is anything swapped in.
        std::shared_ptr<tls::TlsContext> tls = tls_context_;
        if (!config.tls.self_signed() || !running_.tls.self_signed()) {
            auto loaded = app::load_tls(config, state_, log_);
            if (!loaded) return fail(loaded.error().message);
            tls = std::move(loaded).value();
        }
        auto keys = app::load_signing_keys(config.dkim_keys, signing_rng_, log_);
        if (!keys) return fail(keys.error().message);
        const std::size_t key_count = keys->size();
        auto directory = std::make_shared<const policy::Directory>(config.local_domains, users_of(config),
                                                                   config.delivery.discard);
        std::optional<delivery::OutboundOptions> outbound;
        if (outbound_) {
            std::string error;
            outbound = engine_options(config, directory, error);
            if (!outbound) return fail(error);
        }
        auto snapshot = services_->prepare(service_settings(config, directory, std::move(keys).value()));
        {
            std::lock_guard lock(server_mutex_);
            if (server_ == nullptr) return fail("the server is not serving (starting or stopping)");
            server_->reconfigure(live_settings(config, tls, snapshot));  // throws before changing anything
        }
        services_->use(snapshot);
        {
            std::lock_guard lock(directory_mutex_);
            directory_ = directory;
        }
        if (outbound)
            outbound_runtime_.post([this, o = std::make_shared<delivery::OutboundOptions>(std::move(*outbound))] {
                outbound_->reconfigure(std::move(*o));
            });
        tls_context_ = tls;
        describe_checks(config, psl_, log_);
        if (outbound_) say(describe_outbound(config.outbound));
        for (const std::string& w : config::credential_warnings(config)) log_(net::LogLevel::warn, "config: " + w);
        running_ = config;
        std::string text = "reloaded " + source + ": " + std::to_string(config.users.size()) + " user(s), " +
                           std::to_string(config.local_domains.size()) + " local domain(s), " +
                           std::to_string(key_count) + " DKIM key(s); new connections use it";
        if (!plan.needs_restart.empty()) {
            const std::string keys_changed = comma_list(plan.needs_restart);
            log_(net::LogLevel::warn, "reload: changed, but only a restart applies it (the running value stays): " +
                                          keys_changed);
            text += "; needs a restart to apply: " + keys_changed;
        }
        say("reload: done: " + text);
        return ReloadOutcome{true, text};
    } catch (const std::exception& e) {
        return fail(e.what());
    }
}

void ServerProcess::stop_after_failure() {
    if (sendmail_) sendmail_->stop();
    committer_->stop();
    stop_outbound(outbound_runtime_, outbound_, *control_signal_);
    worker_->stop();
    remove_pid_file(state_.string());
}

}  // namespace

// The table of contents of a running server: each step in start order.
int run_serve(const config::Config& config, const std::string& config_path) {
    ServerProcess server(config, config_path);
    // As root: what needs root (ports, keys), then the drop; everything after runs as the
    // service user, so every file it creates is that user's.
    if (!server.choose_account() || !server.create_state_dir() || !server.open_listeners() ||
        !server.load_configured_tls() || !server.load_signing_keys() || !server.drop_privileges())
        return 1;
    if (!server.claim_state_dir() || !server.load_generated_tls()) return 1;
    if (!server.load_users() || !server.recover_spool() || !server.open_dns()) return 1;
    server.start_local_delivery();
    if (!server.start_outbound()) return 1;
    server.start_group_commit();
    if (!server.load_checks()) return 1;
    server.start_services();
    if (!server.start_local_submission()) return 1;
    if (!server.start_metrics()) return 1;
    server.take_control_requests();
    return server.serve();
}

}  // namespace pigeon::app
