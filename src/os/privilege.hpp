// pigeon/os/privilege.hpp: running as the service user. Started as root, the server binds its
// listeners and reads its keys, then gives up root for good (architecture.md, "Privilege").
//
// Contract:
//   - started_as_root(): the effective uid is 0.
//   - find_account(user, group) looks the user up in the password database and the group in
//     the group database (group empty: the user's primary group). The error names which is
//     missing. The account must not be root (uid 0 or gid 0): dropping to it gives nothing.
//   - drop_to(account): setgroups to exactly the account's group, then setgid, then setuid
//     (in that order: after setuid nothing else can be changed). Then it checks that the
//     change is complete and permanent: real, effective and saved uid and gid are the
//     account's, the supplementary groups are only its group, and setuid(0) and setgid(0)
//     both fail. Any step or check failing is an error; the caller must not go on.
//   - give_to(path, account): chown (not following a symbolic link) to the account. For what
//     the server creates as root before the drop (the state directory, its lock).
//   - owned_by(path, account): the file's owner is the account's uid.
//   - become_owner_of(path): run as root, drops for good (as drop_to) to the owner and group of
//     `path` when neither is root's; otherwise (not root, no such path, a root-owned path) does
//     nothing. For the CLI acting on a server's state directory (`pigeon queue`, `pigeon
//     reload` from root's shell or certbot's hook): what it writes there stays the server's.
//   - check_private_key_file(path): the file (following links, as opening it does) must not be
//     readable or writable by others (no o+r, o+w): an error names the file, its mode and the
//     command that fixes it. Group access is allowed (Debian's ssl-cert group reads keys). It
//     must also be readable by the real uid (access(2)): after the drop, at a live reload, an
//     error says how to let the service user read it.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "core/result.hpp"

namespace pigeon::os {

struct Account {
    std::string user;
    std::string group;
    uid_t uid = 0;
    gid_t gid = 0;
};

enum class PrivilegeCode : std::uint8_t { failed };
using PrivilegeError = core::Error<PrivilegeCode>;

bool started_as_root();
core::Result<Account, PrivilegeError> find_account(const std::string& user, const std::string& group);
core::Status<PrivilegeError> drop_to(const Account& account);
core::Status<PrivilegeError> give_to(const std::string& path, const Account& account);
core::Status<PrivilegeError> become_owner_of(const std::string& path);
bool owned_by(const std::string& path, const Account& account);
core::Status<PrivilegeError> check_private_key_file(const std::string& path);

}  // namespace pigeon::os
