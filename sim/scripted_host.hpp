// pigeon/sim/scripted_host.hpp: a scripted peer in the style of smtp-sink: greylisting, 5xx, a
// STARTTLS-stripping attacker.
// Part of the simulator's run (sim/simulator.cpp includes it); not for other users.
#pragma once
#include "core/ascii.hpp"
#include "sim/host.hpp"

namespace pigeon::sim::detail {

class ScriptedHost final : public Host {
public:
    using Host::Host;
    bool accept(const ConnPtr& c, std::uint16_t port) override {
        if (port != 25) return false;
        auto st = std::make_shared<State>();
        std::weak_ptr<Connection> weak = c;
        c->on_server_data = [this, weak, st](std::string_view bytes) {
            if (auto c = weak.lock()) received(c, *st, bytes);
        };
        c->on_server_end = [](const std::string&) {};
        w_.net.send(c, false, expand(spec_.greeting));
        return true;
    }

private:
    struct State {
        std::string in, message;
        std::vector<std::string> recipients;  // RCPTs answered 2xx in this transaction
        bool in_data = false, closed = false;
    };
    std::string expand(std::string s) const {
        for (std::size_t p; (p = s.find("{host}")) != std::string::npos;) s.replace(p, 6, spec_.hostname);
        return s;
    }
    std::string answer(const std::string& line) {
        const std::string u = core::ascii_lower(line);
        for (std::size_t i = 0; i < spec_.rules.size(); ++i) {
            const auto& r = spec_.rules[i];
            if (!u.starts_with(core::ascii_lower(r.prefix))) continue;
            if (r.times != 0 && used_[i] >= r.times) continue;
            ++used_[i];
            return r.reply;
        }
        if (u.starts_with("ehlo"))
            return spec_.ehlo.empty() ? expand("250-{host}\r\n250-PIPELINING\r\n250 8BITMIME\r\n") : expand(spec_.ehlo);
        if (u.starts_with("helo")) return expand("250 {host}\r\n");
        if (u.starts_with("data")) return "354 go ahead\r\n";
        if (u.starts_with("quit")) return "221 2.0.0 bye\r\n";
        return "250 2.0.0 OK\r\n";
    }
    void received(const ConnPtr& c, State& st, std::string_view bytes) {
        if (st.closed) return;
        st.in += bytes;
        std::string out;
        bool close = false;
        for (std::size_t eol; !close && (eol = st.in.find("\r\n")) != std::string::npos;) {
            std::string line = st.in.substr(0, eol);
            st.in.erase(0, eol + 2);
            if (st.in_data) {
                if (line == ".") {
                    st.in_data = false;
                    if (spec_.end_of_data.empty()) close = true;
                    else out += spec_.end_of_data;
                    if (spec_.end_of_data.starts_with("2"))
                        w_.obs.sunk.push_back({name(), st.recipients, std::move(st.message)});
                    st.message.clear();
                    st.recipients.clear();
                } else {
                    st.message += (line.starts_with(".") ? line.substr(1) : line) + "\r\n";
                }
                continue;
            }
            std::string reply = answer(line);
            const std::string verb = core::ascii_lower(line.substr(0, 4));
            if (verb == "mail" || verb == "rset") st.recipients.clear();
            if (verb == "rcpt" && reply.starts_with("2")) {
                const auto lt = line.find('<'), gt = line.find('>');
                if (lt != std::string::npos && gt != std::string::npos && gt > lt)
                    st.recipients.push_back(core::ascii_lower(line.substr(lt + 1, gt - lt - 1)));
            }
            if (reply.empty()) {
                close = true;
                break;
            }
            out += reply;
            if (reply.starts_with("354")) st.in_data = true;
            if (reply.starts_with("221") || reply.starts_with("421")) close = true;
        }
        if (!out.empty()) w_.net.send(c, false, std::move(out));
        if (close) {
            st.closed = true;
            w_.net.close(c, false);
        }
    }
    std::map<std::size_t, std::uint32_t> used_;
};

}  // namespace pigeon::sim::detail
