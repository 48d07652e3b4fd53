// pigeon/sim/clients.hpp: the simulator's submission client (one message, one command at a time, no
// TLS) and its host.
// Part of the simulator's run (sim/simulator.cpp includes it); not for other users.
#pragma once
#include "core/base64.hpp"
#include "sim/host.hpp"

namespace pigeon::sim::detail {

class SubmitClient : public std::enable_shared_from_this<SubmitClient> {
public:
    SubmitClient(World& w, Host& from, const ActionSpec& a, std::string label, std::string server_address)
        : w_(w), from_(from), a_(a), who_(std::move(label)), server_(std::move(server_address)) {}

    void start() {
        obs_ = w_.obs.submissions.size();
        w_.obs.submissions.push_back({who_, a_.server, a_.from, a_.subject, a_.from.empty(), {}, false});
        auto self = shared_from_this();
        w_.trace.line(who_, "client on " + from_.name() + " submits to " + a_.server + " (" + server_ + ":" +
                                std::to_string(a_.port) + ")");
        w_.net.connect(from_, server_, a_.port, std::chrono::milliseconds(30'000),
                       [self](ConnPtr c, const std::string& error) { self->connected(c, error); });
    }

private:
    enum class Step { greeting, ehlo, auth, mail, rcpt, data, body, quit, done };

    void connected(ConnPtr c, const std::string& error) {
        if (!c) {
            w_.trace.line(who_, "connection failed: " + error);
            return;
        }
        c_ = c;
        auto self = shared_from_this();
        c->client_started = true;
        c->on_client_data = [self](std::string_view b) { self->data(b); };
        c->on_client_end = [self](const std::string& why) {
            if (self->step_ != Step::done)
                self->w_.trace.line(self->who_, "connection closed" + (why.empty() ? "" : ": " + why));
            self->step_ = Step::done;
        };
        if (!c->early_to_client.empty()) {
            std::string early = std::move(c->early_to_client);
            c->early_to_client.clear();
            data(early);
        }
    }

    void send(const std::string& line) {
        w_.trace.line(who_, "C: " + line);
        w_.net.send(c_, true, line + "\r\n");
    }

    std::string message() const {
        std::string m = "From: <" + a_.header_from + ">\r\n";
        std::string to;
        for (const auto& t : a_.to) to += (to.empty() ? "<" : ", <") + t + ">";
        m += "To: " + to + "\r\n";
        m += "Subject: " + a_.subject + "\r\n";
        if (a_.inbound) {
            m += "Date: " + core::format_rfc5322_date(w_.clock.now_unix_seconds()) + "\r\n";
            m += "Message-ID: <" + std::to_string(w_.rng.next_u64()) + "@" + from_.spec().hostname + ">\r\n";
        }
        m += a_.extra_headers;
        m += "\r\n";
        std::string body = a_.body;
        std::string crlf;
        for (std::size_t i = 0; i < body.size(); ++i) {
            if (body[i] == '\n' && (i == 0 || body[i - 1] != '\r')) crlf += '\r';
            crlf += body[i];
        }
        if (!crlf.ends_with("\r\n")) crlf += "\r\n";
        return m + crlf;
    }

    void data(std::string_view bytes) {
        in_ += bytes;
        for (std::size_t eol; (eol = in_.find("\r\n")) != std::string::npos;) {
            std::string line = in_.substr(0, eol);
            in_.erase(0, eol + 2);
            w_.trace.line(who_, "S: " + line);
            if (line.size() >= 4 && line[3] == '-') continue;  // more lines follow
            reply(line);
        }
    }

    void quit() {
        step_ = Step::quit;
        send("QUIT");
    }

    void reply(const std::string& line) {
        const int code = line.size() >= 3 ? std::atoi(line.substr(0, 3).c_str()) : 0;
        const bool ok2 = code / 100 == 2;
        switch (step_) {
            case Step::greeting:
                if (code != 220) return quit();
                step_ = Step::ehlo;
                send("EHLO " + from_.spec().hostname);
                return;
            case Step::ehlo:
                if (!ok2) return quit();
                if (!a_.inbound && !a_.user.empty()) {
                    step_ = Step::auth;
                    send("AUTH PLAIN " + core::base64_encode(std::string(1, '\0') + a_.user + '\0' + a_.password));
                    return;
                }
                [[fallthrough]];
            case Step::auth:
                if (step_ == Step::auth && code != 235) return quit();
                step_ = Step::mail;
                send("MAIL FROM:<" + a_.from + ">");
                return;
            case Step::mail:
                if (!ok2) return quit();
                step_ = Step::rcpt;
                next_rcpt_ = 0;
                send("RCPT TO:<" + a_.to[next_rcpt_++] + ">");
                return;
            case Step::rcpt:
                if (ok2) {
                    ++accepted_;
                    w_.obs.submissions[obs_].accepted.push_back(a_.to[next_rcpt_ - 1]);
                }
                if (next_rcpt_ < a_.to.size()) {
                    send("RCPT TO:<" + a_.to[next_rcpt_++] + ">");
                    return;
                }
                if (accepted_ == 0) return quit();
                step_ = Step::data;
                send("DATA");
                return;
            case Step::data: {
                if (code != 354) return quit();
                step_ = Step::body;
                std::string m = message(), wire;
                std::size_t start = 0;
                while (start < m.size()) {
                    std::size_t end = m.find("\r\n", start);
                    std::string l = m.substr(start, end - start);
                    w_.trace.line(who_, "C: " + l);
                    wire += (l.starts_with(".") ? "." : "") + l + "\r\n";
                    start = end + 2;
                }
                w_.trace.line(who_, "C: .");
                wire += ".\r\n";
                w_.net.send(c_, true, std::move(wire));
                return;
            }
            case Step::body:
                if (ok2) w_.obs.submissions[obs_].accepted_message = true;
                return quit();
            case Step::quit:
                step_ = Step::done;
                w_.net.close(c_, true);
                return;
            case Step::done:
                return;
        }
    }

    World& w_;
    Host& from_;
    const ActionSpec& a_;
    std::string who_, server_;
    ConnPtr c_;
    std::string in_;
    Step step_ = Step::greeting;
    std::size_t next_rcpt_ = 0, accepted_ = 0;
    std::size_t obs_ = 0;  // this submission in w_.obs.submissions
};

class ClientHost final : public Host {
public:
    using Host::Host;
    bool accept(const ConnPtr&, std::uint16_t) override { return false; }
};

}  // namespace pigeon::sim::detail
