// pigeon/net/local_submission.cpp: the local submission socket (see the header's contract).
#include "net/local_submission.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <charconv>
#include <filesystem>
#include <mutex>
#include <thread>

namespace pigeon::net {
namespace asio = boost::asio;
using local_stream = asio::local::stream_protocol;
using error_code = boost::system::error_code;

namespace {

core::Reply bad_request(std::string text) { return core::Reply(501, "5.5.4", std::move(text)); }

// "<addr>" -> "addr"; the address itself is checked by the handler, as RCPT TO would be.
std::optional<std::string> bracketed(std::string_view text) {
    if (text.size() < 2 || text.front() != '<' || text.back() != '>') return std::nullopt;
    return std::string(text.substr(1, text.size() - 2));
}

}  // namespace

std::string format_local_request_head(const LocalRequest& request) {
    std::string head = std::string(local_request_version) + "\n";
    if (request.from) head += "FROM <" + *request.from + ">\n";
    if (!request.name.empty()) head += "NAME " + request.name + "\n";
    for (const std::string& r : request.recipients) head += "RCPT <" + r + ">\n";
    head += "SIZE " + std::to_string(request.size) + "\n";
    return head;
}

core::Result<bool, core::Reply> LocalRequestParser::line(std::string_view text) {
    if (text.size() > max_head_line_octets) return bad_request("Request line too long");
    if (!versioned_) {
        if (text != local_request_version) return core::Reply(500, "5.5.1", "Not a pigeon sendmail request");
        versioned_ = true;
        return false;
    }
    const std::size_t space = text.find(' ');
    const std::string_view word = text.substr(0, space);
    const std::string_view rest = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    if (word == "FROM" || word == "RCPT") {
        auto address = bracketed(rest);
        if (!address) return bad_request("Syntax: " + std::string(word) + " <address>");
        if (word == "FROM") {
            if (request_.from || !request_.recipients.empty()) return bad_request("FROM must come once, first");
            request_.from = std::move(*address);
        } else {
            if (request_.recipients.size() >= max_recipients_) return core::Reply(452, "4.5.3", "Too many recipients");
            request_.recipients.push_back(std::move(*address));
        }
        return false;
    }
    if (word == "NAME") {
        if (rest.find_first_of("\r\n") != std::string_view::npos) return bad_request("NAME is one line");
        request_.name = std::string(rest);
        return false;
    }
    if (word == "SIZE") {
        std::uint64_t n = 0;
        const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
        if (rest.empty() || ec != std::errc() || end != rest.data() + rest.size()) return bad_request("Syntax: SIZE n");
        if (request_.recipients.empty()) return core::Reply(554, "5.5.1", "No valid recipients");
        if (n > max_message_octets_) return core::Reply(552, "5.3.4", "Message size exceeds fixed limit");
        request_.size = n;
        return true;
    }
    return bad_request("Unknown request line");
}

// One caller: the head, the message, the handler's answer, close. Lives on the server's
// io_context; all members are touched only from it.
class LocalClient : public std::enable_shared_from_this<LocalClient> {
public:
    LocalClient(LocalSubmissionServer::Impl& server, local_stream::socket socket);
    void start();
    // The server stops: a caller still sending is cut off (it has been promised nothing).
    void stop_reading() {
        if (!submitted_) close();
    }

private:
    void read();
    void on_read(error_code ec, std::size_t n);
    bool take_head();  // false once an answer was sent
    void submit();
    void answer(const core::Reply& reply);
    void close();

    LocalSubmissionServer::Impl& server_;
    local_stream::socket socket_;
    asio::steady_timer timer_;
    std::array<char, 16 * 1024> buffer_{};
    std::string input_;  // head lines not yet parsed, then the message
    LocalRequestParser parser_;
    bool head_done_ = false, answered_ = false, submitted_ = false;
    LocalSubmission submission_;
};

struct LocalSubmissionServer::Impl {
    explicit Impl(Options o) : options(std::move(o)), acceptor(context) {}
    Options options;
    asio::io_context context;
    local_stream::acceptor acceptor;
    std::thread thread;
    std::atomic<std::size_t> clients{0};
    std::vector<std::weak_ptr<LocalClient>> live;  // on the loop only
    std::once_flag stopped;
    std::unique_ptr<asio::steady_timer> drain_timer;

    void log(std::string_view text) const {
        if (options.log) options.log(text);
    }
    void accept() {
        acceptor.async_accept([this](error_code ec, local_stream::socket socket) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) admit(std::move(socket));
            accept();
        });
    }
    void admit(local_stream::socket socket) {
        if (clients.load() >= options.max_clients) {
            static constexpr std::string_view busy = "421 4.3.2 Too many local submissions at once; try again\r\n";
            error_code ignored;
            asio::write(socket, asio::buffer(busy), ignored);
            return;
        }
        auto client = std::make_shared<LocalClient>(*this, std::move(socket));
        std::erase_if(live, [](const std::weak_ptr<LocalClient>& c) { return c.expired(); });
        live.push_back(client);
        client->start();
    }
    // Until the answers in flight are written (the spool answers them: it stops after this),
    // at most drain_limit; then the loop ends.
    void drain(std::chrono::steady_clock::time_point deadline) {
        if (clients.load() == 0 || std::chrono::steady_clock::now() >= deadline) {
            context.stop();
            return;
        }
        drain_timer->expires_after(std::chrono::milliseconds(20));
        drain_timer->async_wait([this, deadline](error_code) { drain(deadline); });
    }
};

namespace {
constexpr std::chrono::seconds drain_limit{10};
}

LocalClient::LocalClient(LocalSubmissionServer::Impl& server, local_stream::socket socket)
    : server_(server), socket_(std::move(socket)), timer_(socket_.get_executor()),
      parser_(server.options.max_message_octets, server.options.max_recipients) {
    ++server_.clients;
}

void LocalClient::start() {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        server_.log("local submission: cannot read the caller's credentials (SO_PEERCRED)");
        close();
        return;
    }
    submission_.uid = cred.uid;
    submission_.pid = cred.pid;
    timer_.expires_after(server_.options.timeout);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (ec) return;
        self->server_.log("local submission from uid " + std::to_string(self->submission_.uid) + ": timed out");
        self->close();
    });
    read();
}

void LocalClient::read() {
    socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](error_code ec, std::size_t n) {
        self->on_read(ec, n);
    });
}

void LocalClient::on_read(error_code ec, std::size_t n) {
    if (answered_ || !socket_.is_open()) return;
    const bool ended = static_cast<bool>(ec);
    input_.append(buffer_.data(), n);
    if (!head_done_ && !take_head()) return;
    if (head_done_) {
        if (input_.size() > parser_.request().size) {
            answer(core::Reply(501, "5.5.4", "More octets than SIZE said"));
            return;
        }
        if (input_.size() == parser_.request().size) {
            submit();
            return;
        }
    }
    if (ended) {  // the caller went away before the whole request: nothing to answer
        close();
        return;
    }
    read();
}

bool LocalClient::take_head() {
    std::size_t from = 0;
    for (;;) {
        const std::size_t lf = input_.find('\n', from);
        if (lf == std::string::npos) {
            input_.erase(0, from);
            if (input_.size() > max_head_line_octets) {
                answer(core::Reply(501, "5.5.4", "Request line too long"));
                return false;
            }
            return true;
        }
        auto done = parser_.line(std::string_view(input_).substr(from, lf - from));
        from = lf + 1;
        if (!done.ok()) {
            answer(done.error());
            return false;
        }
        if (done.value()) {
            input_.erase(0, from);
            head_done_ = true;
            input_.reserve(static_cast<std::size_t>(parser_.request().size));
            return true;
        }
    }
}

void LocalClient::submit() {
    submitted_ = true;
    submission_.request = parser_.request();
    submission_.message = std::move(input_);
    input_.clear();
    head_done_ = false;
    // The answer may come from any thread: it is posted back to this connection's loop.
    server_.options.submit(std::move(submission_), [self = shared_from_this()](core::Reply reply) {
        asio::post(self->socket_.get_executor(), [self, reply = std::move(reply)] { self->answer(reply); });
    });
}

void LocalClient::answer(const core::Reply& reply) {
    if (answered_ || !socket_.is_open()) return;
    answered_ = true;
    auto text = std::make_shared<std::string>(core::format_reply(reply));
    asio::async_write(socket_, asio::buffer(*text), [self = shared_from_this(), text](error_code, std::size_t) {
        self->close();
    });
}

void LocalClient::close() {
    timer_.cancel();
    if (socket_.is_open()) {
        error_code ignored;
        socket_.close(ignored);
        --server_.clients;
    }
}

core::Result<std::unique_ptr<LocalSubmissionServer>, core::Error<LocalSocketCode>> LocalSubmissionServer::start(
    Options options) {
    namespace fs = std::filesystem;
    using Failed = core::Error<LocalSocketCode>;
    const fs::path path(options.path);
    std::error_code fec;
    if (!fs::exists(path.parent_path(), fec)) {
        fs::create_directories(path.parent_path(), fec);
        if (fec) return Failed{"cannot create " + path.parent_path().string() + ": " + fec.message()};
        fs::permissions(path.parent_path(), fs::perms(0755), fs::perm_options::replace, fec);
    }
    // A socket file left by a server that crashed; anything else at that path is not ours.
    const auto status = fs::symlink_status(path, fec);
    if (!fec && fs::exists(status)) {
        if (status.type() != fs::file_type::socket) return Failed{path.string() + " exists and is not a socket"};
        fs::remove(path, fec);
    }
    auto impl = std::make_unique<Impl>(std::move(options));
    error_code ec;
    impl->acceptor.open(local_stream(), ec);
    if (!ec) impl->acceptor.bind(local_stream::endpoint(path.string()), ec);
    if (!ec && ::chmod(path.c_str(), 0666) != 0) ec = error_code(errno, boost::system::system_category());
    if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Failed{"cannot listen on " + path.string() + ": " + ec.message()};
    impl->accept();
    Impl* raw = impl.get();
    impl->thread = std::thread([raw] { raw->context.run(); });
    return std::unique_ptr<LocalSubmissionServer>(new LocalSubmissionServer(std::move(impl)));
}

LocalSubmissionServer::LocalSubmissionServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LocalSubmissionServer::~LocalSubmissionServer() { stop(); }

// Stops accepting, lets the answers in flight go out (each within the timeout), then joins.
void LocalSubmissionServer::stop() {
    std::call_once(impl_->stopped, [this] {
        asio::post(impl_->context, [this] {
            error_code ignored;
            impl_->acceptor.close(ignored);
            for (const auto& weak : impl_->live)
                if (auto client = weak.lock()) client->stop_reading();
            impl_->drain_timer = std::make_unique<asio::steady_timer>(impl_->context);
            impl_->drain(std::chrono::steady_clock::now() + drain_limit);
        });
        std::error_code fec;
        std::filesystem::remove(impl_->options.path, fec);
        if (impl_->thread.joinable()) impl_->thread.join();
    });
}

}  // namespace pigeon::net
