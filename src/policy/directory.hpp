// pigeon/policy/directory.hpp: who may send what to whom: the answers to the session's CheckSender,
// CheckRecipient and CheckMessage, and where local mail goes.
//
// Contract: pure functions of the configured Directory and their inputs. No I/O, no clock or
// random source (the caller passes the date and the Message-ID it wants added).
// SPF (at MAIL FROM), DKIM, DMARC and Authentication-Results (at the end of DATA) are not
// here: policy::Pipeline (pipeline.hpp) runs them around these answers, with DNS and crypto.
//   inbound     MAIL: accepted (then SPF: spf_step.hpp).
//               RCPT: a local domain's user, alias, discard address ([delivery] discard:
//                     accepted like a user's, dropped at delivery) or postmaster -> 250,
//                     found by the address, then without its extension ([delivery]
//                     recipient_delimiter), then the domain's catch-all (lookup_keys);
//                     another local address -> 550 5.1.1; any other domain -> 554 5.7.1
//                     relay denied (never an open relay).
//               end of DATA: accepted (then DKIM and DMARC: dmarc_step.hpp).
//   submission  MAIL: only one of the authenticated user's addresses (login or alias: owns()), and
//                     never the null path -> else 553 5.7.1 (RFC 6409 6.1).
//               RCPT: any remote address; a local address must exist (a user, alias or
//                     discard address; else 550 5.1.1).
//               end of DATA: every From: address must be the user's (553 5.7.1); a message
//                     without a parsable header or From: is refused (550 5.6.0); Date: and
//                     Message-ID: are added when missing (RFC 6409 8.2, 8.3).
//   local       (pigeon sendmail, net/local_submission.hpp) as submission, but the owner is the
//               calling Unix user (LocalCaller): its mapped address and, when that address is
//               a user's, that user's aliases; a trusted caller may use any address.
// Addresses match case-insensitively (local parts too: RFC 5321 2.4 lets the receiving host
// decide, and treating "Bob" and "bob" as two users invites confusion).
#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.hpp"
#include "core/address.hpp"
#include "core/result.hpp"
#include "policy/user_directory.hpp"
#include "smtp/server/session.hpp"

namespace pigeon::policy {


class Directory {
public:
    // discard: [delivery] discard, addresses accepted like a user's whose mail is dropped at
    // local delivery (the configuration keeps them apart from users and aliases).
    // backend: [directory] backend (user_directory.hpp) that answers for the users instead of
    // `users` (then empty); null: `users` ([[users]]).
    // recipient_delimiter: [delivery] recipient_delimiter (see lookup_keys).
    Directory(std::vector<std::string> local_domains, std::vector<config::User> users,
              std::vector<std::string> discard = {}, std::shared_ptr<UserDirectory> backend = nullptr,
              std::string recipient_delimiter = {});

    // The keys a recipient address is looked up by, in order, lower case (Postfix's order):
    // the address itself; with a recipient delimiter, the address with the local part cut at
    // the first delimiter character ("bob+lists@d" -> "bob@d"; not when that character starts
    // the local part); then "@d", the domain's catch-all (an alias "@d" of a user, or a row
    // "@d" of a backend). The first key someone answers for wins.
    std::vector<std::string> lookup_keys(std::string_view address) const;
    // The second key above, or the address when no delimiter applies (lower case).
    std::string without_extension(std::string_view address) const;

    bool is_local_domain(std::string_view domain) const;
    const std::vector<std::string>& domains() const { return domains_; }  // lower case, as configured
    // The user who logs in with this name (their address), or null.
    const config::User* login(std::string_view authcid) const;
    // The user who receives mail for this recipient (address, alias, the address without its
    // extension, the domain's catch-all, or postmaster of a local domain), or null. <Postmaster> and postmaster@<local domain> go to a user of that name
    // if there is one, otherwise to the first user (RFC 5321 4.5.1: it must exist).
    const config::User* recipient(const core::Path& path) const;
    // True for a mailbox recipient in the discard list (case-insensitive, like the rest).
    bool discards(const core::Path& path) const;
    // The user's address or a (non catch-all) alias, with or without an extension.
    bool may_send_as(const config::User& user, std::string_view address) const;
    // Whether the authenticated `login` may use `address` (MAIL FROM, From:): the login itself
    // when it is an address, and the aliases of the [[users]] entry of that address if there
    // is one. For a [[users]] login that is may_send_as(); for a login that Dovecot
    // authenticated ([auth] dovecot) and that has no [[users]] entry, its own address only.
    bool owns(std::string_view login, std::string_view address) const;
    const std::vector<config::User>& users() const { return users_; }
    // The [directory] backend, or null. The pipeline, AUTH and local delivery ask it.
    const std::shared_ptr<UserDirectory>& backend() const { return backend_; }

private:
    std::vector<std::string> domains_;  // lower case
    std::vector<config::User> users_;
    std::vector<std::string> discard_;  // lower case
    std::shared_ptr<UserDirectory> backend_;
    std::string delimiter_;  // recipient delimiter characters; empty: none
};

// The Maildir of a user: <state_dir>/mail/<domain>/<local part>/Maildir (lower case).
std::filesystem::path maildir_for(const std::filesystem::path& state_dir, const config::User& user);
// The same under `[delivery] maildir` (config/maildir_template.hpp): an empty template is the
// layout above; an address the template cannot place safely is an error, never a path.
core::Result<std::filesystem::path> maildir_for(const std::filesystem::path& state_dir,
                                                 std::string_view maildir_template,
                                                 const config::User& user);

smtp::Verdict check_sender(const Directory& dir, smtp::Role role, const smtp::CheckSender& c);
smtp::Verdict check_recipient(const Directory& dir, smtp::Role role, const smtp::CheckRecipient& c);

struct MessageStamp {
    std::string date;        // RFC 5322 date-time for a missing Date:
    std::string message_id;  // "<...@host>" for a missing Message-ID:
};
smtp::Verdict check_message(const Directory& dir, smtp::Role role, const smtp::CheckMessage& c,
                            const MessageStamp& stamp);

// A submitted message's header: every From: address owned (`owns`), else 553 5.7.1 naming
// `who`; 550 5.6.0 without a parsable header or From:; the stamp for a missing Date: or
// Message-ID:. check_message's rule, shared with the [directory] backends' path (pipeline.cpp).
smtp::Verdict check_submitted_header(std::string_view message, const std::function<bool(std::string_view)>& owns,
                                     const std::string& who, const MessageStamp& stamp);

// The Unix user behind a local submission: its login, the address it is mapped to, that
// address's aliases (when it is a [[users]] address) and whether it may name any sender
// ([sendmail] trusted_users, like sendmail's trusted users).
struct LocalCaller {
    std::string login;
    std::string address;
    std::vector<std::string> aliases;
    bool trusted = false;
    bool may_send_as(std::string_view address) const;
};
// The envelope sender must be the caller's (553 5.7.1 otherwise, naming the login).
smtp::Verdict check_local_sender(const LocalCaller& caller, const core::Path& sender);
// As check_message for submission, with the caller as the owner of From:.
smtp::Verdict check_local_message(const LocalCaller& caller, const smtp::CheckMessage& c, const MessageStamp& stamp);

}  // namespace pigeon::policy
