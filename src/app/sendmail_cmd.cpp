// pigeon/app/sendmail_cmd.cpp: `pigeon sendmail` talking to the running server over its local
// submission socket (net/local_submission.hpp), and `mailq` (app/sendmail.hpp).
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <iterator>

#include "app/commands.hpp"
#include "app/sendmail.hpp"
#include "core/reply.hpp"
#include "net/local_submission.hpp"

namespace pigeon::app {
namespace {

constexpr std::string_view system_config = "/etc/pigeon/pigeon.toml";
// How long the caller waits for the server's answer once the message is sent: the server
// answers after the spool's fsync, well within this.
constexpr int answer_timeout_seconds = 120;

struct Target {
    std::string socket;
    std::string error;  // set: no socket to use
};

// -C FILE's [sendmail] socket; else $PIGEON_SENDMAIL_SOCKET; else the package's path.
Target socket_path(const SendmailArgs& a) {
    if (!a.config_path.empty()) {
        auto config = config::load_config(a.config_path);
        if (!config) return {{}, config.error().message};
        if (config->sendmail.socket.empty()) return {{}, a.config_path + ": [sendmail] socket is not set"};
        return {config->sendmail.socket, {}};
    }
    if (const char* env = std::getenv("PIGEON_SENDMAIL_SOCKET"); env != nullptr && *env != '\0') return {env, {}};
    return {std::string(config::defaults::sendmail_socket), {}};
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

struct Exchange {
    bool connected = false;
    std::string error;   // the transport failed (connected: after sending; then nothing is known)
    std::string answer;  // the server's reply line(s)
};

Exchange talk_to_server(const std::string& path, const std::string& request) {
    Exchange x;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
        x.error = path + ": the path is too long for a Unix socket";
        return x;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        x.error = "cannot connect to " + path + ": " + std::strerror(errno);
        if (fd >= 0) ::close(fd);
        return x;
    }
    x.connected = true;
    timeval timeout{answer_timeout_seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    const bool sent = write_all(fd, request);
    char buffer[1024];
    for (;;) {  // the answer, even after a failed send: the server may have refused early
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n < 0 && x.answer.empty()) x.error = std::string("no answer from the server: ") + std::strerror(errno);
            break;
        }
        x.answer.append(buffer, static_cast<std::size_t>(n));
        if (x.answer.size() > 4096) break;
    }
    if (!sent && x.answer.empty() && x.error.empty()) x.error = "the server closed the connection";
    ::close(fd);
    return x;
}

// sysexits(3) for a refusal, as sendmail reports them.
int exit_for(const core::Reply& reply) {
    if (reply.transient()) return exit_tempfail;
    if (reply.enhanced && reply.enhanced->subject == 1) return exit_nouser;
    if (reply.enhanced && reply.enhanced->subject == 7) return exit_noperm;
    return exit_dataerr;
}

std::string reply_text(const core::Reply& r) {
    std::string text = std::to_string(r.code) + (r.enhanced ? " " + r.enhanced->to_string() : "");
    for (const auto& l : r.lines) text += " " + l;
    return text;
}

int deliver(const SendmailArgs& a, Io& io) {
    const Target target = socket_path(a);
    if (!target.error.empty()) {
        io.err << "pigeon sendmail: " << target.error << "\n";
        return exit_bad_config;
    }
    const std::string input(std::istreambuf_iterator<char>(io.in), {});
    std::string message = read_message(input, a.dot_is_data);
    net::LocalRequest request;
    request.from = a.sender;
    request.name = a.full_name;
    request.recipients = a.recipients;
    if (a.recipients_from_header)
        for (std::string& r : header_recipients(message))
            if (std::find(request.recipients.begin(), request.recipients.end(), r) == request.recipients.end())
                request.recipients.push_back(std::move(r));
    if (request.recipients.empty()) {
        io.err << "pigeon sendmail: no recipients (give them as arguments, or -t to take To:, Cc: and Bcc:)\n";
        return exit_usage;
    }
    message = without_bcc(message);
    request.size = message.size();
    const Exchange x = talk_to_server(target.socket, net::format_local_request_head(request) + message);
    if (!x.connected) {
        io.err << "pigeon sendmail: the mail server is not running or not reachable (" << x.error
               << "); nothing was sent: try again later\n";
        return exit_tempfail;
    }
    auto reply = core::parse_reply(x.answer);
    if (!reply.ok()) {
        io.err << "pigeon sendmail: " << (x.error.empty() ? "unreadable answer from the server" : x.error)
               << "; the message may not have been queued\n";
        return exit_tempfail;
    }
    if (reply->positive()) return exit_ok;
    io.err << "pigeon sendmail: the server refused the message: " << reply_text(reply.value())
           << (reply->transient() ? " (nothing was queued: try again later)" : "") << "\n";
    return exit_for(reply.value());
}

// -C FILE, else $PIGEON_CONFIG, else /etc/pigeon/pigeon.toml when it exists, else the embedded default.
std::optional<config::Config> queue_config(const SendmailArgs& a, Io& io) {
    std::string path = a.config_path;
    if (path.empty())
        if (const char* env = std::getenv("PIGEON_CONFIG"); env != nullptr) path = env;
    std::error_code ec;
    if (path.empty() && std::filesystem::exists(system_config, ec)) path = std::string(system_config);
    return effective_config(path, io);
}

}  // namespace

int run_sendmail(const std::vector<std::string>& args, bool mailq, Io& io) {
    if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
        // sendmail(1)'s own options have no --help; this one is for people (and the man page).
        io.out << "Hand a message on standard input to the running server (local submission).\n"
                  "Usage: pigeon sendmail [-t] [-i|-oi] [-f sender] [-F name] [-C config] [-bp] [recipients...]\n"
                  "  -t          recipients from To:, Cc: and Bcc: (Bcc: is removed)\n"
                  "  -i, -oi     a line with a single dot is data, not the end\n"
                  "  -f sender   the envelope sender (yours, unless [sendmail] trusted_users names you)\n"
                  "  -F name     the full name for a From: field that is added\n"
                  "  -C config   the configuration file (the socket's path)\n"
                  "  -bp         list the queue (as mailq)\n"
                  "Exit status: 0 queued; 64 usage; 75 the server is down (nothing accepted); 77 refused.\n"
                  "As sendmail or mailq (a link to pigeon), it runs as pigeon sendmail or sendmail -bp.\n";
        return exit_ok;
    }
    auto parsed = parse_sendmail_args(args);
    if (!parsed.ok()) {
        io.err << parsed.error().message << "\n";
        return exit_usage;
    }
    SendmailArgs& a = parsed.value();
    if (mailq) a.mode = SendmailArgs::Mode::list_queue;
    switch (a.mode) {
        case SendmailArgs::Mode::rebuild_aliases: return exit_ok;  // aliases live in pigeon.toml
        case SendmailArgs::Mode::list_queue: {
            const auto config = queue_config(a, io);
            return config ? print_mailq(*config, io.out, io.err) : exit_bad_config;
        }
        case SendmailArgs::Mode::deliver: break;
    }
    return deliver(a, io);
}

}  // namespace pigeon::app
