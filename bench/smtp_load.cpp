// pigeon/bench/smtp_load.cpp: a small SMTP load client for the benchmark harness (bench/run).
//
// Contract:
//   smtp_load load --port P [--host 127.0.0.1] --sessions S --per-conn M --count N --size L
//                  [--from a@x] [--to b@y] [--timeout SECONDS]
//     N messages of about L body octets over S concurrent sessions, exactly M messages per
//     connection (the last may take fewer: N mod M), MAIL again after the previous 250, no
//     PIPELINING (like smtp-source).
//     Each message's latency is the time from writing the final "." to reading the complete
//     reply. Prints one line: "ok N failed F seconds T p50_ms X p99_ms Y max_ms Z".
//     Exit 0 when every message got 250, 1 otherwise (the line is printed either way).
//   smtp_load idle --port P --sessions S [--timeout SECONDS]
//     Opens S connections (at most 256 connecting at once), reads the greeting and sends
//     EHLO on each, then prints "ready OPEN failed F" and holds them all until stdin reaches
//     EOF (or a line is read); then closes them and exits 0 when F == 0.
// One thread, epoll, non-blocking sockets; plain TCP only (no TLS). Every wait is bounded
// by --timeout (default 120 s) for the whole run.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    std::string mode;
    std::string host = "127.0.0.1";
    int port = 0;
    int sessions = 1;
    int per_conn = 1;
    long count = 1;
    long size = 1000;
    std::string from = "sender@client.test";
    std::string to = "bench@bench.test";
    double timeout = 120;
};

enum class Step { greeting, ehlo, mail, rcpt, data, dot, quit, idle };

struct Conn {
    int fd = -1;
    Step step = Step::greeting;
    std::string in;
    std::string out;
    std::size_t out_off = 0;
    int sent_here = 0;
    long quota = 0;  // messages this connection sends (reserved when it was opened)
    Clock::time_point dot_at;
    bool want_write = false;
};

Options opt;
int ep = -1;
long started = 0;     // messages whose MAIL was sent
long finished = 0;    // messages that got their final reply (250 or not)
long ok = 0, failed = 0;
int open_conns = 0, connecting = 0;
long reserved = 0;  // messages assigned to connections so far
std::vector<double> latencies_ms;
std::unordered_set<Conn*> live;  // every open connection, closed at exit
std::string body;

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "smtp_load: %s: %s\n", what, std::strerror(errno));
    std::exit(2);
}

void make_body() {
    body = "From: <" + opt.from + ">\r\nTo: <" + opt.to + ">\r\nSubject: benchmark\r\n\r\n";
    std::string line(76, 'x');
    long left = opt.size;
    while (left > 0) {
        long n = std::min<long>(left, 76);
        body += line.substr(0, static_cast<std::size_t>(n));
        body += "\r\n";
        left -= n + 2;
    }
    body += ".\r\n";
}

void update_events(Conn* c) {
    epoll_event ev{};
    ev.events = EPOLLIN | (c->out_off < c->out.size() ? EPOLLOUT : 0u);
    ev.data.ptr = c;
    bool want = c->out_off < c->out.size();
    if (want != c->want_write) {
        c->want_write = want;
        if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) die("epoll_ctl mod");
    }
}

bool flush(Conn* c) {
    while (c->out_off < c->out.size()) {
        ssize_t n = ::send(c->fd, c->out.data() + c->out_off, c->out.size() - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += static_cast<std::size_t>(n);
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return false;
        }
    }
    if (c->out_off == c->out.size()) {
        c->out.clear();
        c->out_off = 0;
    }
    update_events(c);
    return true;
}

void queue_out(Conn* c, const std::string& s) {
    c->out += s;
}


void close_conn(Conn* c) {
    if (c->step == Step::greeting) --connecting;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    live.erase(c);
    delete c;
    --open_conns;
}

// A connection ended early: its message in flight and the rest of its quota are failures.
void fail_conn(Conn* c) {
    if (opt.mode == "load") {
        bool in_flight = c->step == Step::mail || c->step == Step::rcpt || c->step == Step::data ||
                         c->step == Step::dot;
        long lost = (c->quota - c->sent_here) + (in_flight ? 1 : 0);
        failed += lost;
        finished += lost;
    }
    close_conn(c);
}

bool start_message(Conn* c) {
    if (c->sent_here >= c->quota) return false;
    ++started;
    ++c->sent_here;
    c->step = Step::mail;
    queue_out(c, "MAIL FROM:<" + opt.from + ">\r\n");
    return true;
}

// Handles one complete reply (code = its 3 digits). Returns false to drop the connection.
bool on_reply(Conn* c, int code) {
    switch (c->step) {
    case Step::greeting:
        --connecting;
        if (code != 220) return false;
        c->step = Step::ehlo;
        queue_out(c, "EHLO client.test\r\n");
        return true;
    case Step::ehlo:
        if (code != 250) return false;
        if (opt.mode == "idle") {
            c->step = Step::idle;
            return true;
        }
        if (!start_message(c)) {
            c->step = Step::quit;
            queue_out(c, "QUIT\r\n");
        }
        return true;
    case Step::mail:
        if (code != 250) return false;
        c->step = Step::rcpt;
        queue_out(c, "RCPT TO:<" + opt.to + ">\r\n");
        return true;
    case Step::rcpt:
        if (code != 250) return false;
        c->step = Step::data;
        queue_out(c, "DATA\r\n");
        return true;
    case Step::data:
        if (code != 354) return false;
        c->step = Step::dot;
        queue_out(c, body);
        c->dot_at = Clock::now();
        return true;
    case Step::dot: {
        ++finished;
        if (code != 250) {
            ++failed;
            c->step = Step::quit;
            queue_out(c, "QUIT\r\n");
            return true;
        }
        ++ok;
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - c->dot_at).count());
        if (!start_message(c)) {
            c->step = Step::quit;
            queue_out(c, "QUIT\r\n");
        }
        return true;
    }
    case Step::quit:
        return false;  // 221 (or anything): done with this connection
    case Step::idle:
        return true;
    }
    return false;
}

// Parses complete replies out of c->in. Returns false to drop the connection.
bool on_input(Conn* c) {
    std::size_t pos = 0;
    while (true) {
        auto eol = c->in.find("\r\n", pos);
        if (eol == std::string::npos) break;
        std::string_view line(c->in.data() + pos, eol - pos);
        pos = eol + 2;
        if (line.size() < 3) return false;
        if (line.size() > 3 && line[3] == '-') continue;  // continuation line
        int code = std::atoi(std::string(line.substr(0, 3)).c_str());
        if (!on_reply(c, code)) {
            c->in.erase(0, pos);
            return false;
        }
    }
    c->in.erase(0, pos);
    return true;
}

bool open_one() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(opt.port));
    inet_pton(AF_INET, opt.host.c_str(), &a.sin_addr);
    int r = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    if (r != 0 && errno != EINPROGRESS) {
        ::close(fd);
        return false;
    }
    auto* c = new Conn;
    c->fd = fd;
    live.insert(c);
    if (opt.mode == "load") {
        c->quota = std::min<long>(opt.per_conn, opt.count - reserved);
        reserved += c->quota;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl add");
    ++open_conns;
    ++connecting;
    return true;
}

double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

void usage() {
    std::fprintf(stderr,
                 "usage: smtp_load load --port P --sessions S --per-conn M --count N --size L "
                 "[--host H] [--from A] [--to B] [--timeout S]\n"
                 "       smtp_load idle --port P --sessions S [--host H] [--timeout S]\n");
    std::exit(64);
}

void parse(int argc, char** argv) {
    if (argc < 2) usage();
    opt.mode = argv[1];
    if (opt.mode != "load" && opt.mode != "idle") usage();
    for (int i = 2; i < argc; ++i) {
        std::string k = argv[i];
        if (i + 1 >= argc) usage();
        std::string v = argv[++i];
        if (k == "--port") opt.port = std::atoi(v.c_str());
        else if (k == "--host") opt.host = v;
        else if (k == "--sessions") opt.sessions = std::atoi(v.c_str());
        else if (k == "--per-conn") opt.per_conn = std::atoi(v.c_str());
        else if (k == "--count") opt.count = std::atol(v.c_str());
        else if (k == "--size") opt.size = std::atol(v.c_str());
        else if (k == "--from") opt.from = v;
        else if (k == "--to") opt.to = v;
        else if (k == "--timeout") opt.timeout = std::atof(v.c_str());
        else usage();
    }
    if (opt.port <= 0 || opt.sessions <= 0 || opt.per_conn <= 0 || opt.count <= 0) usage();
}

}  // namespace

int main(int argc, char** argv) {
    parse(argc, argv);
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    make_body();
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    const auto t0 = Clock::now();
    const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.timeout));
    const bool idle = opt.mode == "idle";
    int idle_opened = 0, idle_failed = 0;
    bool announced = false;
    std::vector<epoll_event> events(1024);

    while (Clock::now() < deadline) {
        if (idle) {
            while (idle_opened < opt.sessions && connecting < 256) {
                ++idle_opened;
                if (!open_one()) ++idle_failed;
            }
            if (!announced && idle_opened == opt.sessions && connecting == 0) {
                std::printf("ready %d failed %d\n", open_conns, idle_failed + (opt.sessions - open_conns - idle_failed));
                std::fflush(stdout);
                announced = true;
                char buf[64];
                // Holds every connection until the harness says stop (EOF or a line).
                (void)!::read(0, buf, sizeof buf);
                break;
            }
        } else {
            if (finished >= opt.count) break;
            // Keep `sessions` connections open while messages remain unassigned; each new
            // connection takes the next `per_conn` of them.
            while (open_conns < opt.sessions && reserved < opt.count) {
                if (!open_one()) {
                    long lost = std::min<long>(opt.per_conn, opt.count - reserved);
                    reserved += lost;
                    failed += lost;
                    finished += lost;
                }
            }
        }
        int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; ++i) {
            auto* c = static_cast<Conn*>(events[static_cast<std::size_t>(i)].data.ptr);
            bool alive = true;
            if (events[static_cast<std::size_t>(i)].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                char buf[16384];
                while (true) {
                    ssize_t r = ::recv(c->fd, buf, sizeof buf, 0);
                    if (r > 0) {
                        c->in.append(buf, static_cast<std::size_t>(r));
                        if (r < static_cast<ssize_t>(sizeof buf)) break;
                    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                        break;
                    } else if (r < 0 && errno == EINTR) {
                        continue;
                    } else {
                        alive = false;
                        break;
                    }
                }
                if (!c->in.empty() && !on_input(c)) alive = false;
            }
            if (alive && !flush(c)) alive = false;
            if (!alive) {
                if (idle && c->step != Step::idle) ++idle_failed;
                fail_conn(c);
            }
        }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    for (Conn* c : std::vector<Conn*>(live.begin(), live.end())) close_conn(c);
    if (idle) {
        if (!announced) {
            std::printf("ready %d failed %d\n", open_conns, opt.sessions - open_conns);
            std::fflush(stdout);
        }
        return announced && idle_failed == 0 ? 0 : 1;
    }
    if (finished < opt.count) failed += opt.count - finished;
    double p50 = percentile(latencies_ms, 0.50), p99 = percentile(latencies_ms, 0.99);
    double mx = latencies_ms.empty() ? 0 : latencies_ms.back();
    std::printf("ok %ld failed %ld seconds %.4f p50_ms %.3f p99_ms %.3f max_ms %.3f\n", ok, failed, seconds, p50,
                p99, mx);
    return failed == 0 ? 0 : 1;
}
