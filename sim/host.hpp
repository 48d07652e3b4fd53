// pigeon/sim/host.hpp: what every simulated host has: an address, a life (crash, restart), the
// shared world.
// Part of the simulator's run (sim/simulator.cpp includes it); not for other users.
#pragma once
#include "auth/dmarc/org_domain.hpp"
#include "sim/network.hpp"
#include "sim/resolver.hpp"

namespace pigeon::sim::detail {

struct StoredMail {
    std::int64_t at_ms = 0;
    std::string folder;
    std::string content;
    std::string queue_id;
};

struct World {
    Loop loop;
    Rng rng;
    Trace trace;
    SimClock clock;
    BotanRng botan_rng{rng};
    dns::ZoneResolver zone;
    Network net;
    const Scenario& scenario;
    dmarc::OrganizationalDomain org_domain;
    Observations obs;
    World(const Scenario& s, std::uint64_t seed, bool explain)
        : rng(seed), trace(loop, explain), clock(loop, s.start_unix), net(loop, rng, trace, s), scenario(s) {}
};

class Host {
public:
    Host(World& w, const HostSpec& spec) : w_(w), spec_(spec) {}
    virtual ~Host() = default;
    const HostSpec& spec() const { return spec_; }
    const std::string& name() const { return spec_.name; }
    std::string address() const { return spec_.addresses.empty() ? "0.0.0.0" : spec_.addresses.front(); }
    bool up() const { return up_; }
    bool refusing = false;

    // A connection arrives on `port`: install the server end's callbacks and greet, or
    // return false (nothing listens there: connection refused).
    virtual bool accept(const ConnPtr& c, std::uint16_t port) = 0;
    virtual void crash() { up_ = false; }
    // Whether a message this host received may be kept (a Pigeon host, or a scripted peer
    // that answers the end of data with 2xx), so that sending it again duplicates it.
    bool keeps_messages() const {
        return spec_.kind == HostSpec::Kind::pigeon ||
               (spec_.kind == HostSpec::Kind::scripted && spec_.end_of_data.starts_with("2"));
    }
    virtual void restart() { up_ = true; }

protected:
    World& w_;
    const HostSpec& spec_;
    bool up_ = true;
};

inline void Network::connect(Host& from, const std::string& address, std::uint16_t port,
                      std::chrono::milliseconds timeout,
                      std::function<void(ConnPtr conn, const std::string& error)> done) {
    auto it = by_address.find(address);
    Host* to = it == by_address.end() ? nullptr : it->second;
    const std::string target = address + ":" + std::to_string(port);
    if (to == nullptr || !to->up() || partitioned(from.name(), to->name())) {
        trace_.line(from.name(), "connect " + target + ": no answer" +
                                     (to == nullptr ? " (no such host)" : !to->up() ? " (host down)" : " (partitioned)"));
        loop_.at(loop_.now_ms + timeout.count(), [done] { done(nullptr, "connection timed out"); });
        return;
    }
    const std::int64_t rtt = delay(from.name(), to->name(), 0) + delay(to->name(), from.name(), 0);
    if (to->refusing) {
        trace_.line(from.name(), "connect " + target + ": refused (" + to->name() + " refuses)");
        loop_.at(loop_.now_ms + rtt, [done] { done(nullptr, "connection refused"); });
        return;
    }
    auto c = std::make_shared<Connection>();
    c->id = next_id_++;
    c->client_host = from.name();
    c->server_host = to->name();
    c->label = from.name() + ">" + to->name() + "#" + std::to_string(c->id);
    all_.push_back(c);
    Host* server = to;
    loop_.at(loop_.now_ms + rtt, [this, c, server, port, done, target] {
        if (!server->up() || partitioned(c->client_host, c->server_host)) {
            done(nullptr, "connection timed out");
            return;
        }
        live_[c->id] = c;
        if (!server->accept(c, port)) {
            live_.erase(c->id);
            trace_.line(c->client_host, "connect " + target + ": refused (nothing listens)");
            done(nullptr, "connection refused");
            return;
        }
        trace_.line("net", c->label + " connected " + c->client_host + " -> " + target);
        done(c, "");
    });
}

// A guard for callbacks of one life of a host: a crash ends the life, and everything it
// scheduled becomes a no-op.
using Alive = std::shared_ptr<bool>;
inline Fn guarded(const Alive& alive, Fn fn) {
    return [alive, fn = std::move(fn)] {
        if (*alive) fn();
    };
}

class HostRuntime final : public delivery::Runtime {
public:
    HostRuntime(World& w, Host& host, Alive alive) : w_(w), host_(host), alive_(std::move(alive)) {}
    void post(std::function<void()> fn) override { w_.loop.at(w_.loop.now_ms, guarded(alive_, std::move(fn))); }
    TimerId after(std::chrono::milliseconds delay, std::function<void()> fn) override {
        return w_.loop.at(w_.loop.now_ms + delay.count(), guarded(alive_, std::move(fn)));
    }
    void cancel(TimerId timer) override { w_.loop.cancel(timer); }
    void connect(const std::string& address, std::uint16_t port, std::chrono::milliseconds timeout,
                 std::function<void(std::unique_ptr<delivery::Stream>, const std::string&)> done) override {
        Alive alive = alive_;
        Network& net = w_.net;
        w_.net.connect(host_, address, port, timeout,
                       [alive, &net, address, done = std::move(done)](ConnPtr c, const std::string& error) {
                           if (!*alive) {
                               if (c) net.reset(c, "connection reset by peer", false, true);
                               return;
                           }
                           if (!c) done(nullptr, error);
                           else done(std::make_unique<SimStream>(net, c, address), "");
                       });
    }

private:
    World& w_;
    Host& host_;
    Alive alive_;
};

}  // namespace pigeon::sim::detail
