// pigeon/delivery/maildir.cpp: tmp/ -> fsync -> new/ -> fsync, with POSIX calls.
#include "delivery/maildir.hpp"

#include "os/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace pigeon::delivery {
namespace {

using queue::Error;
using queue::Result;
using queue::Status;
using os::write_all;

int fsync_directory(const std::filesystem::path& dir) { return os::fsync_directory(dir.string()); }

Error failure(const char* op, const std::filesystem::path& path, int err) {
    return Error{std::string(op) + " " + path.string() + ": " + std::strerror(err)};
}

bool safe_component(std::string_view s) {
    if (s.empty() || s.size() > path_component_max_octets || s.front() == '.') {
        return false;  // also rules out "." and ".."; a leading dot is a Maildir++ folder
    }
    for (char c : s) {
        if (c == '/' || c == '\0' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
            return false;
        }
    }
    return true;
}

bool safe_folder(std::string_view s) {
    if (s.empty() || s.size() > path_component_max_octets - 1) {
        return false;
    }
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}


// mkdir -p, making each directory it creates durable in its parent.
Status ensure_directory(const std::filesystem::path& dir) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            return failure("mkdir", dir, ENOTDIR);
        }
        return {};
    }
    if (errno != ENOENT) {
        return failure("stat", dir, errno);
    }
    const std::filesystem::path parent = dir.parent_path();
    if (!parent.empty() && parent != dir) {
        if (Status s = ensure_directory(parent); !s) {
            return s;
        }
    }
    if (::mkdir(dir.c_str(), 0700) != 0) {
        if (errno == EEXIST) {
            return {};  // another deliverer made it first
        }
        return failure("mkdir", dir, errno);
    }
    if (const int err = fsync_directory(parent.empty() ? "." : parent); err != 0) {
        return failure("fsync", parent, err);
    }
    return {};
}

Status ensure_maildir(const std::filesystem::path& dir) {
    for (const char* sub : {"tmp", "new", "cur"}) {
        if (Status s = ensure_directory(dir / sub); !s) {
            return s;
        }
    }
    return {};
}


// Writes a new file and fsyncs it; on failure nothing is left behind.
Status write_durably(const std::filesystem::path& path, std::string_view bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return failure("create", path, errno);
    }
    int err = write_all(fd, bytes);
    const char* op = "write";
    if (err == 0 && ::fsync(fd) != 0) {
        err = errno;
        op = "fsync";
    }
    if (::close(fd) != 0 && err == 0 && errno != EINTR) {
        err = errno;
        op = "close";
    }
    if (err != 0) {
        ::unlink(path.c_str());
        return failure(op, path, err);
    }
    return {};
}

// The Maildir++ marker file of a subfolder (Courier and Dovecot look for it); empty.
Status ensure_folder_marker(const std::filesystem::path& folder_dir) {
    const std::filesystem::path marker = folder_dir / "maildirfolder";
    if (::access(marker.c_str(), F_OK) == 0) {
        return {};
    }
    const int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return failure("create", marker, errno);
    }
    ::close(fd);
    if (const int err = fsync_directory(folder_dir); err != 0) {
        return failure("fsync", folder_dir, err);
    }
    return {};
}

}  // namespace

Result<std::filesystem::path> maildir_path(const std::filesystem::path& state_dir,
                                             std::string_view domain, std::string_view user) {
    if (!safe_component(domain)) {
        return Error{"unsafe mailbox domain '" + std::string(domain) + "'"};
    }
    if (!safe_component(user)) {
        return Error{"unsafe mailbox user '" + std::string(user) + "'"};
    }
    return state_dir / "mail" / std::string(domain) / std::string(user) / "Maildir";
}

std::string maildir_unique_name(std::int64_t unix_seconds, std::uint64_t pid, std::uint64_t counter,
                                std::uint64_t random, std::string_view hostname, std::uint64_t size) {
    std::string host;
    for (char c : hostname) {
        if (c == '/') {
            host += "\\057";
        } else if (c == ':') {
            host += "\\072";
        } else {
            host += c;
        }
    }
    char buffer[96];
    std::snprintf(buffer, sizeof buffer, "%lld.P%lluQ%lluR%016llx.", static_cast<long long>(unix_seconds),
                  static_cast<unsigned long long>(pid), static_cast<unsigned long long>(counter),
                  static_cast<unsigned long long>(random));
    return buffer + host + ",S=" + std::to_string(size);
}

std::string maildir_content(const core::Path& sender, const core::Path& recipient,
                            std::string_view message) {
    std::string out;
    out.reserve(message.size() + 128);
    out += "Return-Path: " + sender.to_string() + "\n";
    std::string rcpt = recipient.to_string();  // "<a@b>": Delivered-To takes the bare address
    if (rcpt.size() >= 2 && rcpt.front() == '<' && rcpt.back() == '>') {
        rcpt = rcpt.substr(1, rcpt.size() - 2);
    }
    out += "Delivered-To: " + rcpt + "\n";
    for (std::size_t i = 0; i < message.size(); ++i) {
        if (message[i] == '\r' && i + 1 < message.size() && message[i + 1] == '\n') {
            continue;  // CRLF -> LF; a lone CR (never accepted by the DATA reader) stays
        }
        out += message[i];
    }
    return out;
}

MaildirWriter::MaildirWriter(const core::Clock& clock, queue::RandomSource& random,
                             std::string hostname, std::uint64_t pid)
    : clock_(clock), random_(random), hostname_(std::move(hostname)), pid_(pid) {}

Result<std::filesystem::path> MaildirWriter::prepare(const std::filesystem::path& maildir,
                                                       std::string_view folder) {
    if (maildir.empty()) {
        return Error{"maildir: empty path"};
    }
    if (!folder.empty() && !safe_folder(folder)) {
        return Error{"maildir: bad folder name '" + std::string(folder) + "'"};
    }
    // Maildir++: the root is itself a maildir (the inbox); folders are ".<name>" inside it.
    if (Status s = ensure_maildir(maildir); !s) {
        return Error{s.error()};
    }
    std::filesystem::path dir = maildir;
    if (!folder.empty()) {
        dir = maildir / ("." + std::string(folder));
        if (Status s = ensure_maildir(dir); !s) {
            return Error{s.error()};
        }
        if (Status s = ensure_folder_marker(dir); !s) {
            return Error{s.error()};
        }
    }
    return dir;
}

Result<std::filesystem::path> MaildirWriter::write_new(const std::filesystem::path& dir,
                                                         const std::string& name,
                                                         std::string_view content) {
    const std::filesystem::path tmp = dir / "tmp" / name;
    const std::filesystem::path fresh = dir / "new" / name;
    if (Status s = write_durably(tmp, content); !s) {
        return Error{s.error()};
    }
    if (::rename(tmp.c_str(), fresh.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        return failure("rename into", fresh, err);
    }
    if (const int err = fsync_directory(dir / "new"); err != 0) {
        // Not durable, so not delivered: take it back rather than risk a silent loss; the
        // caller retries (a reader may at worst have seen it once).
        ::unlink(fresh.c_str());
        return failure("fsync", dir / "new", err);
    }
    return fresh;
}

Result<std::filesystem::path> MaildirWriter::deliver(const std::filesystem::path& maildir,
                                                       std::string_view folder,
                                                       std::string_view content) {
    auto dir = prepare(maildir, folder);
    if (!dir) {
        return Error{dir.error()};
    }
    std::string name;
    {
        std::lock_guard lock(mutex_);
        name = maildir_unique_name(clock_.now_unix_seconds(), pid_, ++counter_, random_.next_u64(),
                                   hostname_, content.size());
    }
    return write_new(*dir, name, content);
}

Result<std::filesystem::path> MaildirWriter::deliver_once(const std::filesystem::path& maildir,
                                                            std::string_view folder,
                                                            std::string_view content,
                                                            const std::string& name,
                                                            bool look_in_cur) {
    if (!safe_component(name)) {
        return Error{"maildir: unsafe file name '" + name + "'"};
    }
    auto dir = prepare(maildir, folder);
    if (!dir) {
        return Error{dir.error()};
    }
    std::error_code ec;
    const auto existing = *dir / "new" / name;
    if (std::filesystem::exists(existing, ec)) {
        return existing;  // delivered before a crash: the spool just did not learn it
    }
    if (look_in_cur) {
        for (const auto& e : std::filesystem::directory_iterator(*dir / "cur", ec)) {
            const std::string seen = e.path().filename().string();
            if (seen == name || seen.rfind(name + ":", 0) == 0) {
                return e.path();
            }
        }
    }
    // A tmp/ file of the same name is a torn earlier attempt: never visible, safe to replace.
    ::unlink((*dir / "tmp" / name).c_str());
    return write_new(*dir, name, content);
}

std::string maildir_delivery_name(std::int64_t arrival_unix_seconds, std::string_view queue_id,
                                  std::size_t recipient_index, std::string_view hostname,
                                  std::uint64_t size) {
    std::string unique = maildir_unique_name(arrival_unix_seconds, 0, 0, 0, hostname, size);
    // Replace the ".P0Q0R<zeros>." part with the queue id and recipient index.
    const auto first_dot = unique.find('.');
    const auto host_dot = unique.find('.', first_dot + 1);
    return unique.substr(0, first_dot) + ".Q" + std::string(queue_id) + "R" +
           std::to_string(recipient_index) + unique.substr(host_dot);
}

}  // namespace pigeon::delivery
