// pigeon/net/lmtp_socket.hpp: the socket side of LMTP delivery (delivery/lmtp.hpp): a
// delivery::LmtpConnector over Unix and TCP sockets, with a non-blocking connect and
// poll(2)-bounded reads and writes. The LMTP client itself never touches a socket or the clock
// except through this connector and its injected LmtpOptions::now.
#pragma once
#include "delivery/lmtp.hpp"

namespace pigeon::net {

delivery::LmtpConnector lmtp_socket_connector();

}  // namespace pigeon::net
