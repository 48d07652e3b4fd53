// pigeon serve: builds the running server from a Config: state directory and its lock, TLS
// certificate (generated on first start when none is configured), the demo user of the
// embedded default, the spool (recovered), local delivery, and the listeners. Reloads the
// configuration live on SIGHUP or `pigeon reload` (ServerProcess::reload, app/serve_reload.cpp).
// The parts and the steps: app/server_process.hpp.
#include <iostream>

#include "app/server_process.hpp"

namespace pigeon::app {

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

void ServerProcess::stop_after_failure() {
    if (sendmail_) sendmail_->stop();
    committer_->stop();
    stop_outbound(outbound_runtime_, outbound_, *control_signal_);
    worker_->stop();
    remove_pid_file(state_.string());
}

// The table of contents of a running server: each step in start order.
int run_serve(const config::Config& config, const std::string& config_path) {
    ServerProcess server(config, config_path);
    // As root: what needs root (ports, keys), then the drop; everything after runs as the
    // service user, so every file it creates is that user's.
    if (!server.choose_account() || !server.create_state_dir() || !server.open_listeners() ||
        !server.load_configured_tls() || !server.load_signing_keys() || !server.drop_privileges() ||
        !server.open_log())
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
