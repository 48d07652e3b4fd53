// pigeon/app/control.cpp: the state directory lock, request files, the pid file and SIGUSR1 between CLI and server.
#include "app/control.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>

#include "queue/queue_id.hpp"

namespace pigeon::app {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t max_request_octets = 64;
constexpr std::string_view request_suffix = ".req";

fs::path pid_path(const std::string& state_dir) { return fs::path(state_dir) / "pigeon.pid"; }
fs::path control_dir(const std::string& state_dir) { return fs::path(state_dir) / "control"; }

// Writes `text` to `path` through "<path>.tmp", fsync and rename, then fsyncs the directory.
queue::Status write_atomically(const fs::path& path, const std::string& text) {
    const std::string tmp = path.string() + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return queue::Error{"cannot create " + tmp + ": " + std::strerror(errno)};
    const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                         ::fsync(fd) == 0;
    const int saved = errno;
    ::close(fd);
    if (!written) {
        ::unlink(tmp.c_str());
        return queue::Error{"cannot write " + tmp + ": " + std::strerror(saved)};
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        return queue::Error{"cannot rename " + tmp + ": " + std::strerror(e)};
    }
    const int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        ::fsync(dir);
        ::close(dir);
    }
    return {};
}

std::string read_small_file(const fs::path& path, std::size_t limit, bool& too_big) {
    std::ifstream in(path, std::ios::binary);
    std::string text(limit + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    too_big = text.size() > limit;
    return text;
}

}  // namespace

unsigned long long process_start_time(long pid) {
    if (pid <= 0) return 0;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!std::getline(in, stat)) return 0;
    // "pid (comm) state ppid ...": comm may hold spaces and ')', so count from the last ')'.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(stat.substr(close + 1));
    std::string field;
    for (int i = 3; i <= 22; ++i) {  // field 3 is the state; 22 the start time
        if (!(fields >> field)) return 0;
    }
    unsigned long long start = 0;
    const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), start);
    return ec == std::errc() && end == field.data() + field.size() ? start : 0;
}

queue::Status write_pid_file(const std::string& state_dir) {
    const long pid = static_cast<long>(::getpid());
    return write_atomically(pid_path(state_dir),
                            std::to_string(pid) + "\n" + std::to_string(process_start_time(pid)) + "\n");
}

void remove_pid_file(const std::string& state_dir) {
    std::error_code ec;
    fs::remove(pid_path(state_dir), ec);
}

namespace {

// The request verbs, one per kind; takes_id() says which take a queue id.
struct Verb {
    ControlRequest::Kind kind;
    std::string_view word;
};
constexpr Verb verbs[] = {
    {ControlRequest::Kind::flush, "flush"},    {ControlRequest::Kind::retry, "retry"},
    {ControlRequest::Kind::remove, "delete"},  {ControlRequest::Kind::hold, "hold"},
    {ControlRequest::Kind::release, "release"}, {ControlRequest::Kind::reload, "reload"},
    {ControlRequest::Kind::hold_all, "hold-all"}, {ControlRequest::Kind::release_all, "release-all"},
};

std::string_view word_of(ControlRequest::Kind kind) {
    for (const Verb& v : verbs)
        if (v.kind == kind) return v.word;
    return "flush";
}

constexpr std::size_t max_answer_octets = max_answer_text_octets + 8;  // "error " + text + "\n"
constexpr std::string_view answer_suffix = ".ans";
constexpr std::chrono::milliseconds answer_poll{20};

// Writes the request file; returns its name (without ".req").
queue::Result<std::string> post_control_request(const std::string& state_dir,
                                                  const ControlRequest& request) {
    const fs::path dir = control_dir(state_dir);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return queue::Error{"cannot create " + dir.string() + ": " + ec.message()};
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);

    static std::atomic<unsigned> counter{0};
    const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    char name[96];
    std::snprintf(name, sizeof name, "%020lld-%ld-%u", static_cast<long long>(now),
                  static_cast<long>(::getpid()), counter.fetch_add(1));
    if (queue::Status s = write_atomically(dir / (std::string(name) + std::string(request_suffix)),
                                           format_control_request(request));
        !s) {
        return queue::Error{s.error()};
    }
    return std::string(name);
}

// Signals only the process the pid file describes: same pid AND same start time.
bool signal_server(const std::string& state_dir) {
    std::ifstream in(pid_path(state_dir));
    long pid = 0;
    unsigned long long start = 0;
    if (!(in >> pid) || pid <= 0) return false;
    if (!(in >> start)) start = 0;
    const unsigned long long actual = process_start_time(pid);
    if (actual == 0 || (start != 0 && actual != start)) return false;  // gone, or a reused pid
    return ::kill(static_cast<pid_t>(pid), SIGUSR1) == 0;
}

// Polls for "<name>.ans" until `wait` has passed; reads and deletes it.
std::optional<queue::Result<ControlAnswer>> wait_for_answer(const fs::path& answer,
                                                              std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        std::error_code ec;
        if (fs::exists(answer, ec)) {
            bool too_big = false;
            const std::string text = read_small_file(answer, max_answer_octets, too_big);
            fs::remove(answer, ec);
            if (too_big) return queue::Result<ControlAnswer>(queue::Error{"the server's answer is too long"});
            return parse_control_answer(text);
        }
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(answer_poll);
    }
}

// Answers older than stale_answer_age: their CLI gave up waiting (or was killed).
void remove_stale_answers(const fs::path& dir) {
    std::error_code ec;
    const auto now = fs::file_time_type::clock::now();
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->path().extension() != answer_suffix) continue;
        std::error_code t;
        const auto written = fs::last_write_time(it->path(), t);
        if (!t && now - written > stale_answer_age) fs::remove(it->path(), t);
    }
}

}  // namespace

bool wants_answer(ControlRequest::Kind kind) {
    return kind == ControlRequest::Kind::remove || kind == ControlRequest::Kind::hold ||
           kind == ControlRequest::Kind::release || kind == ControlRequest::Kind::hold_all ||
           kind == ControlRequest::Kind::release_all || kind == ControlRequest::Kind::reload;
}

bool takes_id(ControlRequest::Kind kind) {
    return kind == ControlRequest::Kind::retry || kind == ControlRequest::Kind::remove ||
           kind == ControlRequest::Kind::hold || kind == ControlRequest::Kind::release;
}

std::string format_control_request(const ControlRequest& request) {
    const std::string word(word_of(request.kind));
    return takes_id(request.kind) ? word + " " + request.id + "\n" : word + "\n";
}

queue::Result<ControlRequest> parse_control_request(std::string_view text) {
    if (text.size() > max_request_octets) return queue::Error{"longer than " + std::to_string(max_request_octets) + " octets"};
    if (text.empty() || text.back() != '\n') return queue::Error{"not one line ending in a newline"};
    text.remove_suffix(1);
    if (text.find('\n') != std::string_view::npos) return queue::Error{"more than one line"};
    for (const Verb& v : verbs)
        if (!takes_id(v.kind) && text == v.word) return ControlRequest{v.kind, {}, {}};
    const std::size_t space = text.find(' ');
    const std::string_view word = text.substr(0, space);
    for (const Verb& v : verbs) {
        if (!takes_id(v.kind) || word != v.word || space == std::string_view::npos) continue;
        const std::string_view id = text.substr(space + 1);
        if (!queue::is_valid_queue_id(id)) return queue::Error{"'" + std::string(id.substr(0, 20)) + "' is not a queue id"};
        return ControlRequest{v.kind, std::string(id), {}};
    }
    return queue::Error{"unknown request '" + std::string(text.substr(0, 20)) + "'"};
}

std::string format_control_answer(bool ok, std::string_view text) {
    std::string line(text.substr(0, max_answer_text_octets));
    for (char& c : line)  // one line, whatever the spool's error text holds
        if (c == '\n' || c == '\r') c = ' ';
    return (ok ? "ok " : "error ") + line + "\n";
}

queue::Result<ControlAnswer> parse_control_answer(std::string_view text) {
    if (text.size() > max_answer_octets) return queue::Error{"answer longer than " + std::to_string(max_answer_octets) + " octets"};
    if (text.empty() || text.back() != '\n') return queue::Error{"answer is not one line ending in a newline"};
    text.remove_suffix(1);
    if (text.find_first_of("\r\n") != std::string_view::npos) return queue::Error{"answer has more than one line"};
    for (const auto& [prefix, outcome] : {std::pair{std::string_view("ok "), ControlAnswer::Outcome::done},
                                          std::pair{std::string_view("error "), ControlAnswer::Outcome::refused}}) {
        if (text.substr(0, prefix.size()) != prefix) continue;
        const std::string_view said = text.substr(prefix.size());
        if (said.size() > max_answer_text_octets) return queue::Error{"answer text longer than " + std::to_string(max_answer_text_octets) + " octets"};
        return ControlAnswer{outcome, std::string(said)};
    }
    return queue::Error{"answer is neither 'ok' nor 'error'"};
}

queue::Result<bool> send_control_request(const std::string& state_dir, const ControlRequest& request) {
    auto posted = post_control_request(state_dir, request);
    if (!posted.ok()) return queue::Error{posted.error()};
    return signal_server(state_dir);
}

queue::Result<ControlAnswer> ask_server(const std::string& state_dir, const ControlRequest& request,
                                          std::chrono::milliseconds wait) {
    auto posted = post_control_request(state_dir, request);
    if (!posted.ok()) return queue::Error{posted.error()};
    const fs::path dir = control_dir(state_dir);
    const fs::path answer = dir / (*posted + std::string(answer_suffix));
    if (signal_server(state_dir)) {
        if (auto got = wait_for_answer(answer, wait)) return std::move(*got);
    }
    // No answer: take the request back. Removed by us means the server never read it.
    std::error_code ec;
    if (fs::remove(dir / (*posted + std::string(request_suffix)), ec)) return ControlAnswer{};
    if (ec) return queue::Error{"cannot withdraw the request " + *posted + ": " + ec.message()};
    if (auto got = wait_for_answer(answer, wait)) return std::move(*got);
    return ControlAnswer{ControlAnswer::Outcome::unknown, {}};
}

queue::Status answer_control_request(const std::string& state_dir, const ControlRequest& request,
                                     bool ok, std::string_view text) {
    if (request.name.empty()) return queue::Error{"the request has no name to answer"};
    return write_atomically(control_dir(state_dir) / (request.name + std::string(answer_suffix)),
                            format_control_answer(ok, text));
}

std::vector<ControlRequest> take_control_requests(const std::string& state_dir,
                                                  std::vector<std::string>* problems) {
    std::vector<ControlRequest> out;
    const fs::path dir = control_dir(state_dir);
    std::error_code ec;
    std::vector<fs::path> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path p = it->path();
        if (p.extension() == request_suffix) files.push_back(p);
    }
    std::sort(files.begin(), files.end());  // names start with a zero-padded time: oldest first
    remove_stale_answers(dir);
    for (const fs::path& p : files) {
        bool too_big = false;
        const std::string text = read_small_file(p, max_request_octets, too_big);
        auto request = too_big ? queue::Result<ControlRequest>(queue::Error{"longer than 64 octets"})
                               : parse_control_request(text);
        std::error_code rm;
        // Removed by us: the CLI did not withdraw it first (ask_server), so it is ours to answer.
        const bool taken = fs::remove(p, rm);
        if (!taken) continue;
        if (request.ok()) {
            request->name = p.stem().string();
            out.push_back(std::move(request).value());
        } else if (problems != nullptr) {
            problems->push_back("control request " + p.filename().string() + " ignored: " + request.error().message);
        }
    }
    return out;
}

StateLock::StateLock(StateLock&& other) noexcept
    : outcome(other.outcome), path(std::move(other.path)), error(std::move(other.error)),
      fd_(std::exchange(other.fd_, -1)) {}

StateLock::~StateLock() {
    if (fd_ >= 0) ::close(fd_);
}

StateLock try_lock_state_dir(const std::string& state_dir) {
    StateLock lock;
    lock.path = (std::filesystem::path(state_dir) / "pigeon.lock").string();
    lock.fd_ = ::open(lock.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock.fd_ < 0) {
        lock.error = "cannot open " + lock.path + ": " + std::strerror(errno);
        return lock;
    }
    if (::flock(lock.fd_, LOCK_EX | LOCK_NB) == 0) {
        lock.outcome = StateLock::Outcome::held;
    } else if (errno == EWOULDBLOCK) {
        lock.outcome = StateLock::Outcome::busy;
    } else {
        lock.error = "cannot lock " + lock.path + ": " + std::strerror(errno);
    }
    return lock;
}

}  // namespace pigeon::app
