#include "policy/user_directory.hpp"

#include <algorithm>

#include "core/ascii.hpp"

namespace pigeon::policy {
namespace {

smtp::Verdict refuse(int code, const char* enhanced, std::string text) {
    return smtp::Verdict::refusal(code, enhanced, std::move(text));
}

}  // namespace

smtp::Verdict directory_unavailable() {
    return refuse(451, "4.3.0", "User directory temporarily unavailable; try again later");
}

void find_recipient(const std::shared_ptr<UserDirectory>& directory, std::vector<std::string> keys,
                    std::function<void(Lookup<std::string>)> done) {
    if (keys.empty()) {
        done(Lookup<std::string>::not_found());
        return;
    }
    std::string key = keys.front();
    keys.erase(keys.begin());
    directory->recipient(std::move(key), [directory, keys = std::move(keys), done = std::move(done)](
                                             Lookup<std::string> answer) mutable {
        if (answer.status != Found::no || keys.empty()) {
            done(std::move(answer));
            return;
        }
        find_recipient(directory, std::move(keys), std::move(done));
    });
}

Lookup<std::string> find_recipient_blocking(UserDirectory& directory, const std::vector<std::string>& keys) {
    Lookup<std::string> answer = Lookup<std::string>::not_found();
    for (const std::string& key : keys) {
        answer = directory.recipient_blocking(key);
        if (answer.status != Found::no) break;
    }
    return answer;
}

smtp::Verdict recipient_verdict(const Lookup<std::string>& answer, const core::Path& recipient) {
    switch (answer.status) {
    case Found::yes: return smtp::Verdict{};
    case Found::no: return refuse(550, "5.1.1", recipient.to_string() + ": Recipient address rejected: User unknown");
    case Found::unavailable: break;
    }
    return directory_unavailable();
}

bool may_send_as(const std::vector<std::string>& addresses, const std::string& login, std::string_view address) {
    const std::string wanted = core::ascii_lower(address);
    if (core::ascii_lower(login) == wanted) return true;
    return std::any_of(addresses.begin(), addresses.end(),
                       [&](const std::string& a) { return core::ascii_lower(a) == wanted; });
}

smtp::Verdict sender_verdict(const Lookup<std::vector<std::string>>& answer, const std::string& login,
                             const core::Path& sender) {
    if (answer.status == Found::unavailable) return directory_unavailable();
    const std::vector<std::string> none;
    const auto& addresses = answer.ok() ? answer.value : none;
    if (sender.kind == core::Path::Kind::mailbox && may_send_as(addresses, login, sender.mailbox.to_string()))
        return smtp::Verdict{};
    return refuse(553, "5.7.1", "Sender address " + sender.to_string() + " not owned by user " + login);
}

}  // namespace pigeon::policy
