// pigeon serve: builds the running server from a Config: state directory and its lock, TLS
// certificate (generated on first start when none is configured), the demo user of the
// embedded default, the spool (recovered), local delivery, and the listeners.
#include <fcntl.h>
#include <cstdlib>
#include <sys/file.h>
#include <unistd.h>

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
#include "app/logger.hpp"
#include "app/outbound_setup.hpp"
#include "policy/directory.hpp"
#include "app/services.hpp"
#include <botan/auto_rng.h>
#include <botan/pk_keys.h>

#include "auth/dkim/dkim.hpp"
#include "auth/dmarc/psl_org_domain.hpp"
#include "delivery/local_delivery.hpp"
#include "dns/unbound_resolver.hpp"
#include "dns/zone_resolver.hpp"
#include "net/outbound_runtime.hpp"
#include "net/resources.hpp"
#include "net/spill.hpp"
#include "net/server.hpp"
#include "delivery/outbound.hpp"
#include "os/file_io.hpp"
#include "os/group_commit.hpp"
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

// The embedded default's demo user: created once, its password printed once; afterwards only
// its hash is kept, in <state>/demo-user (address on the first line, hash on the second).
bool load_or_create_demo_user(const config::Config& config, config::User& user, Logger& log) {
    const auto path = fs::path(config.state_dir) / "demo-user";
    user.address = "demo@" + (config.local_domains.empty() ? std::string("localhost")
                                                          : config.local_domains.front());
    std::ifstream in(path);
    std::string address, hash;
    if (in && std::getline(in, address) && std::getline(in, hash) && !hash.empty()) {
        user.address = address;
        user.password_hash = hash;
        log(net::LogLevel::info, "demo user " + user.address +
                                     " (its password was printed at first start; delete " +
                                     path.string() + " to make a new one)");
        return true;
    }
    const std::string password = tls::generate_password();
    user.password_hash = tls::hash_password(password);
    const auto tmp = path.string() + ".tmp";
    {
        int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) return false;
        const std::string text = user.address + "\n" + user.password_hash + "\n";
        bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
        ::close(fd);
        if (!ok) return false;
    }
    fs::rename(tmp, path);
    std::cout << "\n  Demo user created: " << user.address << "\n  Password:          " << password
              << "\n  (shown only this once; only its hash is stored, in " << path.string()
              << ")\n\n"
              << std::flush;
    return true;
}

std::string describe(const config::Listener& l) {
    std::string s = l.address + ":" + std::to_string(l.port) + " ";
    if (l.role == smtp::Role::inbound) {
        s += "inbound (MX)";
    } else {
        s += "submission, AUTH required";
    }
    switch (l.tls) {
        case core::TlsMode::none: s += ", no TLS"; break;
        case core::TlsMode::starttls: s += ", STARTTLS offered"; break;
        case core::TlsMode::implicit: s += ", implicit TLS"; break;
    }
    return s;
}

void stop_outbound(net::AsioRuntime& runtime, std::unique_ptr<delivery::OutboundEngine>& engine,
                   boost::asio::signal_set& control_signal) {
    runtime.call([&] { control_signal.cancel(); });
    if (engine) runtime.call([&] { engine->stop([] {}); });
    runtime.stop();
    engine.reset();
}

// The configured certificate, or the self-signed one in <state>/tls/ (generated on first
// start); null after printing why neither can be loaded.
std::shared_ptr<tls::TlsContext> load_tls(const config::Config& config, const fs::path& state, Logger& log) {
    auto say = [&](std::string_view text) { log(net::LogLevel::info, text); };
    try {
        std::string cert = config.tls.cert_file, key = config.tls.key_file;
        if (config.tls.self_signed()) {
            fs::create_directories(state / "tls");
            cert = (state / "tls" / "cert.pem").string();
            key = (state / "tls" / "key.pem").string();
            if (!fs::exists(cert) || !fs::exists(key)) {
                tls::generate_self_signed(config.hostname, cert, key);
                say("TLS: generated a self-signed certificate for " + config.hostname + " in " +
                    (state / "tls").string());
            } else {
                say("TLS: using the self-signed certificate in " + (state / "tls").string());
            }
        } else {
            say("TLS: certificate " + cert + ", key " + key);
        }
        return tls::TlsContext::from_pem_files(cert, key);
    } catch (const std::exception& e) {
        std::cerr << "pigeon: TLS: " << e.what() << "\n";
        return nullptr;
    }
}

// A zone file (tests, offline demos) or libunbound with DNSSEC validation; null after printing
// why it cannot be had.
std::unique_ptr<dns::Resolver> open_resolver(const config::DnsSettings& dns, Logger& log) {
    auto say = [&](std::string_view text) { log(net::LogLevel::info, text); };
    if (!dns.zone_file.empty()) {
        auto zone = dns::ZoneResolver::load(dns.zone_file);
        if (!zone.ok()) {
            std::cerr << "pigeon: dns.zone_file: " << zone.error().message << "\n";
            return nullptr;
        }
        say("DNS: answers from the zone file " + dns.zone_file + " only");
        return std::make_unique<dns::ZoneResolver>(std::move(zone).value());
    } else {
        dns::UnboundOptions dns_options;
        dns_options.trust_anchor_file = dns.trust_anchor_file;
        dns_options.forwarders = dns.forwarders;
        for (const auto& z : dns.stub_zones)
            dns_options.stub_zones.push_back(dns::StubZone{z.zone, z.addresses});
        dns_options.timeout = std::chrono::milliseconds(dns.timeout_seconds * 1000);
        auto unbound = dns::UnboundResolver::create(dns_options);
        if (!unbound.ok()) {
            std::cerr << "pigeon: DNS resolver: " << unbound.error().message << "\n";
            return nullptr;
        }
        say("DNS: libunbound with DNSSEC validation (" +
            (dns.forwarders.empty() ? std::string("recursing from the root")
                                           : "forwarding to " + std::to_string(dns.forwarders.size()) +
                                                 " resolver(s)") +
            "), " + std::to_string(dns.timeout_seconds) + " s per lookup");
        return std::move(unbound).value();
    }
}

// The SPF and DKIM/DMARC checks as configured, in the start-up log.
void describe_checks(const config::Config& config, const dmarc::PslOrganizationalDomain& psl, Logger& log) {
    auto say = [&](std::string_view text) { log(net::LogLevel::info, text); };
    if (config.spf.check)
        say(std::string("SPF: checked for inbound mail; fail is ") +
            (config.spf.reject_fail ? "refused (550 5.7.23)" : "delivered and recorded") +
            ", temperror is " +
            (config.spf.temperror == config::SpfTempErrorAction::defer ? "deferred (451 4.4.3)"
                                                               : "delivered and recorded"));
    else
        say("SPF: not checked (spf.check = false)");

    if (config.dmarc.check) {
        if (psl.loaded())
            say(std::string("DKIM and DMARC: checked for inbound mail; p=reject is ") +
                (config.dmarc.enforce ? "refused (550 5.7.1), p=quarantine goes to Junk"
                                      : "only recorded (dmarc.enforce = false)"));
        else
            log(net::LogLevel::warn,
                "DMARC: the Public Suffix List could not be loaded; DKIM/DMARC checks are off");
    }
}

// The DKIM signing keys of [[dkim.keys]]; false after printing which file is unreadable or
// not a key.
bool load_signing_keys(const std::vector<config::DkimKey>& dkim_keys, Botan::RandomNumberGenerator& signing_rng,
                       Logger& log, std::vector<AppServices::Options::SigningKey>& signing_keys) {
    auto say = [&](std::string_view text) { log(net::LogLevel::info, text); };
    for (const auto& k : dkim_keys) {
        std::ifstream in(k.key_file, std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        if (!in) {
            std::cerr << "pigeon: dkim key " << k.key_file << ": cannot read it\n";
            return false;
        }
        auto key = dkim::load_private_key(text.str(), signing_rng);
        if (!key.ok()) {
            std::cerr << "pigeon: dkim key " << k.key_file << ": " << key.error().message << "\n";
            return false;
        }
        const bool ed25519 = key.value()->algo_name() == "Ed25519";
        signing_keys.push_back({k.domain, k.selector, key.value(),
                                ed25519 ? dkim::Algorithm::ed25519_sha256
                                        : dkim::Algorithm::rsa_sha256});
        say("DKIM: submission signs mail from " + k.domain + " with selector " + k.selector +
            " (" + (ed25519 ? "ed25519-sha256" : "rsa-sha256") + ")");
    }
    return true;
}

// The listeners and connection limits of the configuration, for net::Server.
net::ServerOptions server_options(const config::Config& config) {
    const auto& lim = config.limits;
    net::ServerOptions options;
    for (const auto& l : config.listeners)
        options.listeners.push_back(net::ListenerOptions{
            l.address, l.port, l.role, l.tls});
    options.limits.max_connections = lim.max_connections;
    options.limits.max_connections_per_ip = lim.max_connections_per_ip;
    options.limits.command_timeout = std::chrono::seconds(lim.command_timeout_seconds);
    options.limits.data_block_timeout = std::chrono::seconds(lim.data_block_timeout_seconds);
    options.limits.data_timeout = std::chrono::seconds(lim.data_timeout_seconds);
    options.limits.shutdown_grace = std::chrono::seconds(lim.shutdown_grace_seconds);
    options.limits.ipv6_prefix_bits = lim.ipv6_prefix_bits;
    return options;
}

// `pigeon queue flush|retry|delete|hold|release`, as the running server carries them out on its
// one Spool (app/control.hpp); each message request is answered, each problem logged.
class ControlRequests {
public:
    ControlRequests(std::string state, queue::Spool& spool, delivery::LocalDeliveryWorker& worker,
                    const std::unique_ptr<delivery::OutboundEngine>& outbound, Logger& log)
        : state_(std::move(state)), spool_(spool), worker_(worker), outbound_(outbound), log_(log) {}

    // Takes every request waiting in <state>/control/ and carries it out.
    void take() {
        std::vector<std::string> problems;
        for (const ControlRequest& req : take_control_requests(state_, &problems)) {
            if (req.kind == ControlRequest::Kind::flush) {
                say("queue flush requested: every deferred recipient is due now");
                if (outbound_) outbound_->flush();
                else if (auto s = spool_.reschedule_all(0); !s) log_(net::LogLevel::warn, "queue flush: " + s.error().message);
            } else if (req.kind == ControlRequest::Kind::retry) {
                say("queue retry " + req.id + " requested");
                if (outbound_) outbound_->retry(req.id);
                else if (auto s = spool_.reschedule(req.id, 0); !s) log_(net::LogLevel::warn, "queue retry: " + s.error().message);
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
    queue::Status change_message(const ControlRequest& req) {
        switch (req.kind) {
            case ControlRequest::Kind::remove: return spool_.remove(req.id);
            case ControlRequest::Kind::hold: return spool_.hold(req.id, true);
            case ControlRequest::Kind::release: {
                queue::Status s = spool_.hold(req.id, false);
                if (s) {  // its deliverers look at it now (its retry schedule still applies)
                    worker_.notify(req.id);
                    if (outbound_) outbound_->notify(req.id);
                }
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
};

}  // namespace

int run_serve(const config::Config& config_in, bool embedded_default) {
    config::Config config = config_in;
    Logger log(config.log_level);
    // A failed PIGEON_ASSERT goes to the log at error level, among the other lines; the code then
    // keeps its safe fallback (core/assert.hpp). Dev builds still abort after logging.
    const core::ScopedAssertionHandler assertions_to_log([&log](const core::AssertionFailure& f) {
        log(net::LogLevel::error, core::describe(f));
        if (core::assertions_are_fatal()) std::abort();
    });
    auto say = [&](std::string_view text) { log(net::LogLevel::info, text); };
    std::error_code ec;
    fs::create_directories(config.state_dir, ec);
    if (ec) {
        std::cerr << "pigeon: cannot create the state directory " << config.state_dir << ": "
                  << ec.message() << "\n";
        return 1;
    }
    fs::permissions(config.state_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    std::string error;
    // Only one server may own a state directory: two would deliver the same spool twice.
    const StateLock lock = try_lock_state_dir(config.state_dir);
    if (lock.outcome != StateLock::Outcome::held) {
        std::cerr << "pigeon: "
                  << (lock.outcome == StateLock::Outcome::busy
                          ? "another pigeon is already using " + config.state_dir + " (" + lock.path +
                                " is locked)"
                          : lock.error)
                  << "\n";
        return 1;
    }
    const fs::path state = fs::absolute(config.state_dir).lexically_normal();
    say("pigeon 0.1.0 starting as " + config.hostname +
        (embedded_default ? " on the embedded default configuration" : ""));
    say("state directory: " + state.string());
    {
        std::string domains;
        for (const auto& d : config.local_domains) domains += (domains.empty() ? "" : ", ") + d;
        say("local domains (mail for these is delivered here): " + domains);
    }

    // TLS: the configured certificate, or one generated on first start.
    const std::shared_ptr<tls::TlsContext> tls_context = load_tls(config, state, log);
    if (!tls_context) return 1;

    std::vector<config::User> users = config.users;
    if (config.create_demo_user) {
        config::User demo;
        if (!load_or_create_demo_user(config, demo, log)) {
            std::cerr << "pigeon: cannot write the demo user file in " << state << "\n";
            return 1;
        }
        users.insert(users.begin(), demo);
    }
    policy::Directory directory(config.local_domains, users, config.delivery.discard);

    // The spool, recovered before anything is accepted.
    os::SystemClock clock;
    os::SystemRandom random;
    auto storage = os::PosixStorage::open((state / "queue").string());
    if (!storage.ok()) {
        std::cerr << "pigeon: spool: " << storage.error().message << "\n";
        return 1;
    }
    queue::Spool spool(**storage, clock, random);
    auto report = spool.recover();
    if (!report.ok()) {
        std::cerr << "pigeon: spool recovery failed: " << report.error().message << "\n";
        return 1;
    }
    say("spool: " + std::to_string(report->recovered) + " queued message(s) recovered, " +
        std::to_string(report->discarded) + " incomplete discarded");
    for (const auto& p : report->problems) log(net::LogLevel::warn, "spool: " + p);

    // DNS for SPF, DKIM, DMARC and MX routing: a zone file (tests, offline demos) or libunbound with DNSSEC validation.
    std::unique_ptr<dns::Resolver> resolver = open_resolver(config.dns, log);
    if (!resolver) return 1;
    // Local delivery: mail for local users goes to their Maildir; other recipients stay queued
    // for the outbound role.
    delivery::MaildirWriter writer(clock, random, config.hostname,
                                   static_cast<std::uint64_t>(::getpid()));
    // Failure notices local delivery queues wake the deliverers like any committed message;
    // the waking function is known only once the outbound engine exists (below).
    struct {
        std::mutex mutex;
        std::function<void(const std::string&, const std::vector<core::Path>&)> wake;
        void operator()(const std::string& id, const std::vector<core::Path>& to) {
            std::function<void(const std::string&, const std::vector<core::Path>&)> f;
            {
                std::lock_guard lock(mutex);
                f = wake;
            }
            if (f) f(id, to);
        }
    } wake_for_notice;
    delivery::Bounces bounces;
    bounces.clock = &clock;
    bounces.random = &random;
    bounces.on_queued = [&](const std::string& id, const std::vector<core::Path>& to) { wake_for_notice(id, to); };
    delivery::LocalDelivery local(
        spool,
        [&](const core::Path& rcpt) {
            if (rcpt.kind != core::Path::Kind::postmaster &&
                !directory.is_local_domain(rcpt.mailbox.domain().lowercase()))
                return delivery::LocalTarget::remote();
            const config::User* u = directory.recipient(rcpt);
            if (u == nullptr && directory.discards(rcpt)) return delivery::LocalTarget::discard();
            if (u == nullptr) return delivery::LocalTarget::unknown("550 5.1.1 user unknown");
            return delivery::LocalTarget::mailbox(policy::maildir_for(state, *u));
        },
        writer, config.hostname, bounces);
    delivery::LocalDeliveryWorker::Options worker_options;
    worker_options.log = [&](std::string_view line) { log(net::LogLevel::info, line); };
    delivery::LocalDeliveryWorker worker(local, worker_options);
    if (!config.delivery.discard.empty()) {
        std::string list;
        for (const auto& a : config.delivery.discard) list += (list.empty() ? "" : ", ") + a;
        say("delivery: mail to " + list + " is accepted, queued durably, then discarded ([delivery] discard)");
    }
    os::GroupCommitter::Options commit_options;
    // The outbound role: remote recipients leave through MX routing, the relayhost or a route.
    net::AsioRuntime outbound_runtime;
    std::unique_ptr<delivery::OutboundEngine> outbound;
    if (config.outbound.enabled) {
        auto options = outbound_options(config, directory, error);
        if (!options) {
            std::cerr << "pigeon: " << error << "\n";
            return 1;
        }
        options->log = [&](std::string_view line) { log(net::LogLevel::info, line); };
        options->on_queued = [&](const std::string& id) { worker.notify(id); };
        outbound = std::make_unique<delivery::OutboundEngine>(std::move(*options), spool, clock, random,
                                                              *resolver, outbound_runtime);
        say(describe_outbound(config.outbound));
        for (const std::string& w : config::credential_warnings(config)) log(net::LogLevel::warn, "config: " + w);
    } else {
        say("outbound: off (outbound.enabled = false); remote recipients stay queued");
    }

    // Wake only the deliverer a message needs: each wake-up is a thread hand-off.
    commit_options.on_committed = [&](const std::string& id, const std::vector<core::Path>& to) {
        bool any_local = false;
        bool any_remote = false;
        for (const core::Path& p : to) (local.is_local(p) ? any_local : any_remote) = true;
        if (any_local) worker.notify(id);
        if (any_remote && outbound) outbound_runtime.post([&outbound, id] { outbound->notify(id); });
    };
    {
        std::lock_guard lock(wake_for_notice.mutex);
        wake_for_notice.wake = commit_options.on_committed;
    }
    os::GroupCommitter committer(spool, commit_options);

    // DMARC needs organizational domains from the Public Suffix List (Debian's publicsuffix).
    dmarc::PslOrganizationalDomain psl;
    describe_checks(config, psl, log);

    // DKIM signing keys for submission, read once at start: a broken key stops the server
    // with the file's name rather than sending unsigned mail unnoticed.
    Botan::AutoSeeded_RNG signing_rng;
    std::vector<AppServices::Options::SigningKey> signing_keys;
    if (!load_signing_keys(config.dkim_keys, signing_rng, log, signing_keys)) return 1;

    DmarcRecorder dmarc_recorder(state.string());

    // Bounded in total: message memory in flight, and the spool's free disk (docs/security.md).
    net::ServerResources resources({config.limits.message_memory_octets, (state / "queue").string(),
                                    config.limits.spool_min_free_octets,
                                    [&](std::string_view t) { log(net::LogLevel::warn, t); }});
    AppServices::Options service_options;
    service_options.hostname = config.hostname;
    service_options.auth_failures_per_ip_per_minute = config.limits.auth_failures_per_ip_per_minute;
    service_options.spf = config.spf;
    service_options.dmarc = config.dmarc;
    service_options.dkim_keys = std::move(signing_keys);
    service_options.rng = &signing_rng;
    service_options.dmarc_recorder = &dmarc_recorder;
    service_options.verify_threads = config.limits.verify_threads;
    service_options.verify_cpu_budget = std::chrono::seconds(config.limits.verify_cpu_seconds);
    service_options.storage_low = [&resources] { return resources.storage_low(); };
    if (config.dmarc.check && psl.loaded()) service_options.org_domain = psl.function();
    service_options.log = [&](net::LogLevel l, std::string_view t) { log(l, t); };
    AppServices services(service_options, directory, committer, clock, random, resolver.get());

    const auto& lim = config.limits;
    net::ServerOptions options = server_options(config);
    options.session = config::session_config(config);
    options.session.resources = &resources;
    // Messages past the threshold are received into unnamed files beside the spool (same file
    // system, so the free-disk reserve covers them) instead of memory.
    std::optional<net::SpillDirectory> spill;
    if (lim.message_spill_octets > 0) {
        spill.emplace((state / "incoming").string());
        options.session.spill = &*spill;
        options.session.spill_threshold_octets = lim.message_spill_octets;
    }
    options.tls = tls_context;
    options.threads = config.threads;
    options.clock = &clock;
    options.log = [&](net::LogLevel l, std::string_view t) { log(l, t); };
    options.log_level = log.level();

    // `pigeon queue flush|retry|delete|hold|release`: request files in <state>/control/,
    // announced with SIGUSR1 (app/control.hpp). Handled on the outbound loop, never in the
    // handler, and on this process's one Spool: a second spool opened by the CLI could write
    // into the segment this one appends to next, or delete segments this one still reads.
    boost::asio::signal_set control_signal(outbound_runtime.context(), SIGUSR1);
    ControlRequests control(state.string(), spool, worker, outbound, log);
    const auto take_requests = [&] { control.take(); };
    std::function<void()> wait_for_signal = [&] {
        control_signal.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec) return;
            take_requests();
            wait_for_signal();
        });
    };
    outbound_runtime.call([&] {
        take_requests();
        wait_for_signal();
    });
    if (auto s = write_pid_file(state.string()); !s)
        log(net::LogLevel::warn, "cannot write the pid file (queue flush will not reach this server): " + s.error().message);
    if (outbound) outbound_runtime.call([&] { outbound->start(); });

    try {
        net::Server server(options, services);
        auto ports = server.bound_ports();
        for (std::size_t i = 0; i < config.listeners.size(); ++i) {
            auto l = config.listeners[i];
            l.port = ports[i];
            say("listening on " + describe(l));
        }
        say("bounds: " + std::to_string(lim.message_memory_octets >> 20) +
            " MiB of messages in flight; MAIL refused below " +
            std::to_string(lim.spool_min_free_octets >> 20) + " MiB free in the spool; DKIM " +
            std::to_string(lim.verify_cpu_seconds) + " s of CPU per message" +
            (spill ? "; messages over " + std::to_string(lim.message_spill_octets >> 10) +
                         " KiB received into " + spill->path()
                   : std::string("; every message received in memory")));
        say("ready; stop with Ctrl-C or SIGTERM (in-flight transactions get " +
            std::to_string(lim.shutdown_grace_seconds) + " s to finish)");
        log.start_buffering();
        server.run();
        log.stop_buffering();
        // Answer what is still in flight while the io_contexts the answers are posted to
        // still exist.
        committer.stop();
        services.stop();
        stop_outbound(outbound_runtime, outbound, control_signal);
        resolver.reset();  // answers (with timeout) any lookup still out, while it can be posted
    } catch (const std::exception& e) {
        log.stop_buffering();
        std::cerr << "pigeon: " << e.what() << "\n";
        committer.stop();
        stop_outbound(outbound_runtime, outbound, control_signal);
        worker.stop();
        remove_pid_file(state.string());
        return 1;
    }
    committer.stop();
    worker.stop();
    remove_pid_file(state.string());
    say("stopped");
    return 0;
}

}  // namespace pigeon::app
