// pigeon/app/local_submit.cpp: local submissions (app/local_submit.hpp), and
// AppServices::submit_local, the submission path they take.
#include "app/local_submit.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "core/ascii.hpp"
#include "core/clock.hpp"
#include "core/header.hpp"

namespace pigeon::app {
namespace {

core::Reply refusal(const smtp::Verdict& v, core::Reply fallback) { return v.reply ? *v.reply : std::move(fallback); }

std::optional<std::string> login_of(std::uint32_t uid) {
    passwd entry{};
    passwd* found = nullptr;
    std::vector<char> buffer(16 * 1024);
    if (::getpwuid_r(static_cast<uid_t>(uid), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr)
        return std::nullopt;
    return std::string(found->pw_name);
}

bool has_from_field(std::string_view message) {
    auto header = core::parse_header(message);
    if (!header.ok()) return false;
    return std::any_of(header->begin(), header->end(), [](const core::HeaderField& f) { return core::field_is(f, "From"); });
}

// RFC 5322 3.2.3: a display name with specials goes in quotes.
std::string display_name(std::string_view name) {
    if (name.find_first_of("()<>[]:;@\\,.\"") == std::string_view::npos) return std::string(name);
    std::string quoted = "\"";
    for (char c : name) {
        if (c == '"' || c == '\\') quoted += '\\';
        quoted += c;
    }
    return quoted + "\"";
}

// RFC 5321 4.4: our trace field for mail that came from a local program (as Postfix writes it).
std::string received_field(const std::string& hostname, std::uint32_t uid, std::int64_t now) {
    return "Received: by " + hostname + " (Pigeon, from userid " + std::to_string(uid) + ");\r\n\t" +
           core::format_rfc5322_date(now) + "\r\n";
}

std::string mapped_domain(const config::Config& config) {
    if (!config.sendmail.domain.empty()) return config.sendmail.domain;
    return config.local_domains.empty() ? config.hostname : config.local_domains.front();
}

// A bare name ("root", as cron writes it) is a local address, as sendmail qualifies it.
std::string qualified(const config::Config& config, const std::string& address) {
    return address.find('@') == std::string::npos ? address + "@" + mapped_domain(config) : address;
}

}  // namespace

policy::LocalCaller local_caller_for_login(const config::Config& config, const policy::Directory& directory,
                                           const std::string& login) {
    const config::SendmailSettings& s = config.sendmail;
    policy::LocalCaller caller;
    caller.login = login;
    const auto mapped = std::find_if(s.addresses.begin(), s.addresses.end(),
                                     [&](const config::SendmailAddress& a) { return a.login == login; });
    if (mapped != s.addresses.end()) {
        caller.address = mapped->address;
    } else {
        caller.address = login + "@" + mapped_domain(config);
    }
    if (const config::User* user = directory.login(caller.address)) caller.aliases = user->aliases;
    caller.trusted = std::find(s.trusted_users.begin(), s.trusted_users.end(), login) != s.trusted_users.end();
    return caller;
}

std::optional<policy::LocalCaller> local_caller(const config::Config& config, const policy::Directory& directory,
                                                std::uint32_t uid) {
    const auto login = login_of(uid);
    if (!login) return std::nullopt;
    return local_caller_for_login(config, directory, *login);
}

std::string with_from(std::string message, std::string_view name, std::string_view address) {
    if (has_from_field(message)) return message;
    const std::string field = name.empty() ? "From: " + std::string(address) + "\r\n"
                                           : "From: " + display_name(name) + " <" + std::string(address) + ">\r\n";
    return field + message;
}

void AppServices::submit_local(const policy::LocalCaller& caller, const net::LocalSubmission& submission,
                               std::function<void(core::Reply)> done) {
    if (options_.storage_low && options_.storage_low()) {
        done(core::Reply(452, "4.3.1", "Insufficient system storage; try again later"));
        return;
    }
    // The current snapshot, kept until the answer (app/services.hpp).
    std::shared_ptr<const Generation> g = current_generation();
    core::Envelope envelope;
    const std::string sender = submission.request.from.value_or(caller.address);
    auto mailbox = core::Mailbox::parse(sender);
    if (!mailbox.ok()) {
        done(core::Reply(501, "5.1.7", "Bad sender address syntax: " + sender));
        return;
    }
    envelope.reverse_path = core::Path::of(std::move(mailbox).value());
    envelope.auth_identity = caller.address;
    envelope.client_address = "127.0.0.1";
    envelope.body = core::BodyType::eight_bit_mime;
    if (auto v = policy::check_local_sender(caller, envelope.reverse_path); !v.accept) {
        done(refusal(v, core::Reply(553, "5.7.1", "Sender refused")));
        return;
    }
    for (const std::string& r : submission.request.recipients) {
        auto rcpt = core::Mailbox::parse(r);
        if (!rcpt.ok()) {
            done(core::Reply(501, "5.1.3", "Bad recipient address syntax: " + r));
            return;
        }
        const core::Path path = core::Path::of(std::move(rcpt).value());
        // With a [directory] backend, a local user is checked at delivery (an unknown one gets
        // a failure notice): the backend's answer is asynchronous and this loop is not.
        if (g->checks.asks_directory(path)) {
            envelope.recipients.push_back(path);
            continue;
        }
        if (auto v = g->checks.check_recipient(smtp::Role::submission, smtp::CheckRecipient{envelope, path}); !v.accept) {
            done(refusal(v, core::Reply(550, "5.1.1", "Recipient refused")));
            return;
        }
        envelope.recipients.push_back(path);
    }
    core::MessageRef message(with_from(submission.message, submission.request.name, envelope.reverse_path.mailbox.to_string()));
    std::string received = received_field(g->settings.hostname, submission.uid, clock_.now_unix_seconds());
    auto log = options_.log;
    auto event = options_.event;
    const std::uint32_t uid = submission.uid;
    const std::string who = "sendmail uid " + std::to_string(submission.uid) + " (" + caller.login + ")";
    g->checks.check_local_message(
        smtp::CheckMessage{envelope, message}, caller,
        [this, g, envelope, message, received = std::move(received), log, event, uid, who,
         done = std::move(done)](smtp::Event e) mutable {
            const auto* v = std::get_if<smtp::Verdict>(&e);
            if (v == nullptr || !v->accept) {
                const core::Reply reply = v ? refusal(*v, core::Reply(550, "5.7.1", "Message refused"))
                                            : core::Reply(451, "4.3.0", "Local error in processing");
                if (log) log(net::LogLevel::info, who + " refused: " + core::format_reply(reply).substr(0, 200));
                done(reply);
                return;
            }
            std::string prefix = received + v->prepend;
            core::MessageRef stored = v->replacement ? message.with_prefix(prefix.append(*v->replacement), v->replaced_octets)
                                                     : message.with_prefix(std::move(prefix));
            // "uid= from=" (pickup) and "from=, size=, nrcpt=" (qmgr), once the message is durable.
            core::MessagePickedUp picked{{}, uid, core::event_address(envelope.reverse_path)};
            core::MessageQueued queued{{}, picked.from, stored.size(), envelope.recipients.size()};
            committer_.submit(envelope, std::move(stored), v->folder,
                              [log, event, who, picked = std::move(picked), queued = std::move(queued),
                               done = std::move(done)](os::GroupCommitter::Outcome outcome) mutable {
                                  if (!outcome.ok()) {
                                      if (log) log(net::LogLevel::error, who + " spool: " + outcome.error().message);
                                      done(core::Reply(451, "4.3.0", "Local error in processing; try again later"));
                                      return;
                                  }
                                  if (event) {
                                      picked.queue_id = queued.queue_id = outcome.value();
                                      event(picked);
                                      event(queued);
                                  } else if (log) {
                                      log(net::LogLevel::info, who + " from=<" + picked.from + "> queued as " + outcome.value());
                                  }
                                  done(core::Reply(250, "2.0.0", "Ok: queued as " + outcome.value()));
                              });
        });
}

net::LocalSubmissionServer::Options local_submission_options(const config::Config& config, AppServices& services,
                                                             std::function<void(net::LogLevel, std::string_view)> log) {
    net::LocalSubmissionServer::Options o;
    o.path = config.sendmail.socket;
    o.max_message_octets = config.limits.max_message_octets;
    o.max_recipients = config.limits.max_recipients;
    o.timeout = std::chrono::seconds(config.limits.data_timeout_seconds);
    o.log = [log](std::string_view text) { log(net::LogLevel::warn, text); };
    o.submit = [&config, &services, log](net::LocalSubmission s, std::function<void(core::Reply)> done) {
        const auto caller = local_caller(config, *services.directory(), s.uid);
        if (!caller) {
            log(net::LogLevel::warn, "sendmail: uid " + std::to_string(s.uid) + " has no login name: refused");
            done(core::Reply(550, "5.7.1", "Your uid has no login name here"));
            return;
        }
        for (std::string& r : s.request.recipients) r = qualified(config, r);
        if (s.request.from) s.request.from = qualified(config, *s.request.from);
        services.submit_local(*caller, s, std::move(done));
    };
    return o;
}

}  // namespace pigeon::app
