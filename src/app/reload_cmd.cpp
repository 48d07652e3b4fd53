// pigeon reload: the control request "reload" to the running server, and its answer.
#include <sys/stat.h>

#include <ostream>

#include "app/commands.hpp"
#include "app/control.hpp"

namespace pigeon::app {

int run_reload(const config::Config& config, std::ostream& out, std::ostream& err, std::chrono::milliseconds wait) {
    struct stat st {};
    if (::stat(config.state_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        err << "pigeon reload: no server runs on " << config.state_dir << " (no such state directory)\n";
        return 1;
    }
    const StateLock lock = try_lock_state_dir(config.state_dir);
    if (lock.outcome == StateLock::Outcome::held) {
        err << "pigeon reload: no server is running on " << config.state_dir << "; nothing to reload\n";
        return 1;
    }
    if (lock.outcome == StateLock::Outcome::failed) {
        err << "pigeon reload: " << lock.error << "\n";
        return 1;
    }
    auto answer = ask_server(config.state_dir, ControlRequest{ControlRequest::Kind::reload, {}, {}}, wait);
    if (!answer.ok()) {
        err << "pigeon reload: cannot send the request to the server: " << answer.error().message << "\n";
        return 1;
    }
    switch (answer->outcome) {
        case ControlAnswer::Outcome::done:
            out << answer->text << "\n";
            return 0;
        case ControlAnswer::Outcome::refused:
            err << "pigeon reload: the server kept its running configuration: " << answer->text << "\n";
            return 1;
        case ControlAnswer::Outcome::no_answer:
            err << "pigeon reload: the server on " << config.state_dir << " did not answer within "
                << (wait.count() + 999) / 1000 << " s; nothing was reloaded\n";
            return 1;
        case ControlAnswer::Outcome::unknown:
            err << "pigeon reload: the server took the request but did not answer in time; see its log\n";
            return 1;
    }
    return 1;
}

}  // namespace pigeon::app
