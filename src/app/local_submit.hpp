// pigeon/app/local_submit.hpp: what the server does with a local submission (`pigeon sendmail`
// through net/local_submission.hpp): who the caller is, and the submission path it takes.
//
// Contract:
//   local_caller       the calling uid as a policy::LocalCaller: its login (the passwd entry;
//                      none: nullopt), the address [sendmail.addresses] maps the login to, or
//                      <login>@([sendmail] domain, or the first local domain); the aliases of the
//                      [[users]] entry with that address, if any; trusted when the login is in
//                      [sendmail] trusted_users.
//   with_from          the message with "From: name <address>" (or "From: address") added on
//                      top when its header has no From: field; unchanged otherwise. The name is
//                      written as a quoted-string when it holds specials (RFC 5322 3.2.3).
//   local_submission_options  the socket's options (path and bounds from the configuration;
//                      the request timeout is limits.data_timeout_seconds) with `submit` running
//                      AppServices::submit_local for the caller (found in the current snapshot's
//                      directory, so a reload's users apply); an unknown uid gets 550 5.7.1.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "app/services.hpp"
#include "config/config.hpp"
#include "net/local_submission.hpp"
#include "policy/directory.hpp"

namespace pigeon::app {

std::optional<policy::LocalCaller> local_caller(const config::Config& config, const policy::Directory& directory,
                                                std::uint32_t uid);
// The same from a login name already known (tests).
policy::LocalCaller local_caller_for_login(const config::Config& config, const policy::Directory& directory,
                                           const std::string& login);

std::string with_from(std::string message, std::string_view name, std::string_view address);

net::LocalSubmissionServer::Options local_submission_options(const config::Config& config, AppServices& services,
                                                             std::function<void(net::LogLevel, std::string_view)> log);

}  // namespace pigeon::app
