// pigeon serve, live reload (app/server_process.hpp): SIGHUP and `pigeon reload` read the
// configuration again; everything is loaded before anything is swapped, and a failure changes
// nothing (config/reload.hpp says which keys only a restart applies).


#include "app/directory_setup.hpp"
#include "app/server_process.hpp"

namespace pigeon::app {

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
        auto backend = open_user_directory(config, clock_, log_);  // a passwd-file is read again
        if (!backend) return fail(backend.error().message);
        auto directory = std::make_shared<const policy::Directory>(config.local_domains, users_of(config),
                                                                   config.delivery.discard, backend.value(),
                                                                   config.delivery.recipient_delimiter);
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
        if (!(config.auth == running_.auth))
            say(config.auth.dovecot.empty() ? std::string("submission AUTH: the [[users]] password hashes")
                                            : "submission AUTH: Dovecot's auth service at " + config.auth.dovecot);
        if (outbound_) say(describe_outbound(config.outbound));
        for (const std::string& w : config::credential_warnings(config)) log_(net::LogLevel::warn, "config: " + w);
        running_ = config;
        const std::string users = backend.value() ? std::string("users from [directory]")
                                                  : std::to_string(config.users.size()) + " user(s)";
        std::string text = "reloaded " + source + ": " + users + ", " +
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

}  // namespace pigeon::app
