#include "directory/runtime/backends.hpp"
#include "directory/runtime/service.hpp"

namespace pigeon::directory {

core::Result<std::shared_ptr<policy::UserDirectory>> open_directory(const config::DirectorySettings& s,
                                                                    const core::Clock& clock,
                                                                    std::vector<std::string>& warnings) {
    using B = config::DirectorySettings::Backend;
    std::unique_ptr<Backend> backend;
    switch (s.backend) {
    case B::toml: return std::shared_ptr<policy::UserDirectory>();
    case B::passwd_file: {
        auto b = open_passwd_file(s.path, warnings);
        if (!b) return b.error();
        backend = std::move(b).value();
        break;
    }
    case B::sqlite: {
        auto b = open_sqlite(s);
        if (!b) return b.error();
        backend = std::move(b).value();
        break;
    }
    case B::postgresql: backend = open_postgresql(s); break;
    }
    ServiceOptions o;
    o.threads = s.threads;
    o.max_in_flight = s.max_lookups;
    o.timeout = std::chrono::milliseconds(s.timeout_ms);
    o.cache_seconds = s.cache_seconds;
    o.cache_entries = s.cache_entries;
    return std::shared_ptr<policy::UserDirectory>(std::make_shared<Service>(std::move(backend), o, clock));
}

}  // namespace pigeon::directory
