// pigeon queue list|show|delete|hold|release|flush|retry: the spool of a state directory.
// list and show read it directly (safe while the server runs: read-only recovery).
// Everything that changes the spool does so on the spool directly only while holding
// <state>/pigeon.lock (no server runs, none can start); when a server holds it, the server's
// own Spool makes the change (app/control.hpp): a second Spool writing beside it could append
// to the segment the server appends to next, or migrate and delete its segments.
// flush and retry move deferred recipients' next attempt to now; a request no server answers
// waits for the next start. delete, hold and release (of one message or, --all, of every
// queued one) wait for the server's answer; without one they withdraw the request, change
// nothing and fail.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "app/commands.hpp"
#include "app/control.hpp"
#include "os/posix_storage.hpp"
#include "os/random.hpp"
#include "os/system_clock.hpp"
#include "queue/spool.hpp"
#include "queue/queue_id.hpp"

namespace pigeon::app {
namespace fs = std::filesystem;
namespace {

std::string utc_time(std::int64_t t, const char* format) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, format, &tm);
    return buf;
}

std::string when(std::int64_t t) { return utc_time(t, "%Y-%m-%d %H:%M:%SZ"); }

// "attempts 2, next 2026-11-22 08:15:00Z" for a pending recipient; "" for a final one.
std::string schedule(const queue::RecipientStatus& s, std::int64_t now) {
    if (s.state != queue::RecipientState::pending) {
        return s.attempts == 0 ? "" : "  attempts " + std::to_string(s.attempts);
    }
    std::string out = "  attempts " + std::to_string(s.attempts) + ", next ";
    out += s.next_attempt_unix <= now ? std::string("now") : when(s.next_attempt_unix);
    if (s.delay_notified) out += ", sender warned of the delay";
    return out;
}

std::string recipient_line(const core::Path& path, const queue::RecipientStatus& s, std::int64_t now) {
    return "    " + path.to_string() + "  " + queue::state_name(s.state) + schedule(s, now) +
           (s.diagnostic.empty() ? "" : "  (" + s.diagnostic + ")") + "\n";
}

fs::path spool_dir(const config::Config& config) { return fs::path(config.state_dir) / "queue"; }

// Opens the spool without creating anything: a missing spool is an empty queue (f(nullptr)).
// mode: read_only for a spool a server may own; repair only while holding the state lock.
template <class F>
int with_spool(const config::Config& config, queue::Spool::Recovery mode, std::ostream& err, F&& f) {
    const auto dir = spool_dir(config);
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
        if (ec) {
            err << "pigeon: cannot read the state directory " << config.state_dir << ": " << ec.message() << "\n";
            return 1;
        }
        return f(nullptr);
    }
    auto storage = os::PosixStorage::open(dir.string(), os::SyncMode::fsync_each, false);
    if (!storage.ok()) {
        err << "pigeon: spool: " << storage.error().message << "\n";
        return 1;
    }
    os::SystemClock clock;
    os::SystemRandom random;
    queue::Spool spool(**storage, clock, random);
    auto report = spool.recover(mode);
    if (!report.ok()) {
        err << "pigeon: spool: " << report.error().message << "\n";
        return 1;
    }
    return f(&spool);
}

// True if `spool` holds message `id`; otherwise says so on `err`.
bool has_message(const queue::Spool* spool, const std::string& id, std::ostream& err) {
    if (spool != nullptr && spool->entry(id).ok()) return true;
    err << "pigeon: no message " << id << " in the queue\n";
    return false;
}

// True if `id` has the form of a queue id; otherwise says so on `err`.
bool valid_queue_id(const std::string& id, std::ostream& err) {
    if (queue::is_valid_queue_id(id)) return true;
    err << "pigeon: '" << id << "' is not a queue id (16 characters, as `pigeon queue list` shows)\n";
    return false;
}

std::size_t messages_with_pending(const queue::Spool& spool) {
    return spool.with_pending([](const core::Path&) { return true; }).size();
}

// What flush says when no message has a pending recipient it may retry: held messages
// (`queue hold`) are not retried, and are not "nothing" either.
std::string nothing_to_flush(const queue::Spool* spool) {
    if (spool == nullptr || spool->size() == 0) return "queue is empty\n";
    return "nothing to retry: the " + std::to_string(spool->size()) +
           " queued message(s) are held (`pigeon queue release ID`)\n";
}

// The state directory's lock: held (no server runs) or busy (one does); nullopt, having said
// why, when it cannot even be tried.
std::optional<StateLock> lock_state_dir(const config::Config& config, std::ostream& err) {
    StateLock lock = try_lock_state_dir(config.state_dir);
    if (lock.outcome != StateLock::Outcome::failed) return lock;
    err << "pigeon: " << lock.error << "\n";
    return std::nullopt;
}

// No server runs and none can start while we hold the lock: change the spool here.
int reschedule_here(const config::Config& config, const std::string& id, std::ostream& out, std::ostream& err) {
    const bool flush = id.empty();
    return with_spool(config, queue::Spool::Recovery::repair, err, [&](queue::Spool* spool) {
        if (flush && (spool == nullptr || messages_with_pending(*spool) == 0)) {
            out << nothing_to_flush(spool);
            return 0;
        }
        if (!flush && !has_message(spool, id, err)) return 1;
        os::SystemClock clock;
        const std::int64_t now = clock.now_unix_seconds();
        if (flush) {
            const std::size_t n = messages_with_pending(*spool);
            if (auto s = spool->reschedule_all(now); !s.ok()) {
                err << "pigeon: " << s.error().message << "\n";
                return 1;
            }
            out << "no server is running: " << n << " message(s) with deferred recipients are due now;"
                << " they are tried when the server starts\n";
            return 0;
        }
        if (auto s = spool->reschedule(id, now); !s.ok()) {
            err << "pigeon: " << s.error().message << "\n";
            return 1;
        }
        out << "no server is running: " << id << " is due now; it is tried when the server starts\n";
        return 0;
    });
}

// A server holds the lock. Check what we can without touching its spool, then ask it.
int ask_server_to_retry(const config::Config& config, const std::string& id, std::ostream& out,
                        std::ostream& err) {
    const bool flush = id.empty();
    const int checked = with_spool(config, queue::Spool::Recovery::read_only, err, [&](queue::Spool* spool) {
        if (flush) {
            if (spool == nullptr || messages_with_pending(*spool) == 0) {
                out << nothing_to_flush(spool);
                return 2;  // nothing to ask for
            }
            return 0;
        }
        return has_message(spool, id, err) ? 0 : 1;
    });
    if (checked != 0) return checked == 2 ? 0 : checked;
    const ControlRequest request{flush ? ControlRequest::Kind::flush : ControlRequest::Kind::retry, id};
    auto sent = send_control_request(config.state_dir, request);
    if (!sent.ok()) {
        err << "pigeon: cannot send the request to the server: " << sent.error().message << "\n";
        return 1;
    }
    const std::string what = flush ? "every deferred recipient" : id;
    if (*sent) {
        out << "asked the running server to retry " << what << " now\n";
    } else {
        out << "the state directory is in use but no running server answered; the request to retry "
            << what << " waits in " << (fs::path(config.state_dir) / "control").string()
            << " for the server's next start\n";
    }
    return 0;
}

// `pigeon queue flush` (id empty) and `pigeon queue retry ID`.
int reschedule_now(const config::Config& config, const std::string& id, std::ostream& out, std::ostream& err) {
    const bool flush = id.empty();
    std::error_code ec;
    const fs::file_status state = fs::status(config.state_dir, ec);
    if (state.type() != fs::file_type::directory) {
        if (state.type() != fs::file_type::not_found) {
            err << "pigeon: cannot read the state directory " << config.state_dir
                << (ec ? ": " + ec.message() : std::string(": not a directory")) << "\n";
            return 1;
        }
        if (flush) {
            out << "queue is empty (no state directory " << config.state_dir << ")\n";
            return 0;
        }
        err << "pigeon: no message " << id << " in the queue (no state directory " << config.state_dir << ")\n";
        return 1;
    }
    const std::optional<StateLock> lock = lock_state_dir(config, err);
    if (!lock) return 1;
    if (lock->outcome == StateLock::Outcome::held) return reschedule_here(config, id, out, err);
    return ask_server_to_retry(config, id, out, err);
}

const char* verb_done(ControlRequest::Kind kind) {
    switch (kind) {
        case ControlRequest::Kind::remove: return "deleted";
        case ControlRequest::Kind::hold:
        case ControlRequest::Kind::hold_all: return "held";
        case ControlRequest::Kind::release:
        case ControlRequest::Kind::release_all: return "released";
        default: return "changed";
    }
}

bool changes_all(ControlRequest::Kind kind) {
    return kind == ControlRequest::Kind::hold_all || kind == ControlRequest::Kind::release_all;
}

queue::Status apply_directly(queue::Spool& spool, ControlRequest::Kind kind, const std::string& id) {
    if (kind == ControlRequest::Kind::remove) return spool.remove(id);
    return spool.hold(id, kind == ControlRequest::Kind::hold);
}

// No server runs and none can start while we hold the lock: change the spool here.
int change_here(const config::Config& config, ControlRequest::Kind kind, const std::string& id, std::ostream& out,
                std::ostream& err) {
    return with_spool(config, queue::Spool::Recovery::repair, err, [&](queue::Spool* spool) {
        if (changes_all(kind)) {
            if (spool == nullptr) {
                out << "queue is empty\n";
                return 0;
            }
            auto done = hold_all_messages(*spool, kind == ControlRequest::Kind::hold_all, nullptr);
            if (!done.ok()) {
                err << "pigeon: " << done.error().message << "\n";
                return 1;
            }
            out << *done << "\n";
            return 0;
        }
        if (!has_message(spool, id, err)) return 1;
        if (auto s = apply_directly(*spool, kind, id); !s.ok()) {
            err << "pigeon: " << id << ": " << s.error().message << "\n";
            return 1;
        }
        out << verb_done(kind) << " " << id << "\n";
        return 0;
    });
}

// delete/hold/release of one message, or hold/release of all (id empty): directly under the
// lock, else by the server's answer.
int change_message(const config::Config& config, ControlRequest::Kind kind, const std::string& id, std::ostream& out,
                   std::ostream& err, std::chrono::milliseconds wait) {
    const bool all = changes_all(kind);
    if (!all && !valid_queue_id(id, err)) return 1;
    std::error_code ec;
    if (fs::status(config.state_dir, ec).type() != fs::file_type::directory) {
        if (all) {
            out << "queue is empty (no state directory " << config.state_dir << ")\n";
            return 0;
        }
        err << "pigeon: no message " << id << " in the queue (no state directory " << config.state_dir << ")\n";
        return 1;
    }
    const std::optional<StateLock> lock = lock_state_dir(config, err);
    if (!lock) return 1;
    if (lock->outcome == StateLock::Outcome::held) return change_here(config, kind, id, out, err);
    // A server owns the spool: only it may write to it. Ask it, and wait for its answer.
    auto answer = ask_server(config.state_dir, ControlRequest{kind, id, {}}, wait);
    if (!answer.ok()) {
        err << "pigeon: cannot send the request to the server: " << answer.error().message << "\n";
        return 1;
    }
    const std::string seconds = std::to_string((wait.count() + 999) / 1000);
    const std::string what = all ? "the queued messages were" : id + " was";
    switch (answer->outcome) {
        case ControlAnswer::Outcome::done:
            out << (all ? answer->text : verb_done(kind) + (" " + id)) << " (by the running server)\n";
            return 0;
        case ControlAnswer::Outcome::refused:
            err << "pigeon: the running server refused: " << answer->text << "\n";
            return 1;
        case ControlAnswer::Outcome::no_answer:
            err << "pigeon: a server holds " << lock->path << " but did not answer within " << seconds
                << " s; nothing was changed\n";
            return 1;
        case ControlAnswer::Outcome::unknown:
            err << "pigeon: the server took the request but did not answer within " << 2 * wait.count() / 1000
                << " s; whether " << what << " " << verb_done(kind) << " is unknown (see `pigeon queue "
                << (all ? std::string("list") : "show " + id) << "`)\n";
            return 1;
    }
    return 1;
}

// JSON string content (RFC 8259 7): quotes, backslashes and control characters escaped.
std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
            out += esc;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string json_recipient(const queue::RecipientSummary& r) {
    const queue::RecipientStatus& s = r.status;
    return "{\"address\": " + json_string(r.path.to_string()) + ", \"state\": " + json_string(queue::state_name(s.state)) +
           ", \"attempts\": " + std::to_string(s.attempts) + ", \"next_attempt\": " +
           (s.state == queue::RecipientState::pending ? std::to_string(s.next_attempt_unix) : std::string("null")) +
           ", \"last_reply\": " + (s.diagnostic.empty() ? std::string("null") : json_string(s.diagnostic)) + "}";
}

// Postfix's ctime-like "Thu Dec  7 10:00:00" (UTC here).
std::string mailq_time(std::int64_t t) { return utc_time(t, "%a %b %e %H:%M:%S"); }

}  // namespace

queue::Result<std::string> hold_all_messages(queue::Spool& spool, bool held,
                                             const std::function<void(const std::string&)>& on_released) {
    auto changed = spool.hold_all(held);
    if (!changed.ok()) return changed.error();
    if (!held && on_released)
        for (const std::string& id : *changed) on_released(id);
    return std::string(held ? "held " : "released ") + std::to_string(changed->size()) + " of " +
           std::to_string(spool.size()) + " queued message(s)";
}

std::string format_queue_json(const std::vector<queue::MessageSummary>& messages) {
    std::string out = "[";
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const queue::MessageSummary& m = messages[i];
        out += (i ? ",\n " : "\n ") + std::string("{\"id\": ") + json_string(m.id) +
               ", \"sender\": " + json_string(m.sender.to_string()) + ", \"size\": " + std::to_string(m.size_octets) +
               ", \"arrival\": " + std::to_string(m.arrival_unix_seconds) + ", \"held\": " + (m.held ? "true" : "false") +
               ", \"recipients\": [";
        for (std::size_t k = 0; k < m.recipients.size(); ++k)
            out += (k ? ", " : "") + json_recipient(m.recipients[k]);
        out += "]}";
    }
    return out + (messages.empty() ? "]\n" : "\n]\n");
}

std::string format_mailq(const std::vector<queue::MessageSummary>& messages) {
    if (messages.empty()) return "Mail queue is empty\n";
    std::string out = "-Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------\n";
    std::uint64_t octets = 0;
    for (const queue::MessageSummary& m : messages) {
        octets += m.size_octets;
        char line[160];
        const std::string sender = m.sender.is_null() ? "MAILER-DAEMON" : m.sender.mailbox.to_string();
        std::snprintf(line, sizeof line, "%-17s %8llu %-20.20s ", (m.id + (m.held ? "!" : "")).c_str(),
                      static_cast<unsigned long long>(m.size_octets), mailq_time(m.arrival_unix_seconds).c_str());
        out += line + sender + "\n";
        for (const queue::RecipientSummary& r : m.recipients) {
            if (r.status.state != queue::RecipientState::pending) continue;
            if (!r.status.diagnostic.empty()) out += "(" + r.status.diagnostic.substr(0, 200) + ")\n";
            out += std::string(50, ' ') + (r.path.kind == core::Path::Kind::mailbox ? r.path.mailbox.to_string()
                                                                                   : r.path.to_string()) + "\n";
        }
        out += "\n";
    }
    const std::uint64_t kbytes = (octets + 1023) / 1024;
    out += "-- " + std::to_string(kbytes) + " Kbytes in " + std::to_string(messages.size()) +
           (messages.size() == 1 ? " Request.\n" : " Requests.\n");
    return out;
}

int print_mailq(const config::Config& config, std::ostream& out, std::ostream& err) {
    return with_spool(config, queue::Spool::Recovery::read_only, err, [&](queue::Spool* spool) {
        out << format_mailq(spool == nullptr ? std::vector<queue::MessageSummary>{} : spool->list());
        return 0;
    });
}

int print_queue_json(const config::Config& config, std::ostream& out, std::ostream& err) {
    return with_spool(config, queue::Spool::Recovery::read_only, err, [&](queue::Spool* spool) {
        out << format_queue_json(spool == nullptr ? std::vector<queue::MessageSummary>{} : spool->list());
        return 0;
    });
}

int print_queue_list(const config::Config& config, std::ostream& out, std::ostream& err) {
    return with_spool(config, queue::Spool::Recovery::read_only, err, [&](queue::Spool* spool) {
        if (spool == nullptr || spool->size() == 0) {
            out << "queue is empty\n";
            return 0;
        }
        const std::int64_t now = os::SystemClock().now_unix_seconds();
        for (const auto& m : spool->list()) {
            out << m.id << "  " << when(m.arrival_unix_seconds) << "  " << m.size_octets
                << " octets  from " << m.sender.to_string() << (m.held ? "  HELD" : "") << "\n";
            for (const auto& r : m.recipients) out << recipient_line(r.path, r.status, now);
        }
        out << spool->size() << " message(s)\n";
        return 0;
    });
}

int print_queue_show(const config::Config& config, const std::string& id, std::ostream& out, std::ostream& err) {
    return with_spool(config, queue::Spool::Recovery::read_only, err, [&](queue::Spool* spool) {
        if (spool == nullptr) {
            err << "pigeon: no message " << id << " in the queue (the queue is empty)\n";
            return 1;
        }
        auto record = spool->show(id);
        if (!record.ok()) {
            err << "pigeon: no message " << id << " in the queue\n";
            return 1;
        }
        const std::int64_t now = os::SystemClock().now_unix_seconds();
        const auto& e = record->entry;
        out << "id:        " << e.id << "\narrived:   " << when(e.arrival_unix_seconds)
            << "\nfrom:      " << e.envelope.reverse_path.to_string()
            << "\nclient:    " << e.envelope.helo << " [" << e.envelope.client_address << "]"
            << (e.envelope.tls ? " TLS" : "")
            << (e.envelope.auth_identity.empty() ? "" : " user " + e.envelope.auth_identity)
            << "\nsize:      " << record->message.size() << " octets"
            << (e.held ? "\nheld:      yes, not delivered until `pigeon queue release " + e.id + "`" : "")
            << "\nrecipients:\n";
        for (std::size_t i = 0; i < e.envelope.recipients.size(); ++i)
            out << recipient_line(e.envelope.recipients[i], e.status[i], now);
        out << "\n" << record->message;
        return 0;
    });
}

int run_queue_flush(const config::Config& config, std::ostream& out, std::ostream& err) {
    return reschedule_now(config, "", out, err);
}

int run_queue_retry(const config::Config& config, const std::string& id, std::ostream& out, std::ostream& err) {
    if (!valid_queue_id(id, err)) return 1;
    return reschedule_now(config, id, out, err);
}

int run_queue_list(const config::Config& config) { return print_queue_list(config, std::cout, std::cerr); }

int run_queue_show(const config::Config& config, const std::string& id) {
    return print_queue_show(config, id, std::cout, std::cerr);
}

int run_queue_change(const config::Config& config, ControlRequest::Kind kind, const std::string& id, std::ostream& out,
                     std::ostream& err, std::chrono::milliseconds wait) {
    return change_message(config, kind, id, out, err, wait);
}

int run_queue_delete(const config::Config& config, const std::string& id) {
    return change_message(config, ControlRequest::Kind::remove, id, std::cout, std::cerr, control_answer_wait);
}

}  // namespace pigeon::app
