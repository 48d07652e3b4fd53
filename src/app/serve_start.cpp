// pigeon serve, the steps after the drop (app/server_process.hpp): the users, the spool, DNS,
// local and outbound delivery, the group committer, the services and the sessions' options,
// local submission, metrics and control requests; and the settings builders that a reload
// uses too.
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "app/directory_setup.hpp"
#include "app/server_process.hpp"
#include "net/lmtp_socket.hpp"
#include "core/ascii.hpp"

namespace pigeon::app {

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
        auto backend = open_user_directory(config_, clock_, log_);
        if (!backend) throw std::runtime_error(backend.error().message);
        directory_ = std::make_shared<const policy::Directory>(config_.local_domains, users_of(config_),
                                                               config_.delivery.discard, backend.value(),
                                                               config_.delivery.recipient_delimiter);
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
        [this, state = state_, settings = config_.delivery](const core::Path& rcpt) {
            const auto current = directory();
            const policy::Directory& directory = *current;
            if (rcpt.kind != core::Path::Kind::postmaster &&
                !directory.is_local_domain(rcpt.mailbox.domain().lowercase()))
                return delivery::LocalTarget::remote();
            config::User found;  // the [directory] backend's user, when there is a backend
            if (directory.backend())
                if (auto t = backend_user(directory, rcpt, found)) return *t;  // discard, unknown, deferred
            const config::User* u = directory.backend() ? &found : directory.recipient(rcpt);
            if (u == nullptr && directory.discards(rcpt)) return delivery::LocalTarget::discard();
            if (u == nullptr) return delivery::LocalTarget::unknown("550 5.1.1 user unknown");
            // [delivery] lmtp: the store knows the user by the user's own address.
            if (const std::string endpoint = settings.lmtp_for(core::ascii_lower(u->address.substr(u->address.rfind('@') + 1)));
                !endpoint.empty()) {
                if (auto m = core::Mailbox::parse(u->address))
                    return delivery::LocalTarget::lmtp(endpoint, core::Path::of(std::move(m).value()));
            }
            // [delivery] maildir; the configured users were checked against it at load.
            auto dir = policy::maildir_for(state, settings.maildir, *u);
            if (!dir) return delivery::LocalTarget::unknown("550 5.1.3 " + dir.error().message);
            return delivery::LocalTarget::mailbox(std::move(dir).value());
        },
        *writer_, config_.hostname, bounces_);
    if (metrics_) local_->observe([this](const delivery::DeliveryReport& r) { metrics_->local_report(r); });
    delivery::LocalDeliveryWorker::Options worker_options;
    worker_options.log = [this](std::string_view line) { log_.write(net::LogLevel::info, "local", line); };
    worker_options.event = [this](const core::MailEvent& e) { log_.event(e); };
    if (!config_.delivery.lmtp.empty() || !config_.delivery.lmtp_domains.empty()) start_lmtp(worker_options);
    worker_.emplace(*local_, worker_options);
    if (!config_.delivery.discard.empty()) {
        say("delivery: mail to " + comma_list(config_.delivery.discard) + " is accepted, queued durably, then discarded ([delivery] discard)");
    }
}

void ServerProcess::start_lmtp(delivery::LocalDeliveryWorker::Options& worker_options) {
    // LMTP runs on the local delivery worker's thread (blocking, bounded waits), never on an
    // I/O thread; deferred recipients follow the outbound retry schedule.
    delivery::LmtpOptions options;
    options.hostname = config_.hostname;
    options.connect_timeout = std::chrono::seconds(config_.outbound.connect_timeout_seconds);
    options.reply_timeout = std::chrono::seconds(config_.outbound.command_timeout_seconds);
    options.data_timeout = std::chrono::seconds(config_.outbound.data_timeout_seconds);
    lmtp_pool_.emplace(options, net::lmtp_socket_connector());
    delivery::LmtpDelivery lmtp;
    lmtp.deliver = [this](const std::string& endpoint, smtp::ClientMessage m) {
        return lmtp_pool_->deliver(endpoint, std::move(m));
    };
    const auto& ob = config_.outbound;
    lmtp.retry.first_retry_seconds = ob.first_retry_seconds;
    lmtp.retry.max_retry_interval_seconds = ob.max_retry_interval_seconds;
    lmtp.retry.give_up_after_seconds = ob.give_up_after_seconds;
    lmtp.retry.delay_warning_after_seconds = 0;  // no delay notices for a local store
    local_->use_lmtp(std::move(lmtp));
    worker_options.on_idle = [this] { lmtp_pool_->close_idle(); };
    worker_options.log_rescans = true;  // retries of the store show in the log
    worker_options.idle_interval = options.idle_timeout;
    // Rescan as often as the first retry is due (at most once a minute, as without LMTP).
    worker_options.rescan_interval =
        std::min<std::chrono::milliseconds>(worker_options.rescan_interval, std::chrono::seconds(ob.first_retry_seconds));
    std::string where = config_.delivery.lmtp.empty() ? std::string("the Maildir") : "LMTP " + config_.delivery.lmtp;
    for (const auto& [domain, endpoint] : config_.delivery.lmtp_domains)
        where += "; " + domain + ": " + (endpoint == "maildir" ? std::string("the Maildir") : "LMTP " + endpoint);
    say("delivery: local mailboxes to " + where);
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
    if (!config_.auth.dovecot.empty())
        say("submission AUTH: Dovecot's auth service at " + config_.auth.dovecot + " ([auth] dovecot)");
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
    settings.auth = config.auth;
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

}  // namespace pigeon::app
