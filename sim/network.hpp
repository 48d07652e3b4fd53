// pigeon/sim/network.hpp: the virtual network: connections, link delays, loss, partitions and
// resets.
// Part of the simulator's run (sim/simulator.cpp includes it); not for other users.
#pragma once
#include <set>
#include <string>

#include "delivery/outbound.hpp"
#include "sim/trace.hpp"

namespace pigeon::sim::detail {

struct Connection {
    std::uint64_t id = 0;
    std::string client_host, server_host, label;
    bool client_open = true, server_open = true;
    std::int64_t last_to_server = 0, last_to_client = 0;  // keeps each direction in order
    std::function<void(std::string_view)> on_client_data, on_server_data;
    std::function<void(const std::string&)> on_client_end, on_server_end;
    std::string early_to_client;  // arrived before the client's stream started
    bool client_started = false;
    std::string early_end;        // an end that arrived before start
    bool ended_early = false;
};
using ConnPtr = std::shared_ptr<Connection>;

class Host;

class Network {
public:
    Network(Loop& loop, Rng& rng, Trace& trace, const Scenario& s)
        : loop_(loop), rng_(rng), trace_(trace), default_(s.default_link), links_(s.links) {}

    std::map<std::string, Host*> by_address;  // "192.0.2.1" -> host
    std::set<std::pair<std::string, std::string>> partitions;  // (a, b) with a < b

    LinkSpec link(const std::string& a, const std::string& b) const {
        const LinkSpec* best = nullptr;
        int best_score = -1;
        for (const auto& l : links_) {
            auto score = [&](const std::string& x, const std::string& y) {
                if ((l.a == x || l.a == "*") && (l.b == y || l.b == "*"))
                    return (l.a == x ? 2 : 0) + (l.b == y ? 2 : 0);
                return -1;
            };
            const int s = std::max(score(a, b), score(b, a));
            if (s > best_score) best = &l, best_score = s;  // the last of equals wins
            else if (s == best_score && s >= 0) best = &l;
        }
        return best ? *best : default_;
    }
    void set_link(LinkSpec l) {
        for (auto& x : links_)
            if ((x.a == l.a && x.b == l.b) || (x.a == l.b && x.b == l.a)) {
                x = l;
                return;
            }
        links_.push_back(std::move(l));
    }
    bool partitioned(const std::string& a, const std::string& b) const {
        return partitions.count(std::minmax(a, b)) > 0 || partitions.count({"*", a}) ||
               partitions.count({"*", b});
    }

    // One-way delay of `bytes` octets from a to b, drawn now.
    std::int64_t delay(const std::string& a, const std::string& b, std::size_t bytes) {
        const LinkSpec l = link(a, b);
        std::int64_t d = l.latency_ms + (l.jitter_ms > 0 ? rng_.between(0, l.jitter_ms) : 0);
        if (l.bandwidth_bytes_per_second > 0)
            d += static_cast<std::int64_t>(bytes) * 1000 / l.bandwidth_bytes_per_second;
        if (rng_.chance(l.loss)) d += 3 * l.latency_ms + 200;  // lost once, retransmitted
        return d;
    }

    void connect(Host& from, const std::string& address, std::uint16_t port,
                 std::chrono::milliseconds timeout,
                 std::function<void(ConnPtr conn, const std::string& error)> done);

    // Bytes from one end to the other, in order, after the link's delay. Held while the two
    // hosts are partitioned (TCP keeps retransmitting) and delivered when the partition heals.
    void send(const ConnPtr& c, bool from_client, std::string bytes) {
        if (from_client ? !c->client_open : !c->server_open) return;
        const std::int64_t d = delay(c->client_host, c->server_host, bytes.size());
        std::int64_t& last = from_client ? c->last_to_server : c->last_to_client;
        const std::int64_t when = std::max(loop_.now_ms + d, last);
        last = when;
        loop_.at(when, [this, c, from_client, bytes = std::move(bytes)]() mutable {
            arrive(c, from_client, std::move(bytes));
        });
    }
    // One end closes in order (FIN); the other sees the end after the delay.
    void close(const ConnPtr& c, bool from_client) {
        if (from_client ? !c->client_open : !c->server_open) return;
        if (from_client) c->client_open = false;
        else c->server_open = false;
        const std::int64_t d = delay(c->client_host, c->server_host, 0);
        std::int64_t& last = from_client ? c->last_to_server : c->last_to_client;
        const std::int64_t when = std::max(loop_.now_ms + d, last);
        last = when;
        loop_.at(when, [this, c, from_client] { end(c, !from_client, ""); });
    }
    // Both ends see a reset at once (a crash seen by the peer's next retransmission, a
    // middlebox's RST): no more bytes flow.
    void reset(const ConnPtr& c, const std::string& why, bool tell_client, bool tell_server) {
        const bool was_client = c->client_open, was_server = c->server_open;
        c->client_open = c->server_open = false;
        if (tell_client && was_client) {
            const std::int64_t d = delay(c->client_host, c->server_host, 0);
            loop_.at(loop_.now_ms + d, [this, c, why] { end(c, true, why); });
        }
        if (tell_server && was_server) {
            const std::int64_t d = delay(c->client_host, c->server_host, 0);
            loop_.at(loop_.now_ms + d, [this, c, why] { end(c, false, why); });
        }
    }
    void reset_host(const std::string& host, const std::string& why) {
        for (auto& [id, c] : live_)
            if (c->client_host == host || c->server_host == host)
                reset(c, why, c->server_host == host, c->client_host == host);
    }
    void reset_between(const std::string& a, const std::string& b) {
        for (auto& [id, c] : live_)
            if ((c->client_host == a && c->server_host == b) || (c->client_host == b && c->server_host == a)) {
                trace_.line("net", c->label + " reset");
                reset(c, "connection reset by peer", true, true);
            }
    }
    void heal() {
        std::vector<std::pair<ConnPtr, std::pair<bool, std::string>>> held;
        held.swap(held_);
        for (auto& [c, x] : held) {
            if (partitioned(c->client_host, c->server_host)) held_.emplace_back(c, x);
            else arrive(c, x.first, std::move(x.second));
        }
    }
    // The end of the run: callbacks may hold their own connection (a client waiting for a
    // reply); drop them so nothing outlives the run.
    void clear_all() {
        for (auto& w : all_)
            if (auto c = w.lock()) {
                c->on_client_data = nullptr;
                c->on_server_data = nullptr;
                c->on_client_end = nullptr;
                c->on_server_end = nullptr;
            }
    }
    void forget_closed() {
        for (auto it = live_.begin(); it != live_.end();)
            if (!it->second->client_open && !it->second->server_open) it = live_.erase(it);
            else ++it;
    }

private:
    void arrive(const ConnPtr& c, bool to_server, std::string bytes) {
        if (partitioned(c->client_host, c->server_host)) {
            held_.emplace_back(c, std::make_pair(to_server, std::move(bytes)));
            return;
        }
        if (to_server) {
            if (c->server_open && c->on_server_data) c->on_server_data(bytes);
        } else if (c->client_open) {
            if (c->client_started && c->on_client_data) c->on_client_data(bytes);
            else if (!c->client_started) c->early_to_client += bytes;
        }
    }
    void end(const ConnPtr& c, bool to_client, const std::string& why) {
        if (to_client) {
            if (!c->client_started) {
                c->ended_early = true;
                c->early_end = why;
                return;
            }
            c->client_open = false;
            auto f = std::move(c->on_client_end);
            c->on_client_end = nullptr;
            c->on_client_data = nullptr;
            if (f) f(why);
        } else {
            c->server_open = false;
            auto f = std::move(c->on_server_end);
            c->on_server_end = nullptr;
            c->on_server_data = nullptr;
            if (f) f(why);
        }
        forget_closed();
    }

    Loop& loop_;
    Rng& rng_;
    Trace& trace_;
    LinkSpec default_;
    std::vector<LinkSpec> links_;
    std::map<std::uint64_t, ConnPtr> live_;
    std::vector<std::weak_ptr<Connection>> all_;
    std::uint64_t next_id_ = 1;
    std::vector<std::pair<ConnPtr, std::pair<bool, std::string>>> held_;

    friend class Host;
    friend class Simulator;
};

// The client end as the outbound engine sees it.
class SimStream final : public delivery::Stream {
public:
    SimStream(Network& net, ConnPtr c, std::string peer) : net_(net), c_(std::move(c)), peer_(std::move(peer)) {}
    ~SimStream() override { close(); }
    void start(std::function<void(std::string_view)> on_data,
               std::function<void(const std::string&)> on_end) override {
        c_->on_client_data = std::move(on_data);
        c_->on_client_end = std::move(on_end);
        c_->client_started = true;
        if (!c_->early_to_client.empty()) {
            std::string early = std::move(c_->early_to_client);
            c_->early_to_client.clear();
            if (c_->on_client_data) c_->on_client_data(early);
        }
        if (c_->ended_early) {
            c_->client_open = false;
            if (auto f = std::move(c_->on_client_end)) f(c_->early_end);
        }
    }
    void write(std::string bytes) override { net_.send(c_, true, std::move(bytes)); }
    void close() override {
        c_->on_client_data = nullptr;
        c_->on_client_end = nullptr;
        net_.close(c_, true);
    }
    std::string peer_address() const override { return peer_; }

private:
    Network& net_;
    ConnPtr c_;
    std::string peer_;
};

}  // namespace pigeon::sim::detail
