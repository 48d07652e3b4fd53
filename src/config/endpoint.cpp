// pigeon/config/endpoint.cpp: "unix:/path" or "address:port".
#include "config/endpoint.hpp"

#include <algorithm>

#include "core/domain.hpp"

namespace pigeon::config {
namespace {

constexpr std::size_t max_unix_path = 107;  // sockaddr_un's sun_path less its NUL

core::Error<EndpointProblem> problem(EndpointProblem p) { return core::Error<EndpointProblem>{{}, p}; }

}  // namespace

std::string Endpoint::text() const {
    if (unix_socket) return "unix:" + path;
    const bool v6 = address.find(':') != std::string::npos;
    return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

core::Result<Endpoint, core::Error<EndpointProblem>> parse_endpoint(std::string_view text) {
    Endpoint e;
    if (text.substr(0, 5) == "unix:") {
        e.unix_socket = true;
        e.path = std::string(text.substr(5));
        if (e.path.empty() || e.path.front() != '/') return problem(EndpointProblem::not_absolute);
        if (e.path.size() > max_unix_path) return problem(EndpointProblem::too_long);
        if (e.path.find('\0') != std::string::npos) return problem(EndpointProblem::holds_nul);
        return e;
    }
    const auto colon = text.rfind(':');
    std::string host(colon == std::string_view::npos ? std::string_view() : text.substr(0, colon));
    const std::string_view port = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
    const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
    if (bracketed) host = host.substr(1, host.size() - 2);
    const bool ip_ok = bracketed ? core::is_ipv6_address(host) : core::is_ipv4_address(host);
    const bool port_ok = !port.empty() && port.size() <= 5 &&
                         std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    const unsigned long value = port_ok ? std::stoul(std::string(port)) : 0;
    if (!ip_ok || value < 1 || value > 65535) return problem(EndpointProblem::not_address);
    e.address = host;
    e.port = static_cast<std::uint16_t>(value);
    return e;
}

core::Result<LmtpEndpoint> parse_lmtp_endpoint(std::string_view text) {
    auto e = parse_endpoint(text);
    if (e) return std::move(e).value();
    const std::string shown = "\"" + std::string(text) + "\"";
    switch (e.code()) {
        case EndpointProblem::not_absolute:
            return core::ParseError{shown + ": the socket must be an absolute path (unix:/run/dovecot/lmtp)"};
        case EndpointProblem::too_long:
            return core::ParseError{shown + ": the socket path is longer than a Unix socket path may be (107)"};
        case EndpointProblem::holds_nul: return core::ParseError{shown + ": the socket path holds NUL"};
        case EndpointProblem::not_address: break;
    }
    return core::ParseError{shown + " is neither unix:/path nor address:port with an IP address (\"127.0.0.1:24\", "
                                    "\"[::1]:24\"; names are not resolved)"};
}

}  // namespace pigeon::config
