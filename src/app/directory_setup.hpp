// pigeon/app/directory_setup.hpp: the [directory] backend for `pigeon serve`, opened at start
// and at each live reload (a reload opens a new one: a passwd-file is read again, SQL
// connections are made anew, the cache starts empty), and local delivery's answer for a
// recipient of a backend.
//
// Contract:
//   open_user_directory  null for "toml"; otherwise the backend behind its pool and cache
//                        (directory/runtime/backends.hpp), with a line saying what it is and
//                        a warning per {PLAIN} password; an Error naming the file or key.
//   backend_user         local delivery's question to the Directory's backend for a local
//                        recipient: fills `user` with the user who receives (then nullopt:
//                        the caller routes it to its Maildir or LMTP as for [[users]]), or
//                        returns the target for a discard address, an unknown one (a failure
//                        notice, 5.1.1), or a deferral while the backend is unavailable. Blocks
//                        up to the lookup timeout: for local delivery's worker thread only.
#pragma once
#include <memory>
#include <optional>

#include "app/logger.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "delivery/local_delivery.hpp"
#include "policy/directory.hpp"

namespace pigeon::app {

core::Result<std::shared_ptr<policy::UserDirectory>> open_user_directory(const config::Config& config,
                                                                         const core::Clock& clock, Logger& log);

std::optional<delivery::LocalTarget> backend_user(const policy::Directory& directory, const core::Path& recipient,
                                                  config::User& user);

}  // namespace pigeon::app
