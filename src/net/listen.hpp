// pigeon/net/listen.hpp: the listening sockets, opened before anything else so that the
// server can bind ports below 1024 as root and then drop to its service user
// (os/privilege.hpp), or take them from systemd's socket activation (os/systemd.hpp).
//
// Contract:
//   open_listeners(listeners, passed) returns one listening socket per listener, in the
//   listeners' order, and sets no listener's fd itself:
//     - a passed descriptor serves the listener whose address and port it is bound to
//       (addresses compared as addresses: "::" and "0:0::0" are one; an IPv4-mapped or a
//       dual-stack socket is not an IPv4 listener);
//     - a passed descriptor that no listener names is an error naming its address and port,
//       and so is a second one for the same listener;
//     - a listener without a passed descriptor is bound here (SO_REUSEADDR, close-on-exec):
//       an error names the address, the port and the reason (for a port below 1024 without
//       root, that the port is privileged).
//   On error every descriptor it opened is closed, and the passed ones too (the process is
//   about to stop). Each returned socket then belongs to the caller (ListenerOptions::fd).
//   describe_socket(fd) is "address:port" of a bound socket ("[::1]:25" for IPv6).
#pragma once
#include <string>
#include <vector>

#include "core/result.hpp"
#include "net/server.hpp"

namespace pigeon::net {

enum class ListenCode : std::uint8_t { failed };
using ListenError = core::Error<ListenCode>;

struct OpenedListener {
    int fd = -1;
    bool passed = false;  // from the service manager, not bound here
};

core::Result<std::vector<OpenedListener>, ListenError> open_listeners(const std::vector<ListenerOptions>& listeners,
                                                                      const std::vector<int>& passed);
std::string describe_socket(int fd);

}  // namespace pigeon::net
