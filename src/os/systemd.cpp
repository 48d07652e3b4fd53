// pigeon/os/systemd.cpp: see systemd.hpp.
#include "os/systemd.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include <cstring>

namespace pigeon::os {

core::Result<std::vector<int>, SystemdError> take_passed_sockets() {
    const int n = ::sd_listen_fds(1);  // 1: unset LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES
    if (n < 0) return SystemdError{std::string("LISTEN_FDS: ") + std::strerror(-n), {}};
    std::vector<int> fds;
    for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; ++fd) {
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        const bool tcp_listener = ::sd_is_socket(fd, AF_INET, SOCK_STREAM, 1) > 0 ||
                                  ::sd_is_socket(fd, AF_INET6, SOCK_STREAM, 1) > 0;
        if (!tcp_listener)
            return SystemdError{"the service manager passed file descriptor " + std::to_string(fd) +
                                    ", which is not a listening TCP socket (ListenStream= with an "
                                    "address and port is what Pigeon can serve)",
                                {}};
        fds.push_back(fd);
    }
    return fds;
}

bool notify(std::string_view state) {
    const std::string text(state);
    return ::sd_notify(0, text.c_str()) > 0;
}

std::chrono::microseconds watchdog_interval() {
    std::uint64_t usec = 0;
    if (::sd_watchdog_enabled(0, &usec) <= 0) return std::chrono::microseconds(0);
    return std::chrono::microseconds(usec);
}

}  // namespace pigeon::os
