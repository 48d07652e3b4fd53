#include "policy/directory.hpp"

#include "config/maildir_template.hpp"
#include "core/ascii.hpp"

#include <algorithm>
#include <cctype>
#include <functional>

#include "core/header.hpp"

namespace pigeon::policy {
namespace {

bool same_address(std::string_view a, std::string_view b) { return core::ascii_lower(a) == core::ascii_lower(b); }

smtp::Verdict accept() { return smtp::Verdict{}; }

smtp::Verdict refuse(int code, const char* enhanced, std::string text) {
    return smtp::Verdict::refusal(code, enhanced, std::move(text));
}

std::string domain_of(std::string_view address) {
    auto at = address.rfind('@');
    return at == std::string_view::npos ? std::string() : core::ascii_lower(address.substr(at + 1));
}

std::string local_of(std::string_view address) {
    auto at = address.rfind('@');
    return core::ascii_lower(address.substr(0, at));
}

}  // namespace

Directory::Directory(std::vector<std::string> local_domains, std::vector<config::User> users,
                     std::vector<std::string> discard, std::shared_ptr<UserDirectory> backend,
                     std::string recipient_delimiter)
    : users_(std::move(users)), backend_(std::move(backend)), delimiter_(std::move(recipient_delimiter)) {
    for (auto& d : local_domains) domains_.push_back(core::ascii_lower(d));
    for (auto& a : discard) discard_.push_back(core::ascii_lower(a));
}

bool Directory::discards(const core::Path& path) const {
    if (path.kind != core::Path::Kind::mailbox || discard_.empty()) return false;
    const std::string address = core::ascii_lower(path.mailbox.to_string());
    return std::find(discard_.begin(), discard_.end(), address) != discard_.end();
}

bool Directory::is_local_domain(std::string_view domain) const {
    return std::find(domains_.begin(), domains_.end(), core::ascii_lower(domain)) != domains_.end();
}

const config::User* Directory::login(std::string_view authcid) const {
    for (const auto& u : users_)
        if (same_address(u.address, authcid)) return &u;
    return nullptr;
}

std::string Directory::without_extension(std::string_view address) const {
    const auto at = address.rfind('@');
    if (delimiter_.empty() || at == std::string_view::npos) return core::ascii_lower(address);
    const auto cut = address.substr(0, at).find_first_of(delimiter_);
    if (cut == std::string_view::npos || cut == 0) return core::ascii_lower(address);
    return core::ascii_lower(std::string(address.substr(0, cut)) + std::string(address.substr(at)));
}

std::vector<std::string> Directory::lookup_keys(std::string_view address) const {
    std::vector<std::string> keys{core::ascii_lower(address)};
    if (std::string cut = without_extension(address); cut != keys.front()) keys.push_back(std::move(cut));
    if (const auto at = address.rfind('@'); at != std::string_view::npos)
        keys.push_back(core::ascii_lower(address.substr(at)));
    return keys;
}

const config::User* Directory::recipient(const core::Path& path) const {
    std::string address;
    if (path.kind == core::Path::Kind::postmaster) {
        address = "postmaster@" + (domains_.empty() ? std::string() : domains_.front());
    } else if (path.kind == core::Path::Kind::mailbox) {
        address = path.mailbox.to_string();
    } else {
        return nullptr;
    }
    if (!is_local_domain(domain_of(address))) return nullptr;
    for (const std::string& key : lookup_keys(address)) {
        for (const auto& u : users_) {
            if (same_address(u.address, key)) return &u;
            for (const auto& a : u.aliases)
                if (same_address(a, key)) return &u;
        }
    }
    if (local_of(address) == "postmaster" && !users_.empty()) return &users_.front();
    return nullptr;
}

bool Directory::may_send_as(const config::User& user, std::string_view address) const {
    const std::string plain = without_extension(address);
    for (const std::string& a : {std::string(address), plain}) {
        if (same_address(user.address, a)) return true;
        if (std::any_of(user.aliases.begin(), user.aliases.end(),
                        [&](const std::string& alias) { return alias.front() != '@' && same_address(alias, a); }))
            return true;
    }
    return false;
}

bool Directory::owns(std::string_view login, std::string_view address) const {
    if (login.empty()) return false;
    if (const config::User* user = this->login(login)) return may_send_as(*user, address);
    return same_address(login, address);
}

std::filesystem::path maildir_for(const std::filesystem::path& state_dir, const config::User& user) {
    return state_dir / "mail" / domain_of(user.address) / local_of(user.address) / "Maildir";
}

core::Result<std::filesystem::path> maildir_for(const std::filesystem::path& state_dir,
                                                 std::string_view maildir_template,
                                                 const config::User& user) {
    // The default keeps state_dir as given (it may be relative): expand its tail only.
    const bool fallback = maildir_template.empty();
    auto expanded = config::expand_maildir(fallback ? "/mail/%d/%n/Maildir" : maildir_template, user.address);
    if (!expanded) return std::move(expanded).error();
    if (fallback) return state_dir / expanded->substr(1);
    return std::filesystem::path(*expanded);
}

smtp::Verdict check_sender(const Directory& dir, smtp::Role role, const smtp::CheckSender& c) {
    if (role == smtp::Role::inbound) return accept();
    const auto& path = c.envelope.reverse_path;
    if (path.kind != core::Path::Kind::mailbox || !dir.owns(c.envelope.auth_identity, path.mailbox.to_string()))
        return refuse(553, "5.7.1",
                      "Sender address " + path.to_string() + " not owned by user " +
                          c.envelope.auth_identity);
    return accept();
}

smtp::Verdict check_recipient(const Directory& dir, smtp::Role role, const smtp::CheckRecipient& c) {
    const auto& path = c.recipient;
    if (path.kind == core::Path::Kind::postmaster) return accept();
    const std::string domain = path.mailbox.domain().lowercase();
    if (dir.is_local_domain(domain)) {
        if (dir.recipient(path) != nullptr || dir.discards(path)) return accept();
        return refuse(550, "5.1.1", path.to_string() + ": Recipient address rejected: User unknown");
    }
    if (role == smtp::Role::submission) return accept();  // authenticated: relay allowed
    return refuse(554, "5.7.1", path.to_string() + ": Relay access denied");
}

smtp::Verdict check_submitted_header(std::string_view message, const std::function<bool(std::string_view)>& owns,
                                     const std::string& who, const MessageStamp& stamp) {
    auto header = core::parse_header(message);
    if (!header.ok())
        return refuse(550, "5.6.0", "Message header is malformed: " + header.error().message);
    bool has_from = false, has_date = false, has_id = false;
    for (const auto& f : header.value()) {
        if (core::field_is(f, "Date")) has_date = true;
        if (core::field_is(f, "Message-ID")) has_id = true;
        if (!core::field_is(f, "From")) continue;
        auto addresses = core::addresses_in(f.value);
        if (addresses.empty()) return refuse(550, "5.6.0", "From: header has no address");
        for (const auto& a : addresses) {
            has_from = true;
            if (!owns(a)) return refuse(553, "5.7.1", "From: address <" + a + "> not owned by user " + who);
        }
    }
    if (!has_from) return refuse(550, "5.6.0", "Message has no From: header");
    smtp::Verdict v;
    if (!has_date) v.prepend += "Date: " + stamp.date + "\r\n";
    if (!has_id) v.prepend += "Message-ID: " + stamp.message_id + "\r\n";
    return v;
}

smtp::Verdict check_message(const Directory& dir, smtp::Role role, const smtp::CheckMessage& c,
                            const MessageStamp& stamp) {
    if (role == smtp::Role::inbound) return accept();
    return check_submitted_header(
        c.message.contiguous(), [&](std::string_view a) { return dir.owns(c.envelope.auth_identity, a); },
        c.envelope.auth_identity, stamp);
}

bool LocalCaller::may_send_as(std::string_view address) const {
    if (trusted || same_address(this->address, address)) return true;
    return std::any_of(aliases.begin(), aliases.end(), [&](const std::string& a) { return same_address(a, address); });
}

smtp::Verdict check_local_sender(const LocalCaller& caller, const core::Path& sender) {
    if (sender.kind == core::Path::Kind::mailbox && caller.may_send_as(sender.mailbox.to_string())) return accept();
    return refuse(553, "5.7.1",
                  "Sender address " + sender.to_string() + " not owned by user " + caller.login +
                      (caller.trusted ? "" : " (only [sendmail] trusted_users may set another sender)"));
}

smtp::Verdict check_local_message(const LocalCaller& caller, const smtp::CheckMessage& c, const MessageStamp& stamp) {
    return check_submitted_header(
        c.message.contiguous(), [&](std::string_view a) { return caller.may_send_as(a); }, caller.login, stamp);
}

}  // namespace pigeon::policy
