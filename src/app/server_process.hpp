// pigeon/app/server_process.hpp: the running server of `pigeon serve` (app/commands.hpp's
// run_serve), one ServerProcess whose steps build it in order. Private to app/serve*.cpp:
//   serve.cpp            run_serve (the steps in start order), serving, stopping
//   serve_privilege.cpp  the steps as root: account, state directory, listeners, keys, the drop
//   serve_start.cpp      the steps after the drop: users, spool, DNS, delivery, services, metrics,
//                        control requests; the settings builders a reload uses too
//   serve_reload.cpp     live reload (SIGHUP, `pigeon reload`)
#pragma once
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <botan/auto_rng.h>
#include <botan/pk_keys.h>

#include "app/commands.hpp"
#include "app/control.hpp"
#include "app/control_requests.hpp"
#include "app/dmarc_report.hpp"
#include "app/local_submit.hpp"
#include "app/logger.hpp"
#include "app/metrics.hpp"
#include "app/outbound_setup.hpp"
#include "app/serve_setup.hpp"
#include "app/services.hpp"
#include "auth/dkim/dkim.hpp"
#include "auth/dmarc/psl_org_domain.hpp"
#include "core/assert.hpp"
#include "delivery/lmtp.hpp"
#include "delivery/local_delivery.hpp"
#include "delivery/outbound.hpp"
#include "dns/unbound_resolver.hpp"
#include "dns/zone_resolver.hpp"
#include "net/listen.hpp"
#include "net/metrics_http.hpp"
#include "net/outbound_runtime.hpp"
#include "net/resources.hpp"
#include "net/server.hpp"
#include "net/spill.hpp"
#include "os/file_io.hpp"
#include "os/group_commit.hpp"
#include "os/posix_storage.hpp"
#include "os/privilege.hpp"
#include "os/random.hpp"
#include "os/system_clock.hpp"
#include "os/systemd.hpp"
#include "policy/directory.hpp"
#include "queue/spool.hpp"
#include "tls/credentials.hpp"
#include "tls/password.hpp"
#include "tls/pkix.hpp"

namespace pigeon::app {
namespace fs = std::filesystem;

LogOptions log_options(const config::Config& config);  // [log] and log_level, for the Logger
// "a, b, c" for the log.
std::string comma_list(const std::vector<std::string>& items);
void stop_outbound(net::AsioRuntime& runtime, std::unique_ptr<delivery::OutboundEngine>& engine,
                   boost::asio::signal_set& control_signal);

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
    bool open_log();             // [log] target = "file", as the service user
    bool claim_state_dir();      // check it is ours, owner-only, and lock it
    bool load_generated_tls();   // without [tls]: the certificate generated on first start
    bool load_users();           // the directory, with the embedded default's demo user
    bool recover_spool();        // before anything is accepted
    bool open_dns();             // a zone file, or libunbound with DNSSEC validation
    void start_local_delivery(); // local users' Maildirs (or LMTP), from their own thread
    void start_lmtp(delivery::LocalDeliveryWorker::Options& worker_options);  // [delivery] lmtp
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
    std::optional<delivery::LmtpPool> lmtp_pool_;  // [delivery] lmtp; used by worker_'s thread only
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

}  // namespace pigeon::app
