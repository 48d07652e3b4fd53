// pigeon/policy/user_directory.hpp: the questions a user directory answers, asynchronously,
// for a directory that lives outside the configuration file ([directory] backend: a
// passwd-file, SQLite, PostgreSQL; src/directory/ implements them).
//
// The questions (each keyed by a lower-case address or login):
//   recipient(address)  is this a local recipient, and who receives: the address of the user
//                       whose Maildir gets the mail (the address itself, or the user an alias
//                       in the backend points to);
//   login(login)        the account behind an AUTH login: its address and password hash, which
//                       the server verifies on its auth pool;
//   senders(login)      the addresses this login may send as (its own address always may).
// Each answer is found (with its value), not found, or unavailable (with a reason: the backend
// is down, too slow, or too busy). An unavailable answer is never taken for "not found": it
// gives 451 4.3.0 at RCPT, 454 4.7.0 at AUTH, 451 4.3.0 at MAIL and end of DATA, and a
// deferral at local delivery.
//
// Contract:
//   - `done` is called exactly once, either before the call returns (a cached answer, a
//     refusal for too many lookups in flight) or later from the directory's own thread pool;
//     callers that care about threads post it back (the server's connections do).
//   - The blocking parts (files, SQL) never run on the caller's thread, except in
//     recipient_blocking, meant for threads that may block (local delivery's worker).
//   - Thread-safe.
// The TOML [[users]] (policy::Directory) needs none of this: with no [directory] backend the
// pipeline answers from it at once, as it always did.
//
// The lead's later addressing work (recipient delimiter, catch-all, alias expansion to several
// addresses) fits here: recipient() may grow a list of targets; callers go through
// recipient_verdict() below.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/address.hpp"
#include "smtp/server/session.hpp"

namespace pigeon::policy {

enum class Found { yes, no, unavailable };

template <class T>
struct Lookup {
    Found status = Found::no;
    T value{};           // Found::yes only
    std::string reason;  // Found::unavailable: why (for the log, never for the client)

    static Lookup found(T v) { return Lookup{Found::yes, std::move(v), {}}; }
    static Lookup not_found() { return Lookup{}; }
    static Lookup unavailable(std::string why) { return Lookup{Found::unavailable, T{}, std::move(why)}; }
    bool ok() const { return status == Found::yes; }
};

struct Account {
    std::string address;        // who the login is (lower case)
    std::string password_hash;  // as stored: "$argon2id$...", "{SHA512-CRYPT}$6$..."
    friend bool operator==(const Account&, const Account&) = default;
};

class UserDirectory {
public:
    virtual ~UserDirectory() = default;
    virtual void recipient(std::string address, std::function<void(Lookup<std::string>)> done) = 0;
    virtual void login(std::string login, std::function<void(Lookup<Account>)> done) = 0;
    virtual void senders(std::string login, std::function<void(Lookup<std::vector<std::string>>)> done) = 0;
    // As recipient(), on the caller's thread (which may block up to the lookup timeout).
    virtual Lookup<std::string> recipient_blocking(const std::string& address) = 0;
};

// recipient() for each of `keys` in turn (Directory::lookup_keys: the address, without its
// extension, the catch-all) until one is found; an unavailable answer stops the search (never
// a fall-through to a catch-all while the backend is down). done gets the last answer.
void find_recipient(const std::shared_ptr<UserDirectory>& directory, std::vector<std::string> keys,
                    std::function<void(Lookup<std::string>)> done);
Lookup<std::string> find_recipient_blocking(UserDirectory& directory, const std::vector<std::string>& keys);

// RCPT for a local-domain recipient from the directory's answer: 250, 550 5.1.1 (unknown),
// or 451 4.3.0 (the directory is unavailable: RFC 3463 4.3.0, "other or undefined mail system
// status"; the client retries).
smtp::Verdict recipient_verdict(const Lookup<std::string>& answer, const core::Path& recipient);
// MAIL on submission from the login's addresses: 250, 553 5.7.1 (not theirs), 451 4.3.0.
smtp::Verdict sender_verdict(const Lookup<std::vector<std::string>>& answer, const std::string& login,
                             const core::Path& sender);
// True when `address` is the login itself or one of the found addresses (case-insensitive).
bool may_send_as(const std::vector<std::string>& addresses, const std::string& login, std::string_view address);
// The temporary refusal for a directory that is unavailable.
smtp::Verdict directory_unavailable();

}  // namespace pigeon::policy
