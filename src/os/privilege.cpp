// pigeon/os/privilege.cpp: see privilege.hpp.
#include "os/privilege.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace pigeon::os {
namespace {

PrivilegeError fail(std::string message) { return PrivilegeError{std::move(message), {}}; }

std::string errno_text() { return std::strerror(errno); }

std::string octal_mode(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

// The password and group databases' buffers: sysconf's hint, grown while ERANGE.
template <class Entry, class Lookup>
bool look_up(Lookup lookup, Entry& entry, std::vector<char>& buffer) {
    long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
    buffer.resize(hint > 0 ? static_cast<std::size_t>(hint) : 4096);
    for (int tries = 0; tries < 8; ++tries) {
        Entry* found = nullptr;
        const int rc = lookup(&entry, buffer.data(), buffer.size(), &found);
        if (rc == ERANGE) {
            buffer.resize(buffer.size() * 2);
            continue;
        }
        return rc == 0 && found != nullptr;
    }
    return false;
}

}  // namespace

bool started_as_root() { return ::geteuid() == 0; }

core::Result<Account, PrivilegeError> find_account(const std::string& user, const std::string& group) {
    Account account;
    struct passwd pw {};
    std::vector<char> pw_buffer;
    if (!look_up(
            [&](struct passwd* e, char* b, std::size_t n, struct passwd** r) {
                return ::getpwnam_r(user.c_str(), e, b, n, r);
            },
            pw, pw_buffer))
        return fail("user = \"" + user + "\": no such user in the password database (create it: " +
                    "adduser --system --group " + user + ")");
    account.user = user;
    account.uid = pw.pw_uid;
    account.gid = pw.pw_gid;
    if (!group.empty()) {
        struct group gr {};
        std::vector<char> gr_buffer;
        if (!look_up(
                [&](struct group* e, char* b, std::size_t n, struct group** r) {
                    return ::getgrnam_r(group.c_str(), e, b, n, r);
                },
                gr, gr_buffer))
            return fail("group = \"" + group + "\": no such group in the group database");
        account.gid = gr.gr_gid;
        account.group = group;
    } else {
        struct group gr {};
        std::vector<char> gr_buffer;
        if (look_up(
                [&](struct group* e, char* b, std::size_t n, struct group** r) {
                    return ::getgrgid_r(account.gid, e, b, n, r);
                },
                gr, gr_buffer))
            account.group = gr.gr_name;
        else
            account.group = std::to_string(account.gid);
    }
    if (account.uid == 0) return fail("user = \"" + user + "\" is root (uid 0): name an unprivileged user");
    if (account.gid == 0)
        return fail("user = \"" + user + "\": its group " + account.group +
                    " is gid 0 (root's group): name another with group = \"...\"");
    return account;
}

core::Status<PrivilegeError> drop_to(const Account& account) {
    const gid_t groups[1] = {account.gid};
    if (::setgroups(1, groups) != 0) return fail("setgroups(" + account.group + "): " + errno_text());
    if (::setresgid(account.gid, account.gid, account.gid) != 0)
        return fail("setgid(" + account.group + "): " + errno_text());
    if (::setresuid(account.uid, account.uid, account.uid) != 0)
        return fail("setuid(" + account.user + "): " + errno_text());

    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    if (::getresuid(&ruid, &euid, &suid) != 0 || ::getresgid(&rgid, &egid, &sgid) != 0)
        return fail("cannot read the process credentials back: " + errno_text());
    if (ruid != account.uid || euid != account.uid || suid != account.uid || rgid != account.gid ||
        egid != account.gid || sgid != account.gid)
        return fail("the credentials did not change completely to " + account.user + ":" + account.group);
    gid_t now[4];
    const int n = ::getgroups(4, now);
    if (n < 0 || n > 1 || (n == 1 && now[0] != account.gid))
        return fail("supplementary groups other than " + account.group + " remain");
    // Root must be out of reach: these must fail now.
    if (::setuid(0) == 0 || ::seteuid(0) == 0) return fail("root can still be regained after the drop");
    if (::setgid(0) == 0 || ::setegid(0) == 0) return fail("gid 0 can still be regained after the drop");
    return {};
}

core::Status<PrivilegeError> become_owner_of(const std::string& path) {
    struct stat st {};
    if (::geteuid() != 0 || ::stat(path.c_str(), &st) != 0 || st.st_uid == 0) return {};
    Account owner;
    owner.uid = st.st_uid;
    owner.gid = st.st_gid;
    const struct passwd* pw = ::getpwuid(st.st_uid);
    const struct group* gr = ::getgrgid(st.st_gid);
    owner.user = pw ? pw->pw_name : "uid " + std::to_string(st.st_uid);
    owner.group = gr ? gr->gr_name : "gid " + std::to_string(st.st_gid);
    if (owner.gid == 0) return {};  // not a service account's directory
    return drop_to(owner);
}

core::Status<PrivilegeError> give_to(const std::string& path, const Account& account) {
    if (::lchown(path.c_str(), account.uid, account.gid) != 0)
        return fail("chown " + account.user + ":" + account.group + " " + path + ": " + errno_text());
    return {};
}

bool owned_by(const std::string& path, const Account& account) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && st.st_uid == account.uid;
}

core::Status<PrivilegeError> check_private_key_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return fail(path + ": " + errno_text());
    if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0)
        return fail(path + " is a private key readable or writable by every user (mode " + octal_mode(st.st_mode) +
                    "); refusing to use it. Fix: chmod o-rwx " + path);
    if (::access(path.c_str(), R_OK) != 0) {
        // After the privilege drop (a live reload) keys are read as the service user.
        const std::string why = errno_text();
        const struct passwd* pw = ::getpwuid(::getuid());
        const struct group* gr = ::getgrgid(::getgid());
        const std::string user = pw ? pw->pw_name : "uid " + std::to_string(::getuid());
        const std::string group = gr ? gr->gr_name : std::to_string(::getgid());
        return fail("cannot read " + path + " as " + user + ": " + why +
                    ". A reload reads keys as the service user: give it the file's group, e.g. chgrp " + group + " " +
                    path + "; chmod 0640 " + path);
    }
    return {};
}

}  // namespace pigeon::os
