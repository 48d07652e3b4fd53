// pigeon/app/logger.hpp: the running server's log, one line per event, to standard error, a
// file or syslog, as text or JSON (app/log_format.hpp shows the lines).
//
// Each line is formatted whole. While the server is serving (start_buffering() ..
// stop_buffering()), info and debug lines are gathered and written by a flusher thread about
// every 2 ms, one write(2) for many lines (syslog: one datagram per line, from that thread):
// writing each line at once cost more CPU than the SMTP dialogue. Warnings and errors are
// written at once (after what is pending), so nothing reorders. Control characters in the text
// are escaped for every caller and every target (app/log.hpp).
//
// Targets:
//   - stderr: the default.
//   - file: opened (append; created 0640 whatever the umask) by open(), which the server calls
//     after dropping privileges, so the file belongs to the service user and a reopen, which runs
//     as that user, can open it again. Lines before open() are held in memory (up to
//     max_held_octets, beyond which they go to stderr) and written first, in order; if the open
//     fails, or open() is never called, they go to stderr, so none is lost. open_error() says
//     why the file could not be opened. reopen() (the server calls it on SIGUSR2, after logrotate moved the file)
//     makes the next write open the path anew; lines written before that went to the old
//     file, so none is lost. If the new open fails, the old file is kept and a warning written.
//   - syslog: RFC 3164 datagrams "<PRI>Mmm dd hh:mm:ss pigeon/smtpd[pid]: text" to a Unix
//     datagram socket (/dev/log unless configured), facility mail unless configured. A line
//     syslog does not take (no listener) goes to stderr instead, so it is not lost.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "app/log_format.hpp"
#include "core/mail_event.hpp"
#include "net/server.hpp"

namespace pigeon::app {

struct LogOptions {
    enum class Target { standard_error, file, syslog };
    net::LogLevel level = net::LogLevel::info;
    LineFormat format = LineFormat::text;
    Target target = Target::standard_error;
    std::string file;                        // Target::file
    std::string syslog_socket = "/dev/log";  // Target::syslog
    int syslog_facility = 2;                 // RFC 5424 6.2.1: 2 is mail
};

class Logger {
public:
    explicit Logger(net::LogLevel level);
    explicit Logger(LogOptions options);
    ~Logger();
    Logger(const Logger&) = delete;
    Logger& operator=(const Logger&) = delete;

    // Opens the file target (other targets need nothing). False, with open_error() saying why,
    // when it cannot. Called once.
    bool open();
    // Why the configured target could not be opened; empty when it was (or is not yet).
    const std::string& open_error() const { return open_error_; }
    net::LogLevel level() const { return options_.level; }

    // A line of the server itself (service "master").
    void operator()(net::LogLevel level, std::string_view text) { write(level, "master", text); }
    void write(net::LogLevel level, std::string_view service, std::string_view text);
    // One message or connection event, at info.
    void event(const core::MailEvent& event);
    // A sink that writes as `service` ("smtpd", "local", "smtp").
    std::function<void(net::LogLevel, std::string_view)> sink(std::string service);

    void reopen() { reopen_requested_ = true; }  // async-signal-safe: only sets a flag

    void flush();  // writes what is pending, in order
    void start_buffering();
    void stop_buffering();

private:
    static constexpr std::size_t max_pending_octets = 1u << 20;
    static constexpr std::size_t max_held_octets = 1u << 20;

    template <class Format>
    void add(net::LogLevel level, Format&& format);
    void run();
    void write_out(const std::string& lines);  // with write_mutex_ held
    void write_syslog(const std::string& lines);
    bool send_datagram(std::string_view datagram);
    void reopen_file();

    LogOptions options_;
    long pid_;
    std::string open_error_;
    int fd_ = -1;  // the file, or the syslog socket (connected lazily)
    bool opened_ = false;  // file target: open() has run (fd_ is valid when it succeeded)
    std::string held_;     // file target: lines written before open(); under write_mutex_
    std::atomic<bool> reopen_requested_{false};
    std::mutex mutex_;        // pending_, buffering_
    std::mutex write_mutex_;  // one writer at a time, so lines leave in order; fd_
    std::condition_variable wake_;
    std::string pending_;
    bool buffering_ = false;
    std::thread flusher_;
};

}  // namespace pigeon::app
