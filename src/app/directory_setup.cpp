#include "app/directory_setup.hpp"

#include "core/ascii.hpp"
#include "directory/runtime/backends.hpp"

namespace pigeon::app {

core::Result<std::shared_ptr<policy::UserDirectory>> open_user_directory(const config::Config& config,
                                                                         const core::Clock& clock, Logger& log) {
    const config::DirectorySettings& d = config.directory;
    std::vector<std::string> warnings;
    auto opened = directory::open_directory(d, clock, warnings);
    if (!opened) return opened.error();
    for (const std::string& w : warnings) log(net::LogLevel::warn, "directory: " + w);
    using B = config::DirectorySettings::Backend;
    if (d.backend != B::toml) {
        const std::string what = d.backend == B::passwd_file ? "passwd-file " + d.path
                                 : d.backend == B::sqlite    ? "SQLite " + d.path
                                                             : std::string("PostgreSQL");
        log(net::LogLevel::info, "directory: users from " + what + " (cache " + std::to_string(d.cache_seconds) +
                                     " s, timeout " + std::to_string(d.timeout_ms) + " ms, at most " +
                                     std::to_string(d.max_lookups) + " lookups in flight)");
    }
    return opened;
}

std::optional<delivery::LocalTarget> backend_user(const policy::Directory& directory, const core::Path& recipient,
                                                  config::User& user) {
    if (directory.discards(recipient)) return delivery::LocalTarget::discard();
    // <Postmaster> is postmaster@ the first local domain, which the backend must know.
    const std::string address = recipient.kind == core::Path::Kind::mailbox
                                    ? core::ascii_lower(recipient.mailbox.to_string())
                                    : "postmaster@" + (directory.domains().empty() ? std::string()
                                                                                   : directory.domains().front());
    const auto answer = policy::find_recipient_blocking(*directory.backend(), directory.lookup_keys(address));
    switch (answer.status) {
    case policy::Found::yes: user.address = answer.value; return std::nullopt;
    case policy::Found::no: return delivery::LocalTarget::unknown("550 5.1.1 user unknown");
    case policy::Found::unavailable: break;
    }
    return delivery::LocalTarget::defer("user directory unavailable: " + answer.reason);
}

}  // namespace pigeon::app
