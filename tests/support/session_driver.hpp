// A synchronous driver for smtp::Session in tests: answers every asynchronous action at once
// from simple policies, collects what the server sends, and splits it into reply lines.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/clock.hpp"
#include "smtp/server/session.hpp"

namespace pigeon::test {

class SessionDriver {
public:
    std::function<smtp::Verdict(const smtp::CheckSender&)> sender_policy = [](auto&) {
        return smtp::Verdict{};
    };
    std::function<smtp::Verdict(const smtp::CheckRecipient&)> recipient_policy = [](auto&) {
        return smtp::Verdict{};
    };
    std::function<smtp::Verdict(const smtp::CheckMessage&)> message_policy = [](auto&) {
        return smtp::Verdict{};
    };
    std::function<smtp::AuthResult(const smtp::Authenticate&)> auth = [](const smtp::Authenticate& a) {
        return smtp::AuthResult{a.password == "secret" ? smtp::AuthResult::Outcome::ok
                                                       : smtp::AuthResult::Outcome::bad_credentials,
                                a.authcid};
    };
    bool enqueue_fails = false;

    std::vector<smtp::Enqueue> queued;
    std::vector<smtp::Authenticate> auth_requests;
    std::string output;  // every byte the server sent
    bool closed = false;
    int tls_starts = 0;

    explicit SessionDriver(smtp::SessionConfig config = {}, std::string peer = "192.0.2.1")
        : clock_(1795000000) {
        config.clock = &clock_;
        if (config.hostname == "localhost") config.hostname = "mx.test.example";
        session_ = smtp::make_session(std::move(config), smtp::PeerInfo{std::move(peer)});
        run(session_->start());
    }

    smtp::Session& session() { return *session_; }

    // Sends bytes as they are (no CRLF added) and returns the reply lines they produced.
    std::vector<std::string> send_raw(std::string_view bytes) {
        auto before = output.size();
        run(session_->put(bytes));
        return lines_since(before);
    }
    // Sends one command line (CRLF added).
    std::vector<std::string> send(std::string_view line) {
        return send_raw(std::string(line) + "\r\n");
    }
    std::vector<std::string> event(const smtp::Event& e) {
        auto before = output.size();
        run(session_->on(e));
        return lines_since(before);
    }
    std::vector<std::string> eof() {
        auto before = output.size();
        run(session_->put_eof());
        return lines_since(before);
    }
    // The last line of a reply: its code is what most tests check.
    static std::string last(const std::vector<std::string>& lines) {
        return lines.empty() ? std::string() : lines.back();
    }
    static std::string code(const std::vector<std::string>& lines) { return last(lines).substr(0, 3); }

private:
    std::vector<std::string> lines_since(std::size_t offset) const {
        std::vector<std::string> lines;
        std::string_view rest(output);
        rest.remove_prefix(offset);
        while (!rest.empty()) {
            auto end = rest.find("\r\n");
            if (end == std::string_view::npos) {
                lines.emplace_back(rest);  // a reply without CRLF: a test will flag it
                break;
            }
            lines.emplace_back(rest.substr(0, end));
            rest.remove_prefix(end + 2);
        }
        return lines;
    }

    void run(std::vector<smtp::Action> actions) {
        // Answering an action may produce more actions; handle them in order, breadth first.
        for (std::size_t i = 0; i < actions.size(); ++i) {
            std::vector<smtp::Action> more;
            std::visit(
                [&](auto& a) {
                    using A = std::decay_t<decltype(a)>;
                    if constexpr (std::is_same_v<A, smtp::Send>) {
                        output += a.bytes;
                    } else if constexpr (std::is_same_v<A, smtp::Close>) {
                        closed = true;
                    } else if constexpr (std::is_same_v<A, smtp::BeginTls>) {
                        ++tls_starts;  // the test answers with TlsReady itself
                    } else if constexpr (std::is_same_v<A, smtp::Authenticate>) {
                        auth_requests.push_back(a);
                        more = session_->on(auth(a));
                    } else if constexpr (std::is_same_v<A, smtp::CheckSender>) {
                        more = session_->on(sender_policy(a));
                    } else if constexpr (std::is_same_v<A, smtp::CheckRecipient>) {
                        more = session_->on(recipient_policy(a));
                    } else if constexpr (std::is_same_v<A, smtp::CheckMessage>) {
                        more = session_->on(message_policy(a));
                    } else if constexpr (std::is_same_v<A, smtp::Enqueue>) {
                        if (enqueue_fails) {
                            more = session_->on(smtp::EnqueueFailed{"disk full"});
                        } else {
                            queued.push_back(a);
                            more = session_->on(smtp::Enqueued{"Q" + std::to_string(queued.size())});
                        }
                    }
                },
                actions[i]);
            for (auto& m : more) actions.push_back(std::move(m));
        }
    }

    core::FixedClock clock_;
    std::unique_ptr<smtp::Session> session_;
};

}  // namespace pigeon::test
