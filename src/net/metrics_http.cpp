// pigeon/net/metrics_http.cpp: routing (respond) and the Beast connection loop.
#include "net/metrics_http.hpp"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <iterator>
#include <stdexcept>
#include <thread>

namespace pigeon::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

HttpResponse text(unsigned status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

HttpResponse health(const MetricsHandlers& handlers) {
    const std::vector<std::string> problems = handlers.problems ? handlers.problems() : std::vector<std::string>{};
    if (problems.empty()) return text(200, "ok\n");
    std::string body;
    for (const auto& p : problems) body += p + "\n";
    return text(503, std::move(body));
}

}  // namespace

HttpResponse respond(std::string_view method, std::string_view target, const MetricsHandlers& handlers) {
    const std::string_view path = target.substr(0, target.find('?'));
    if (path != "/metrics" && path != "/healthz") return text(404, "not found: try /metrics or /healthz\n");
    if (method != "GET" && method != "HEAD") {
        HttpResponse r = text(405, "only GET and HEAD\n");
        r.allow_header = true;
        return r;
    }
    if (path == "/healthz") return health(handlers);
    HttpResponse r = text(200, handlers.metrics ? handlers.metrics() : std::string());
    r.content_type = exposition_content_type;
    return r;
}

struct MetricsEndpoint::Impl {
    Impl(MetricsEndpointOptions o, MetricsHandlers h) : options(std::move(o)), handlers(std::move(h)) {}

    MetricsEndpointOptions options;
    MetricsHandlers handlers;
    std::atomic<std::size_t> open{0};  // before context: the connections it destroys count down
    asio::io_context context{1};
    tcp::acceptor acceptor{context};
    std::thread thread;

    void accept();
};

namespace {

// One request, one response, then close; the whole exchange under one deadline.
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
public:
    HttpConnection(tcp::socket socket, const MetricsEndpointOptions& options, const MetricsHandlers& handlers,
                   std::atomic<std::size_t>& open)
        : stream_(std::move(socket)), buffer_(options.max_request_octets), options_(options),
          handlers_(handlers), open_(open) {
        parser_.header_limit(static_cast<std::uint32_t>(options.max_request_octets));
        parser_.body_limit(0);
    }
    ~HttpConnection() { open_.fetch_sub(1, std::memory_order_relaxed); }

    void start() {
        stream_.expires_after(options_.read_timeout);
        http::async_read(stream_, buffer_, parser_,
                         [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
    }

private:
    void on_read(error_code ec) {
        if (ec == beast::error::timeout || ec == http::error::end_of_stream || ec == asio::error::eof ||
            ec == asio::error::operation_aborted) {
            close();  // nothing worth answering, or nobody left to answer
            return;
        }
        if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
            send(text_response(431, "request header fields too large\n"), false);
            return;
        }
        if (ec == http::error::body_limit || ec == http::error::unexpected_body) {
            send(text_response(413, "a request body is not accepted\n"), false);
            return;
        }
        if (ec) {
            send(text_response(400, "bad request\n"), false);
            return;
        }
        const auto& request = parser_.get();
        if (static_cast<std::size_t>(std::distance(request.begin(), request.end())) > options_.max_header_fields) {
            send(text_response(431, "too many header fields\n"), false);
            return;
        }
        const bool head = request.method() == http::verb::head;
        const std::string_view method(request.method_string().data(), request.method_string().size());
        const std::string_view target(request.target().data(), request.target().size());
        send(respond(method, target, handlers_), head);
    }

    static HttpResponse text_response(unsigned status, std::string body) {
        HttpResponse r;
        r.status = status;
        r.body = std::move(body);
        return r;
    }

    void send(HttpResponse r, bool head) {
        response_.result(static_cast<http::status>(r.status));
        response_.version(11);
        response_.set(http::field::server, "pigeon");
        response_.set(http::field::content_type, r.content_type);
        if (r.allow_header) response_.set(http::field::allow, "GET, HEAD");
        response_.keep_alive(false);
        response_.content_length(r.body.size());
        if (!head) response_.body() = std::move(r.body);
        http::async_write(stream_, response_,
                          [self = shared_from_this()](error_code, std::size_t) { self->close(); });
    }

    void close() {
        error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.socket().close(ignored);
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    http::request_parser<http::empty_body> parser_;
    http::response<http::string_body> response_;
    const MetricsEndpointOptions& options_;
    const MetricsHandlers& handlers_;
    std::atomic<std::size_t>& open_;
};

}  // namespace

void MetricsEndpoint::Impl::accept() {
    acceptor.async_accept([this](error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
        if (!ec) {
            if (open.load(std::memory_order_relaxed) >= options.max_connections) {
                error_code ignored;
                socket.close(ignored);  // over the bound: no answer, no state
            } else {
                open.fetch_add(1, std::memory_order_relaxed);
                std::make_shared<HttpConnection>(std::move(socket), options, handlers, open)->start();
            }
        }
        accept();
    });
}

MetricsEndpoint::MetricsEndpoint(MetricsEndpointOptions options, MetricsHandlers handlers)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(handlers))) {
    const auto& o = impl_->options;
    try {
        const tcp::endpoint endpoint(asio::ip::make_address(o.address), o.port);
        impl_->acceptor.open(endpoint.protocol());
        impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
        impl_->acceptor.bind(endpoint);
        impl_->acceptor.listen(asio::socket_base::max_listen_connections);
    } catch (const std::exception& e) {
        throw std::runtime_error("metrics: cannot listen on " + o.address + ":" + std::to_string(o.port) +
                                 ": " + e.what());
    }
}

MetricsEndpoint::~MetricsEndpoint() { stop(); }

std::uint16_t MetricsEndpoint::port() const {
    error_code ec;
    const auto endpoint = impl_->acceptor.local_endpoint(ec);
    return ec ? 0 : endpoint.port();
}

void MetricsEndpoint::start() {
    impl_->accept();
    impl_->thread = std::thread([impl = impl_] { impl->context.run(); });
}

void MetricsEndpoint::stop() {
    if (!impl_->thread.joinable()) return;
    asio::post(impl_->context, [impl = impl_.get()] {
        error_code ignored;
        impl->acceptor.close(ignored);
        impl->context.stop();
    });
    impl_->thread.join();
}

std::size_t MetricsEndpoint::open_connections() const { return impl_->open.load(std::memory_order_relaxed); }

}  // namespace pigeon::net
