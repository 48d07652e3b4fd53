// pigeon/app/logger.hpp: the running server's log, one line per event on standard error.
#pragma once
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>

#include "app/log.hpp"
#include "net/server.hpp"
#include "os/file_io.hpp"

namespace pigeon::app {

// One line per event on stderr: "2026-11-22T05:40:00Z info c3 state: Greeted -> CheckingSender".
// Each line is formatted whole and written with one write(2). While the server is serving
// (start_buffering() .. stop_buffering()), info and debug lines are gathered and written by a
// flusher thread about every 2 ms, one write(2) for many lines: a busy server logs a dozen
// lines per message, and writing each of them at once cost more CPU than the SMTP dialogue.
// Warnings and errors are written at once (after what is pending), so nothing reorders.
// Control characters in the text are escaped here, for every caller (app/log.hpp).
class Logger {
public:
    explicit Logger(net::LogLevel level) : level_(level) {}
    ~Logger() { stop_buffering(); }
    Logger(const Logger&) = delete;
    Logger& operator=(const Logger&) = delete;

    void operator()(net::LogLevel level, std::string_view text) {
        if (level > level_) return;
        std::time_t now = std::time(nullptr);
        std::tm tm{};
        gmtime_r(&now, &tm);
        char stamp[32];
        const std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ ", &tm);
        std::string line;
        line.reserve(n + 8 + text.size());
        line.append(stamp, n).append(log_level_name(level)).append(" ");
        append_log_text(line, text);  // whatever the line quotes, it stays one line
        line.append("\n");
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
    net::LogLevel level() const { return level_; }

    // Writes what is pending, in order.
    void flush() {
        std::lock_guard writer(write_mutex_);
        std::string out;
        {
            std::lock_guard lock(mutex_);
            out.swap(pending_);
        }
        if (!out.empty()) os::write_all(STDERR_FILENO, out);  // nowhere to report a failure
    }

    void start_buffering() {
        std::lock_guard lock(mutex_);
        if (buffering_) return;
        buffering_ = true;
        flusher_ = std::thread([this] { run(); });
    }
    void stop_buffering() {
        {
            std::lock_guard lock(mutex_);
            if (!buffering_) return;
            buffering_ = false;
        }
        wake_.notify_one();
        flusher_.join();
        flush();
    }

private:
    static constexpr std::size_t max_pending_octets = 1u << 20;

    void run() {
        std::unique_lock lock(mutex_);
        while (buffering_) {
            wake_.wait(lock, [this] { return !buffering_ || !pending_.empty(); });
            lock.unlock();
            std::this_thread::sleep_for(std::chrono::milliseconds(2));  // gather more lines
            flush();
            lock.lock();
        }
    }

    net::LogLevel level_;
    std::mutex mutex_;        // pending_, buffering_
    std::mutex write_mutex_;  // one writer at a time, so lines leave in order
    std::condition_variable wake_;
    std::string pending_;
    bool buffering_ = false;
    std::thread flusher_;
};

}  // namespace pigeon::app
