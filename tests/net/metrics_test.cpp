// net::metrics (the registry and its text exposition) and net::MetricsEndpoint (routing and the
// bounds of the HTTP input), the endpoint on a loopback port.
#include "net/metrics.hpp"
#include "net/metrics_http.hpp"

#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace metrics = pigeon::net::metrics;
using pigeon::net::MetricsEndpoint;
using pigeon::net::MetricsEndpointOptions;
using pigeon::net::MetricsHandlers;

namespace {

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics_registry)

BOOST_AUTO_TEST_CASE(counters_by_label_with_one_help_and_type_per_family) {
    metrics::Registry r;
    auto& c = r.counter("pigeon_test_total", "A test counter.", {"kind"});
    c.with({"a"}).inc();
    c.with({"a"}).inc(2);
    c.with({"b"}).inc();
    const std::string text = r.expose();
    BOOST_TEST(text ==
               "# HELP pigeon_test_total A test counter.\n"
               "# TYPE pigeon_test_total counter\n"
               "pigeon_test_total{kind=\"a\"} 3\n"
               "pigeon_test_total{kind=\"b\"} 1\n");
}

BOOST_AUTO_TEST_CASE(label_values_and_help_are_escaped) {
    metrics::Registry r;
    r.counter("x_total", "line one\nback\\slash", {"v"}).with({"q\"uote\\back\nnl"}).inc();
    const std::string text = r.expose();
    BOOST_TEST(text.find("# HELP x_total line one\\nback\\\\slash\n") != std::string::npos);
    BOOST_TEST(text.find("x_total{v=\"q\\\"uote\\\\back\\nnl\"} 1\n") != std::string::npos);
    BOOST_TEST(metrics::escape_label_value("plain") == "plain");
}

BOOST_AUTO_TEST_CASE(histogram_has_cumulative_buckets_inf_sum_and_count) {
    metrics::Registry r;
    auto& h = r.histogram("lat_seconds", "Latency.", {0.5, 1}).only();
    h.observe(0.0625);
    h.observe(0.5);  // le is inclusive
    h.observe(0.75);
    h.observe(7);
    const std::string text = r.expose();
    BOOST_TEST(text ==
               "# HELP lat_seconds Latency.\n"
               "# TYPE lat_seconds histogram\n"
               "lat_seconds_bucket{le=\"0.5\"} 2\n"
               "lat_seconds_bucket{le=\"1\"} 3\n"
               "lat_seconds_bucket{le=\"+Inf\"} 4\n"
               "lat_seconds_sum 8.3125\n"
               "lat_seconds_count 4\n");
}

BOOST_AUTO_TEST_CASE(labelled_histogram_puts_le_last) {
    metrics::Registry r;
    r.histogram("d_seconds", "D.", {1}, {"where"}).with({"local"}).observe(2);
    const std::string text = r.expose();
    BOOST_TEST(text.find("d_seconds_bucket{where=\"local\",le=\"1\"} 0\n") != std::string::npos);
    BOOST_TEST(text.find("d_seconds_bucket{where=\"local\",le=\"+Inf\"} 1\n") != std::string::npos);
    BOOST_TEST(text.find("d_seconds_count{where=\"local\"} 1\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(series_are_bounded_and_the_rest_counts_as_other) {
    metrics::Registry r;
    auto& c = r.counter("codes_total", "Codes.", {"code"}, 3);
    for (int i = 0; i < 100; ++i) c.with({std::to_string(i)}).inc();
    const std::string text = r.expose();
    BOOST_TEST(count_of(text, "codes_total{") == 4u);  // 3 series and "other"
    BOOST_TEST(text.find("codes_total{code=\"other\"} 97\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(concurrent_increments_are_all_counted) {
    metrics::Registry r;
    auto& c = r.counter("n_total", "N.", {"t"});
    auto& h = r.histogram("h_seconds", "H.", {1}).only();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 10000; ++i) {
                c.with({"same"}).inc();  // made by whichever thread comes first
                h.observe(0.5);
            }
        });
    for (auto& t : threads) t.join();
    const std::string text = r.expose();
    BOOST_TEST(text.find("n_total{t=\"same\"} 40000\n") != std::string::npos);
    BOOST_TEST(count_of(text, "n_total{") == 1u);  // duplicates, if any, are merged
    BOOST_TEST(text.find("h_seconds_count 40000\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(collectors_and_values) {
    metrics::Registry r;
    r.collector("q", "Queue.", {"state"}, [] {
        return std::vector<metrics::Sample>{{{"held"}, 2}, {{"active"}, 0.5}};
    });
    BOOST_TEST(r.expose() == "# HELP q Queue.\n# TYPE q gauge\nq{state=\"held\"} 2\nq{state=\"active\"} 0.5\n");
    BOOST_TEST(metrics::format_value(std::numeric_limits<double>::infinity()) == "+Inf");
    BOOST_TEST(metrics::format_value(std::nan("")) == "NaN");
    BOOST_TEST(metrics::format_value(1e21) == "1e+21");
}

BOOST_AUTO_TEST_CASE(bad_names_are_refused_at_registration) {
    metrics::Registry r;
    r.counter("ok_total", "");
    BOOST_CHECK_THROW(r.counter("ok_total", ""), std::invalid_argument);
    BOOST_CHECK_THROW(r.counter("9bad", ""), std::invalid_argument);
    BOOST_CHECK_THROW(r.counter("x_total", "", {"le"}), std::invalid_argument);
    BOOST_CHECK_THROW(r.histogram("h", "", {2, 1}), std::invalid_argument);
    auto& c = r.counter("y_total", "", {"a"});
    BOOST_CHECK_THROW(c.with({"a", "b"}), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- the HTTP endpoint

namespace {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

MetricsHandlers handlers(std::vector<std::string>* problems = nullptr) {
    MetricsHandlers h;
    h.metrics = [] { return std::string("# HELP a_total A.\n# TYPE a_total counter\na_total 1\n"); };
    h.problems = [problems] { return problems ? *problems : std::vector<std::string>{}; };
    return h;
}

// Sends `request` (and then reads to EOF, at most 2 s): the whole response, or "" if closed at once.
std::string http_exchange(std::uint16_t port, const std::string& request) {
    asio::io_context io;
    tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    boost::system::error_code ec;
    asio::write(s, asio::buffer(request), ec);
    std::string out;
    timeval tv{2, 0};
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    for (;;) {
        const std::size_t n = s.read_some(asio::buffer(buf), ec);
        out.append(buf, n);
        if (ec) break;
    }
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics_endpoint)

BOOST_AUTO_TEST_CASE(routes_paths_and_methods) {
    const auto h = handlers();
    auto r = pigeon::net::respond("GET", "/metrics", h);
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.content_type == pigeon::net::exposition_content_type);
    BOOST_TEST(r.body.find("a_total 1") != std::string::npos);
    BOOST_TEST(pigeon::net::respond("GET", "/metrics?x=1", h).status == 200u);
    BOOST_TEST(pigeon::net::respond("HEAD", "/healthz", h).status == 200u);
    BOOST_TEST(pigeon::net::respond("GET", "/healthz", h).body == "ok\n");
    BOOST_TEST(pigeon::net::respond("GET", "/", h).status == 404u);
    auto post = pigeon::net::respond("POST", "/metrics", h);
    BOOST_TEST(post.status == 405u);
    BOOST_TEST(post.allow_header);
}

BOOST_AUTO_TEST_CASE(unhealthy_says_why) {
    std::vector<std::string> problems{"spool below its free-disk reserve"};
    const auto h = handlers(&problems);
    auto r = pigeon::net::respond("GET", "/healthz", h);
    BOOST_TEST(r.status == 503u);
    BOOST_TEST(r.body == "spool below its free-disk reserve\n");
}

BOOST_AUTO_TEST_CASE(serves_over_http_and_bounds_the_request) {
    MetricsEndpointOptions o;
    o.max_request_octets = 1024;
    o.max_header_fields = 8;
    o.read_timeout = std::chrono::milliseconds(500);
    MetricsEndpoint endpoint(o, handlers());
    endpoint.start();
    const auto port = endpoint.port();
    BOOST_REQUIRE(port != 0);

    const std::string ok = http_exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_TEST(ok.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    BOOST_TEST(ok.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
    BOOST_TEST(ok.find("a_total 1\n") != std::string::npos);

    const std::string head = http_exchange(port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_TEST(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    BOOST_TEST(head.find("a_total") == std::string::npos);  // no body

    BOOST_TEST(http_exchange(port, "DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 405", 0) == 0);
    BOOST_TEST(http_exchange(port, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 404", 0) == 0);
    BOOST_TEST(http_exchange(port, "garbage\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);

    const std::string huge = "GET /metrics HTTP/1.1\r\nX: " + std::string(4000, 'a') + "\r\n\r\n";
    BOOST_TEST(http_exchange(port, huge).rfind("HTTP/1.1 431", 0) == 0);
    std::string many = "GET /metrics HTTP/1.1\r\n";
    for (int i = 0; i < 20; ++i) many += "X" + std::to_string(i) + ": y\r\n";
    BOOST_TEST(http_exchange(port, many + "\r\n").rfind("HTTP/1.1 431", 0) == 0);
    BOOST_TEST(http_exchange(port, "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello").rfind("HTTP/1.1 413", 0) == 0);

    // A slowloris: an unfinished request is closed at the deadline, with no answer.
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST(http_exchange(port, "GET /metrics HTTP/1.1\r\nHost:").empty());
    const auto took = std::chrono::steady_clock::now() - start;
    BOOST_TEST(took >= std::chrono::milliseconds(400));
    BOOST_TEST(took < std::chrono::milliseconds(1900));  // before http_exchange()'s own 2 s
    endpoint.stop();
}

BOOST_AUTO_TEST_CASE(connections_at_once_are_bounded) {
    MetricsEndpointOptions o;
    o.max_connections = 2;
    o.read_timeout = std::chrono::milliseconds(1500);
    MetricsEndpoint endpoint(o, handlers());
    endpoint.start();
    asio::io_context io;
    std::vector<tcp::socket> idle;
    for (int i = 0; i < 2; ++i) {
        idle.emplace_back(io);
        idle.back().connect({asio::ip::make_address("127.0.0.1"), endpoint.port()});
    }
    for (int i = 0; i < 50 && endpoint.open_connections() < 2; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    BOOST_TEST(endpoint.open_connections() == 2u);
    // A third is closed at once, unanswered, while the two idle ones hold their places.
    BOOST_TEST(http_exchange(endpoint.port(), "GET /metrics HTTP/1.1\r\n\r\n").empty());
    BOOST_TEST(endpoint.open_connections() == 2u);
    idle.clear();
    for (int i = 0; i < 200 && endpoint.open_connections() > 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    BOOST_TEST(endpoint.open_connections() == 0u);
    BOOST_TEST(http_exchange(endpoint.port(), "GET /healthz HTTP/1.1\r\n\r\n").find("\r\n\r\nok\n") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
