#include "app/logger.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "os/file_io.hpp"

namespace pigeon::app {
namespace {

constexpr int file_mode = 0640;

// A file it creates gets file_mode exactly: the unit's UMask=0077 would make it 0600, and the
// log group (adm, through a set-group-ID /var/log/pigeon) could not read it.
int open_log_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, file_mode);
    if (fd >= 0) {
        ::fchmod(fd, file_mode);
        return fd;
    }
    if (errno != EEXIST) return -1;
    return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
}

// RFC 3164 4.1.1-2: "<PRI>" (facility * 8 + severity) and the local time "Mmm dd hh:mm:ss ".
void append_syslog_head(std::string& out, int facility, net::LogLevel level, std::time_t now) {
    int severity = 6;  // informational
    switch (level) {
        case net::LogLevel::error: severity = 3; break;
        case net::LogLevel::warn: severity = 4; break;
        case net::LogLevel::info: severity = 6; break;
        case net::LogLevel::debug: severity = 7; break;
    }
    std::tm tm{};
    localtime_r(&now, &tm);
    char stamp[24];
    const std::size_t n = std::strftime(stamp, sizeof stamp, "%b %e %H:%M:%S ", &tm);
    out.append("<").append(std::to_string(facility * 8 + severity)).append(">").append(stamp, n);
}

}  // namespace

namespace {
LogOptions at_level(net::LogLevel level) {
    LogOptions o;
    o.level = level;
    return o;
}
}  // namespace

Logger::Logger(net::LogLevel level) : Logger(at_level(level)) {}

Logger::Logger(LogOptions options) : options_(std::move(options)), pid_(static_cast<long>(::getpid())) {}

Logger::~Logger() {
    stop_buffering();
    flush();
    if (!held_.empty()) os::write_all(STDERR_FILENO, held_);
    if (fd_ >= 0) ::close(fd_);
}

bool Logger::open() {
    if (options_.target != LogOptions::Target::file) return true;
    flush();
    std::lock_guard writer(write_mutex_);
    opened_ = true;
    fd_ = open_log_file(options_.file);
    if (fd_ < 0) {
        open_error_ = "cannot open the log file " + options_.file + " as uid " + std::to_string(::geteuid()) + ": " +
                      std::strerror(errno);
        if (!held_.empty()) os::write_all(STDERR_FILENO, held_);
    } else if (!held_.empty() && os::write_all(fd_, held_) != 0) {
        os::write_all(STDERR_FILENO, held_);
    }
    held_.clear();
    held_.shrink_to_fit();
    return fd_ >= 0;
}

template <class Format>
void Logger::add(net::LogLevel level, Format&& format) {
    if (level > options_.level) return;
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char stamp[32];
    const std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const LineHead head{std::string_view(stamp, n), level, {}, pid_};
    std::string line;
    line.reserve(160);
    if (options_.target == LogOptions::Target::syslog) {
        append_syslog_head(line, options_.syslog_facility, level, now);
        format(line, head, false);
    } else {
        format(line, head, true);
    }
    line += '\n';
    const bool urgent = level <= net::LogLevel::warn;
    {
        std::lock_guard lock(mutex_);
        pending_ += line;
        if (buffering_ && !urgent && pending_.size() < max_pending_octets) {
            wake_.notify_one();
            return;
        }
    }
    flush();
}

void Logger::write(net::LogLevel level, std::string_view service, std::string_view text) {
    add(level, [&](std::string& line, LineHead head, bool with_head) {
        if (options_.target == LogOptions::Target::syslog) append_tag(line, service, pid_);
        head.service = service;
        append_line(line, options_.format, head, text, with_head);
    });
}

void Logger::event(const core::MailEvent& event) {
    add(net::LogLevel::info, [&](std::string& line, const LineHead& head, bool with_head) {
        if (options_.target == LogOptions::Target::syslog) append_tag(line, event_service(event), pid_);
        append_event_line(line, options_.format, head, event, with_head);
    });
}

std::function<void(net::LogLevel, std::string_view)> Logger::sink(std::string service) {
    return [this, service = std::move(service)](net::LogLevel level, std::string_view text) {
        write(level, service, text);
    };
}

void Logger::flush() {
    std::lock_guard writer(write_mutex_);
    std::string out;
    {
        std::lock_guard lock(mutex_);
        out.swap(pending_);
    }
    if (!out.empty()) write_out(out);
}

void Logger::write_out(const std::string& lines) {
    switch (options_.target) {
        case LogOptions::Target::standard_error:
            os::write_all(STDERR_FILENO, lines);  // nowhere to report a failure
            break;
        case LogOptions::Target::file:
            if (!opened_) {  // before open(): held, in order, within a bound
                if (held_.size() + lines.size() > max_held_octets) {
                    os::write_all(STDERR_FILENO, held_);
                    held_.clear();
                }
                held_ += lines;
                break;
            }
            if (reopen_requested_.exchange(false)) reopen_file();
            if (fd_ < 0 || os::write_all(fd_, lines) != 0) os::write_all(STDERR_FILENO, lines);
            break;
        case LogOptions::Target::syslog:
            write_syslog(lines);
            break;
    }
}

// A new file at the configured path; the old one stays open until the new one is.
void Logger::reopen_file() {
    const int fd = open_log_file(options_.file);
    if (fd < 0) {
        const std::string warning = "warning: cannot reopen the log file " + options_.file + ": " +
                                    std::strerror(errno) + "; still writing to the old one\n";
        if (fd_ >= 0) os::write_all(fd_, warning);
        return;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

void Logger::write_syslog(const std::string& lines) {
    std::size_t start = 0;
    while (start < lines.size()) {
        std::size_t end = lines.find('\n', start);
        if (end == std::string::npos) end = lines.size();
        const std::string_view datagram(lines.data() + start, end - start);
        if (!send_datagram(datagram)) os::write_all(STDERR_FILENO, std::string(datagram) + "\n");
        start = end + 1;
    }
}

// Connects on first use and again after the listener went away (syslog restarted).
bool Logger::send_datagram(std::string_view datagram) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (fd_ < 0) {
            sockaddr_un addr{};
            addr.sun_family = AF_UNIX;
            if (options_.syslog_socket.size() >= sizeof addr.sun_path) return false;
            std::memcpy(addr.sun_path, options_.syslog_socket.data(), options_.syslog_socket.size());
            fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (fd_ < 0) return false;
            if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
                ::close(fd_);
                fd_ = -1;
                return false;
            }
        }
        if (::send(fd_, datagram.data(), datagram.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(datagram.size()))
            return true;
        ::close(fd_);
        fd_ = -1;
    }
    return false;
}

void Logger::start_buffering() {
    std::lock_guard lock(mutex_);
    if (buffering_) return;
    buffering_ = true;
    flusher_ = std::thread([this] { run(); });
}

void Logger::stop_buffering() {
    {
        std::lock_guard lock(mutex_);
        if (!buffering_) return;
        buffering_ = false;
    }
    wake_.notify_one();
    flusher_.join();
    flush();
}

void Logger::run() {
    std::unique_lock lock(mutex_);
    while (buffering_) {
        wake_.wait(lock, [this] { return !buffering_ || !pending_.empty(); });
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // gather more lines
        flush();
        lock.lock();
    }
}

}  // namespace pigeon::app
