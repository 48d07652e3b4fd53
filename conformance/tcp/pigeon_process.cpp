// PigeonProcess: configuration file, fork/exec, readiness, shutdown (see the header).
#include "pigeon_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace pigeon::conformance {
namespace fs = std::filesystem;
namespace {

constexpr auto ready_wait = std::chrono::seconds(30);  // a sanitizer build starts slowly
constexpr int start_attempts = 3;                      // a "free" port can be taken meanwhile

std::string toml_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

std::string toml_array(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + toml_string(items[i]);
    return out + "]";
}

std::string read_file(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string tail(const std::string& text, std::size_t lines) {
    std::size_t pos = text.size();
    for (std::size_t n = 0; n <= lines && pos > 0; ++n) {
        pos = text.rfind('\n', pos - 1);
        if (pos == std::string::npos) return text;
    }
    return text.substr(pos + 1);
}

// Distinct loopback ports the OS considers free right now: all sockets are held open until
// every port is known, so they differ; the server may still lose a race (start retries).
std::vector<std::uint16_t> free_ports(std::size_t n) {
    std::vector<int> fds;
    std::vector<std::uint16_t> ports;
    for (std::size_t i = 0; i < n; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            if (fd >= 0) ::close(fd);
            break;
        }
        fds.push_back(fd);
        ports.push_back(ntohs(addr.sin_port));
    }
    for (int fd : fds) ::close(fd);
    return ports;
}

// fork + exec with stdin/stdout/stderr redirected to files. The child gets SIGKILL when the
// runner dies, so a crashed or killed runner (a ctest timeout) leaves no server behind.
pid_t spawn(const std::vector<std::string>& argv, const fs::path& in, const fs::path& out,
            const fs::path& err) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int fd_in = ::open(in.c_str(), O_RDONLY);
    const int fd_out = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int fd_err = out == err ? fd_out : ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd_in < 0 || fd_out < 0 || fd_err < 0) ::_exit(127);
    ::dup2(fd_in, 0);
    ::dup2(fd_out, 1);
    ::dup2(fd_err, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
}

// Waits up to `ms` for the child; true with its status when it exited.
bool reap(pid_t pid, int ms, int& status) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (true) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    return "status " + std::to_string(status);
}

std::string make_temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "pigeon-conformance-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return {};
    return pattern;
}

}  // namespace

std::string config_toml(const ServerSetup& setup, const std::vector<std::uint16_t>& ports,
                        const fs::path& state_dir) {
    std::ostringstream t;
    t << "# Written by pigeon-conformance --tcp for one group of transcripts.\n"
      << "hostname = " << toml_string(setup.hostname) << "\n"
      << "local_domains = " << toml_array(setup.local_domains) << "\n"
      << "state_dir = " << toml_string(state_dir.string()) << "\n"
      << "allow_root = true\n"  // CI runs the suite as root
      << "log_level = \"info\"\n"
      << "threads = 1\n";
    if (!setup.cert_file.empty())
        t << "\n[tls]\ncert_file = " << toml_string(setup.cert_file.string())
          << "\nkey_file = " << toml_string(setup.key_file.string()) << "\n";
    const int timeout = setup.tiny_timeouts ? 1 : 300;
    t << "\n[limits]\n"
      << "command_timeout_seconds = " << timeout << "\n"
      << "data_block_timeout_seconds = " << (setup.tiny_timeouts ? 1 : 180) << "\n"
      << "data_timeout_seconds = " << (setup.tiny_timeouts ? 1 : 600) << "\n"
      << "max_message_octets = " << setup.max_message_octets << "\n"
      << "max_recipients = " << setup.max_recipients << "\n"
      << "max_errors_per_session = " << setup.max_errors << "\n"
      // Transcripts fail AUTH on purpose, many times a minute, all from 127.0.0.1.
      << "auth_failures_per_ip_per_minute = 100000\n"
      // Nothing is in flight when the runner stops the server: do not wait for sessions.
      << "shutdown_grace_seconds = 0\n";
    // The transcripts are about the SMTP dialogue; SPF and DMARC have their own tests (and the runner
    // must never send queries to the machine's resolver).
    t << "\n[spf]\ncheck = false\n[dmarc]\ncheck = false\n";
    for (std::size_t i = 0; i < setup.listeners.size(); ++i) {
        const auto& l = setup.listeners[i];
        t << "\n[[listeners]]\naddress = \"127.0.0.1\"\nport = " << ports.at(i) << "\nrole = "
          << (l.role == smtp::Role::inbound ? "\"inbound\"" : "\"submission\"")
          << "\ntls = " << toml_string(l.tls) << "\n";
    }
    for (const auto& u : setup.users) {
        t << "\n[[users]]\naddress = " << toml_string(u.address)
          << "\npassword_hash = " << toml_string(u.password_hash) << "\n";
        if (!u.aliases.empty()) t << "aliases = " << toml_array(u.aliases) << "\n";
    }
    return t.str();
}

core::Result<std::unique_ptr<PigeonProcess>> PigeonProcess::start(const fs::path& pigeon,
                                                                  const ServerSetup& setup) {
    std::unique_ptr<PigeonProcess> p(new PigeonProcess);
    const std::string dir = make_temp_dir();
    if (dir.empty()) return core::ParseError{std::string("mkdtemp: ") + std::strerror(errno)};
    p->dir_ = dir;
    p->state_dir_ = p->dir_ / "state";
    p->log_file_ = p->dir_ / "server.log";
    const fs::path config = p->dir_ / "pigeon.toml";

    std::string last_error;
    for (int attempt = 0; attempt < start_attempts; ++attempt) {
        p->ports_ = free_ports(setup.listeners.size());
        if (p->ports_.size() != setup.listeners.size()) return core::ParseError{"no free ports"};
        {
            std::ofstream out(config, std::ios::binary | std::ios::trunc);
            out << config_toml(setup, p->ports_, p->state_dir_);
            if (!out) return core::ParseError{"cannot write " + config.string()};
        }
        p->pid_ = spawn({pigeon.string(), "serve", "--config", config.string()}, "/dev/null",
                        p->log_file_, p->log_file_);
        if (p->pid_ < 0) return core::ParseError{std::string("fork: ") + std::strerror(errno)};
        const auto deadline = std::chrono::steady_clock::now() + ready_wait;
        while (true) {
            // serve.cpp logs "<time> info ready; stop with Ctrl-C ..." once it listens.
            if (p->log().find(" ready; ") != std::string::npos) return p;
            int status = 0;
            if (::waitpid(p->pid_, &status, WNOHANG) == p->pid_) {
                p->pid_ = -1;
                last_error = "pigeon serve ended before it was ready (" + describe_status(status) +
                             "); its log ends:\n" + tail(p->log(), 15);
                break;
            }
            if (std::chrono::steady_clock::now() >= deadline) {
                p->stop();
                return core::ParseError{"pigeon serve was not ready within " +
                                        std::to_string(ready_wait.count()) + " s; its log ends:\n" +
                                        tail(p->log(), 15)};
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        // Retry only when a port was taken between free_ports() and the server's bind.
        if (last_error.find("bind") == std::string::npos &&
            last_error.find("in use") == std::string::npos)
            break;
    }
    return core::ParseError{last_error};
}

std::string PigeonProcess::log() const { return read_file(log_file_); }

std::string PigeonProcess::stop(int grace_ms) {
    if (pid_ < 0) return stop_result_;
    int status = 0;
    ::kill(pid_, SIGTERM);
    if (!reap(pid_, grace_ms, status)) {
        ::kill(pid_, SIGKILL);
        reap(pid_, 5000, status);
        stop_result_ = "did not stop within " + std::to_string(grace_ms) + " ms of SIGTERM";
    } else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        stop_result_ = "ended with " + describe_status(status) + " after SIGTERM";
    }
    pid_ = -1;
    const auto text = log();
    if (text.find("ERROR: AddressSanitizer") != std::string::npos ||
        text.find("ERROR: LeakSanitizer") != std::string::npos ||
        text.find("runtime error:") != std::string::npos)
        stop_result_ += (stop_result_.empty() ? "" : "; ") + std::string("a sanitizer report");
    if (!stop_result_.empty()) stop_result_ += "; its log ends:\n" + tail(text, 30);
    return stop_result_;
}

PigeonProcess::~PigeonProcess() {
    stop();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
}

core::Result<std::string> hash_password(const fs::path& pigeon, const std::string& password) {
    const std::string dir = make_temp_dir();
    if (dir.empty()) return core::ParseError{std::string("mkdtemp: ") + std::strerror(errno)};
    const fs::path in = fs::path(dir) / "password", out = fs::path(dir) / "hash",
                   err = fs::path(dir) / "stderr";
    std::string result, error;
    {
        std::ofstream f(in, std::ios::binary);
        f << password << "\n";
    }
    const pid_t pid = spawn({pigeon.string(), "passwd"}, in, out, err);
    int status = 0;
    if (pid < 0) {
        error = std::string("fork: ") + std::strerror(errno);
    } else if (!reap(pid, 60'000, status)) {
        ::kill(pid, SIGKILL);
        reap(pid, 5000, status);
        error = "pigeon passwd did not finish within 60 s";
    } else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        error = "pigeon passwd: " + describe_status(status) + ": " + read_file(err);
    } else {
        result = read_file(out);
        while (!result.empty() && (result.back() == '\n' || result.back() == '\r')) result.pop_back();
        if (result.rfind("$argon2id$", 0) != 0 && result.rfind("$2", 0) != 0)
            error = "pigeon passwd printed no hash: " + result;
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (!error.empty()) return core::ParseError{error};
    return result;
}

}  // namespace pigeon::conformance
