// pigeon/app/control_requests.hpp: the running server's side of `pigeon queue ...` and
// `pigeon reload` (app/control.hpp has the request files): ControlRequests carries each request
// out on the server's one Spool. Used by app/serve*.cpp only.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "app/control.hpp"
#include "app/logger.hpp"
#include "delivery/local_delivery.hpp"
#include "delivery/outbound.hpp"
#include "queue/spool.hpp"

namespace pigeon::app {

// `pigeon queue flush|retry|delete|hold|release` (hold and release also --all), as the running
// server carries them out on its one Spool (app/control.hpp); each message request is answered,
// each problem logged.
class ControlRequests {
public:
    // reload: carries out `pigeon reload` and answers it (ServerProcess::reload, elsewhere).
    ControlRequests(std::string state, queue::Spool& spool, delivery::LocalDeliveryWorker& worker,
                    const std::unique_ptr<delivery::OutboundEngine>& outbound, Logger& log,
                    std::function<void(const ControlRequest&)> reload)
        : state_(std::move(state)), spool_(spool), worker_(worker), outbound_(outbound), log_(log),
          reload_(std::move(reload)) {}

    // Takes every request waiting in <state>/control/ and carries it out.
    void take() {
        std::vector<std::string> problems;
        for (const ControlRequest& req : take_control_requests(state_, &problems)) {
            if (req.kind == ControlRequest::Kind::reload) {
                reload_(req);
            } else if (req.kind == ControlRequest::Kind::flush) {
                say("queue flush requested: every deferred recipient is due now");
                if (outbound_) outbound_->flush();
                else if (auto s = spool_.reschedule_all(0); !s) log_(net::LogLevel::warn, "queue flush: " + s.error().message);
            } else if (req.kind == ControlRequest::Kind::retry) {
                say("queue retry " + req.id + " requested");
                if (outbound_) outbound_->retry(req.id);
                else if (auto s = spool_.reschedule(req.id, 0); !s) log_(net::LogLevel::warn, "queue retry: " + s.error().message);
            } else if (req.kind == ControlRequest::Kind::hold_all || req.kind == ControlRequest::Kind::release_all) {
                hold_all(req);
            } else {
                std::string what = format_control_request(req);  // "hold <id>\n"
                what.pop_back();
                const queue::Status s = change_message(req);
                say("queue " + what + " requested: " + (s ? std::string("done") : s.error().message));
                if (queue::Status a = answer_control_request(state_, req, s.ok(), s ? "done" : s.error().message); !a)
                    log_(net::LogLevel::warn, "control: cannot answer " + what + ": " + a.error().message);
            }
        }
        for (const auto& p : problems) log_(net::LogLevel::warn, "control: " + p);
    }

private:
    // hold-all / release-all: answered with how many messages changed.
    void hold_all(const ControlRequest& req) {
        std::string what = format_control_request(req);
        what.pop_back();
        const auto done = hold_all_messages(spool_, req.kind == ControlRequest::Kind::hold_all,
                                            [this](const std::string& id) { wake(id); });
        const std::string text = done ? *done : done.error().message;
        say("queue " + what + " requested: " + text);
        if (queue::Status a = answer_control_request(state_, req, done.ok(), text); !a)
            log_(net::LogLevel::warn, "control: cannot answer " + what + ": " + a.error().message);
    }
    // A released message: its deliverers look at it now (its retry schedule still applies).
    void wake(const std::string& id) {
        worker_.notify(id);
        if (outbound_) outbound_->notify(id);
    }
    queue::Status change_message(const ControlRequest& req) {
        switch (req.kind) {
            case ControlRequest::Kind::remove: return spool_.remove(req.id);
            case ControlRequest::Kind::hold: return spool_.hold(req.id, true);
            case ControlRequest::Kind::release: {
                queue::Status s = spool_.hold(req.id, false);
                if (s) wake(req.id);
                return s;
            }
            default: return queue::Error{"not a message request"};
        }
    }
    void say(std::string_view text) { log_(net::LogLevel::info, text); }

    std::string state_;
    queue::Spool& spool_;
    delivery::LocalDeliveryWorker& worker_;
    const std::unique_ptr<delivery::OutboundEngine>& outbound_;
    Logger& log_;
    std::function<void(const ControlRequest&)> reload_;
};

}  // namespace pigeon::app
