// pigeon serve, the steps as root (app/server_process.hpp): the service account, the state
// directory, the listeners, the TLS and DKIM keys, the privilege drop, then the log file as the
// service user.
#include <sys/file.h>
#include <unistd.h>

#include <iostream>

#include "app/server_process.hpp"

namespace pigeon::app {

bool ServerProcess::choose_account() {
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

// [log] target = "file": opened after the drop, so the file is the service user's and the
// SIGUSR2 reopen (as that user) works; the lines so far were held and go first.
bool ServerProcess::open_log() {
    if (log_.open()) return true;
    std::cerr << "pigeon: log.file: " << log_.open_error()
              << (account_ ? " (the directory must let user " + account_->user + " create the file)" : std::string())
              << "\n";
    return false;
}

}  // namespace pigeon::app
