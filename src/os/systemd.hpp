// pigeon/os/systemd.hpp: what a service manager gives and wants (sd_listen_fds(3),
// sd_notify(3), sd_watchdog_enabled(3)), through libsystemd. Without a service manager every
// function here is a harmless no-op: nothing passed, nothing to notify.
//
// Contract:
//   - take_passed_sockets() returns the file descriptors passed with LISTEN_FDS when
//     LISTEN_PID names this process (3, 4, ... in order), each made close-on-exec, and unsets
//     the variables so no child inherits them. Each must be a listening TCP socket
//     (AF_INET/AF_INET6, SOCK_STREAM): anything else is an error naming the descriptor and
//     what it is. Called at most once; a second call returns nothing.
//   - notify(state) sends the state ("READY=1", "RELOADING=1", "STOPPING=1", "WATCHDOG=1",
//     "STATUS=...") to NOTIFY_SOCKET when set; returns whether it was sent.
//   - watchdog_interval() is the interval systemd expects a WATCHDOG=1 within (WATCHDOG_USEC
//     for this process), zero when no watchdog is asked for.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace pigeon::os {

enum class SystemdCode : std::uint8_t { failed };
using SystemdError = core::Error<SystemdCode>;

core::Result<std::vector<int>, SystemdError> take_passed_sockets();
bool notify(std::string_view state);
std::chrono::microseconds watchdog_interval();

}  // namespace pigeon::os
