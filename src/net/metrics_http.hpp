// pigeon/net/metrics_http.hpp: the HTTP endpoint for metrics and health (Boost.Beast), on its
// own io_context and thread, never on the SMTP I/O threads.
//
// Contract:
//   - GET or HEAD of /metrics: 200, the Prometheus text exposition (version 0.0.4);
//     /healthz: 200 "ok" while healthy, 503 naming each problem on its own line otherwise.
//     Another path: 404. Another method: 405 with Allow: GET, HEAD. A query string is ignored.
//   - A network input, bounded (docs/security.md): one request per connection (the response
//     says Connection: close); the request head at most max_request_octets (431 beyond,
//     a body is never read: a request announcing one gets 413), at most max_header_fields
//     fields (431), the whole request within read_timeout from the accept (a slowloris
//     client is cut off then, whatever it trickles), and at most max_connections at once (one
//     more is closed at once). Nothing a client sends is buffered past these bounds.
//   - The handlers run on the endpoint's thread: they must be thread-safe and quick.
//   - Construction binds (throws std::runtime_error naming the address and port when it
//     cannot); start() runs the thread; stop() (and the destructor) closes everything and joins.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace pigeon::net {

struct MetricsEndpointOptions {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;  // 0: the OS picks one (tests); see MetricsEndpoint::port()
    std::size_t max_request_octets = 8 * 1024;
    std::size_t max_header_fields = 64;
    std::chrono::milliseconds read_timeout{5000};
    std::size_t max_connections = 16;
};

struct MetricsHandlers {
    std::function<std::string()> metrics;               // the exposition text
    std::function<std::vector<std::string>()> problems;  // empty: healthy
};

// A response as the endpoint sends it; respond() is the endpoint's routing without sockets.
struct HttpResponse {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    bool allow_header = false;  // 405: Allow: GET, HEAD
};

// method and target as in the request line; head: the body is left out (its length is kept).
HttpResponse respond(std::string_view method, std::string_view target, const MetricsHandlers& handlers);

inline constexpr const char* exposition_content_type = "text/plain; version=0.0.4; charset=utf-8";

class MetricsEndpoint {
public:
    MetricsEndpoint(MetricsEndpointOptions options, MetricsHandlers handlers);
    ~MetricsEndpoint();
    MetricsEndpoint(const MetricsEndpoint&) = delete;
    MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

    std::uint16_t port() const;  // the bound port
    void start();
    void stop();
    std::size_t open_connections() const;  // for tests

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace pigeon::net
