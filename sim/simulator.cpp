// pigeon/sim/simulator.cpp: event loop, network, DNS, hosts and the scenario runner.
#include "sim/simulator.hpp"

#include <botan/rng.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>

#include "policy/pipeline.hpp"
#include "policy/directory.hpp"
#include "auth/dkim/dkim.hpp"
#include "auth/dmarc/org_domain.hpp"
#include "core/base64.hpp"
#include "core/clock.hpp"
#include "core/reply.hpp"
#include "delivery/outbound.hpp"
#include "dns/zone_resolver.hpp"
#include "queue/memory_storage.hpp"
#include "queue/spool.hpp"
#include "sim/explain.hpp"
#include "sim/random.hpp"
#include "smtp/server/session.hpp"
#include "tls/credentials.hpp"
#include "tls/dane.hpp"
#include "tls/tls_channel.hpp"

namespace pigeon::sim {

std::uint64_t fnv1a64(std::string_view bytes) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

std::string RunResult::transcript() const {
    std::string out = trace;
    out += "# expectations\n";
    for (const auto& p : passed) out += "ok    " + p + "\n";
    for (const auto& f : failures) out += "FAIL  " + f + "\n";
    out += "# digest " + digest + "\n";
    return out;
}

namespace {

using Fn = std::function<void()>;

// "   12.345" for 12345 ms: fixed width, integer arithmetic only.
std::string stamp_ms(std::int64_t ms) {
    char b[32];
    std::snprintf(b, sizeof b, "%7lld.%03lld", static_cast<long long>(ms / 1000),
                  static_cast<long long>(ms % 1000));
    return b;
}

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

// ---------------------------------------------------------------- event loop

class Loop {
public:
    std::int64_t now_ms = 0;

    std::uint64_t at(std::int64_t when_ms, Fn fn) {
        const std::uint64_t id = next_++;
        const auto key = std::make_pair(std::max(when_ms, now_ms), id);
        events_.emplace(key, std::move(fn));
        keys_.emplace(id, key.first);
        return id;
    }
    void cancel(std::uint64_t id) {
        auto k = keys_.find(id);
        if (k == keys_.end()) return;
        events_.erase({k->second, id});
        keys_.erase(k);
    }
    // Runs the next event if it is due no later than until_ms; false when there is none.
    bool step(std::int64_t until_ms) {
        if (events_.empty()) return false;
        auto it = events_.begin();
        if (it->first.first > until_ms) return false;
        now_ms = it->first.first;
        Fn fn = std::move(it->second);
        keys_.erase(it->first.second);
        events_.erase(it);
        fn();
        return true;
    }

private:
    std::map<std::pair<std::int64_t, std::uint64_t>, Fn> events_;  // (time, order) -> work
    std::map<std::uint64_t, std::int64_t> keys_;
    std::uint64_t next_ = 1;
};

class SimClock final : public core::Clock {
public:
    SimClock(const Loop& loop, std::int64_t start) : loop_(loop), start_(start) {}
    std::int64_t now_unix_seconds() const override { return start_ + loop_.now_ms / 1000; }

private:
    const Loop& loop_;
    std::int64_t start_;
};

// Botan's RNG interface over the simulator's generator (DKIM signing, key loading).
class BotanRng final : public Botan::RandomNumberGenerator {
public:
    explicit BotanRng(Rng& rng) : rng_(rng) {}
    void randomize(std::uint8_t out[], std::size_t n) override {
        for (std::size_t i = 0; i < n; i += 8) {
            std::uint64_t x = rng_.next_u64();
            for (std::size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<std::uint8_t>(x >> (8 * j));
        }
    }
    bool accepts_input() const override { return false; }
    void add_entropy(const std::uint8_t[], std::size_t) override {}
    std::string name() const override { return "pigeon-sim"; }
    void clear() override {}
    bool is_seeded() const override { return true; }

private:
    Rng& rng_;
};

class Simulator;

// ---------------------------------------------------------------- trace

class Trace {
public:
    Trace(const Loop& loop, bool explain) : loop_(loop), explain_(explain) {}

    void line(const std::string& who, const std::string& what) {
        std::string l = stamp_ms(loop_.now_ms) + "  " + who + "  " + what + "\n";
        if (what.starts_with("S: ") && !what.starts_with("S: <")) check_reply(who, what.substr(3), l);
        trace_ += l;
        if (explain_) {
            explain_text_ += l;
            for (const auto& why : explain_line(what)) explain_text_ += std::string(13, ' ') + "  | " + why + "\n";
        }
    }
    // Only in the explanation (never in the trace or the digest).
    void note(const std::string& text) {
        if (explain_) explain_text_ += std::string(13, ' ') + "  | " + text + "\n";
    }
    const std::string& text() const { return trace_; }
    // Server replies (every "S: " line, grouped into replies per speaker) that
    // core::parse_reply refuses: RFC 5321 4.2 syntax, checked by the swarm.
    std::vector<std::string> bad_replies;
    const std::string& explained() const { return explain_text_; }
    bool contains(const std::vector<std::string>& parts) const {
        std::size_t start = 0;
        while (start < trace_.size()) {
            std::size_t end = trace_.find('\n', start);
            if (end == std::string::npos) end = trace_.size();
            std::string_view l(trace_.data() + start, end - start);
            bool all = true;
            for (const auto& p : parts) all = all && l.find(p) != std::string_view::npos;
            if (all) return true;
            start = end + 1;
        }
        return false;
    }

private:
    void check_reply(const std::string& who, const std::string& text, const std::string& where) {
        std::string& pending = pending_replies_[who];
        pending += text + "\r\n";
        if (text.size() >= 4 && text[3] == '-') return;  // more lines follow
        if (!core::parse_reply(pending).ok()) bad_replies.push_back(where.substr(0, where.size() - 1));
        pending.clear();
    }

    const Loop& loop_;
    bool explain_;
    std::string trace_, explain_text_;
    std::map<std::string, std::string> pending_replies_;
};

// ---------------------------------------------------------------- network

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

// ---------------------------------------------------------------- DNS

// The one authoritative DNS every host asks, with every question and answer traced.
class TracingResolver final : public dns::Resolver {
public:
    TracingResolver(dns::ZoneResolver& zone, Trace& trace, std::string who)
        : zone_(zone), trace_(trace), who_(std::move(who)) {}
    void resolve(const dns::Question& q, std::function<void(dns::Answer)> done) override {
        dns::Answer a = zone_.lookup(q);
        std::string line = "DNS " + std::string(dns::type_name(q.type)) + " " + q.name + "? " +
                           dns::rcode_name(a.rcode) + " " + dns::security_name(a.security);
        for (const auto& r : a.records) {
            std::string z = dns::to_zone_line(r);
            // "name. TTL IN TYPE rdata" -> "TYPE rdata"
            const auto in = z.find(" IN ");
            line += " | " + (in == std::string::npos ? z : z.substr(in + 4));
        }
        if (a.records.empty() && a.rcode == dns::Rcode::noerror) line += " (no records)";
        trace_.line(who_, line);
        done(std::move(a));
    }

private:
    dns::ZoneResolver& zone_;
    Trace& trace_;
    std::string who_;
};

// ---------------------------------------------------------------- hosts

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

void Network::connect(Host& from, const std::string& address, std::uint16_t port,
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

// ---- a scripted peer (smtp-sink style): greylisting, 5xx, a STARTTLS-stripping attacker

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
        const std::string u = lower(line);
        for (std::size_t i = 0; i < spec_.rules.size(); ++i) {
            const auto& r = spec_.rules[i];
            if (!u.starts_with(lower(r.prefix))) continue;
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
            const std::string verb = lower(line.substr(0, 4));
            if (verb == "mail" || verb == "rset") st.recipients.clear();
            if (verb == "rcpt" && reply.starts_with("2")) {
                const auto lt = line.find('<'), gt = line.find('>');
                if (lt != std::string::npos && gt != std::string::npos && gt > lt)
                    st.recipients.push_back(lower(line.substr(lt + 1, gt - lt - 1)));
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

// ---- a complete Pigeon instance

class PigeonHost final : public Host {
public:
    PigeonHost(World& w, const HostSpec& spec) : Host(w, spec), resolver_(w.zone, w.trace, spec.name) {
        std::vector<config::User> users;
        for (const auto& u : spec.users) users.push_back(config::User{u.address, "", u.aliases});
        directory_ = std::make_unique<policy::Directory>(spec.local_domains, users);
        for (const auto& k : spec.dkim) {
            auto key = dkim::load_private_key(k.key, w.botan_rng);
            if (!key.ok()) {
                problems.push_back(spec.name + ": DKIM key " + k.selector + "._domainkey." + k.domain +
                                   ": " + key.error().message);
                continue;
            }
            const bool ed = key.value()->algo_name() == "Ed25519";
            keys_.push_back(policy::SigningKey{lower(k.domain), k.selector, key.value(),
                                            ed ? dkim::Algorithm::ed25519_sha256 : dkim::Algorithm::rsa_sha256});
            if (k.publish) {
                auto txt = dkim::dns_record_for(*key.value());
                if (!txt.ok()) continue;
                dns::Txt t;
                for (std::size_t i = 0; i < txt.value().size(); i += 255) t.strings.push_back(txt.value().substr(i, 255));
                w.zone.add(dns::Record{lower(k.selector + "._domainkey." + k.domain), dns::RrType::txt, 3600, t});
            }
        }
        if (!spec.tls_cert_path.empty()) {
            try {
                server_tls_ = tls::TlsContext::from_pem_files(spec.tls_cert_path, spec.tls_key_path);
                if (spec.tlsa_auto) {
                    // RFC 7672 3.1.1: DANE-EE(3) SPKI(1) SHA2-256(1) of our certificate.
                    const std::string data = tls::tlsa_data(server_tls_->certificate_chain().at(0), 1, 1);
                    w.zone.add(dns::Record{lower("_25._tcp." + spec.hostname), dns::RrType::tlsa, 3600,
                                           dns::Tlsa{3, 1, 1, data}});
                }
            } catch (const std::exception& e) {
                problems.push_back(spec.name + ": " + e.what());
            }
        }
        client_tls_ = tls::TlsContext::client_only();
        start_life(false);
    }
    ~PigeonHost() override { end_life(); }

    std::vector<std::string> problems;
    std::map<std::string, std::vector<StoredMail>> mailboxes;  // user address -> mail

    std::size_t queue_size() { return life_ ? life_->spool->size() : storage_size_after_crash(); }

    bool accept(const ConnPtr& c, std::uint16_t port) override {
        if (!life_ || (port != 25 && port != 587)) return false;
        const smtp::Role role = port == 25 ? smtp::Role::inbound : smtp::Role::submission;
        auto s = std::make_shared<ServerConn>();
        s->conn = c;
        s->role = role;
        s->label = c->label;
        smtp::SessionConfig config;
        config.role = role;
        config.hostname = spec_.hostname;
        config.tls_available = server_tls_ != nullptr;
        config.auth_without_tls = true;  // the simulator's submission client does not use TLS
        config.clock = &w_.clock;
        s->session = smtp::make_session(std::move(config), smtp::PeerInfo{client_address(c->client_host)});
        life_->sessions[c->id] = s;
        Alive alive = life_->alive;
        std::weak_ptr<ServerConn> weak = s;
        c->on_server_data = [this, alive, weak](std::string_view bytes) {
            if (!*alive) return;
            if (auto s = weak.lock()) received(s, bytes);
        };
        c->on_server_end = [this, alive, weak](const std::string&) {
            if (!*alive) return;
            if (auto s = weak.lock()) run(s, s->session->put_eof());
            if (auto s = weak.lock()) drop(s);
        };
        run(s, s->session->start());
        return true;
    }

    void crash() override {
        ++w_.obs.crashes;
        // A crash while the end of data awaits its reply: the peer may have the message and
        // the restarted host sends it again (RFC 1047), as after a lost reply.
        for (auto& [who, tx] : transactions_)
            if (tx.awaiting_end_of_data && tx.to_keeper && who.starts_with(name() + "/"))
                ++w_.obs.lost_replies;
        std::erase_if(transactions_, [this](const auto& t) { return t.first.starts_with(name() + "/"); });
        w_.trace.line(name(), "CRASH: the process and every connection are gone; the spool keeps what was synced");
        w_.net.reset_host(name(), "connection reset by peer");
        end_life();
        storage_.crash(queue::MemoryStorage::CrashModel::drop_unsynced);
        up_ = false;
    }
    void restart() override {
        if (up_) return;
        up_ = true;
        start_life(true);
    }
    void flush() {
        if (life_ && life_->engine) life_->engine->flush();
    }
    // OutboundStats::maybe_duplicates over every life of this host.
    std::uint64_t maybe_duplicates() const {
        return maybe_duplicates_before_ + (life_ && life_->engine ? life_->engine->stats().maybe_duplicates : 0);
    }

    std::string client_address(const std::string& host) const;
    std::function<std::string(const std::string&)> address_of;  // host name -> first address

private:
    struct ServerConn {
        ConnPtr conn;
        smtp::Role role;
        std::string label;
        std::unique_ptr<smtp::Session> session;
        std::unique_ptr<tls::TlsServerChannel> tls;
        bool closed = false;
    };
    using ServerPtr = std::shared_ptr<ServerConn>;

    struct Life {
        Alive alive = std::make_shared<bool>(true);
        std::unique_ptr<queue::Spool> spool;
        std::unique_ptr<policy::Pipeline> checks;
        std::unique_ptr<HostRuntime> runtime;
        std::unique_ptr<delivery::OutboundEngine> engine;
        std::map<std::uint64_t, ServerPtr> sessions;
    };

    // What a restart would find: a read-only recovery of the storage, which changes nothing.
    std::size_t storage_size_after_crash() {
        queue::Spool probe(storage_, w_.clock, w_.rng);
        const auto report = probe.recover(queue::Spool::Recovery::read_only);
        return report.ok() ? probe.size() : 0;
    }

    bool is_remote(const core::Path& p) const {
        return p.kind == core::Path::Kind::mailbox && !directory_->is_local_domain(p.mailbox.domain().lowercase());
    }

    void start_life(bool restarted) {
        life_ = std::make_unique<Life>();
        Life& l = *life_;
        l.spool = std::make_unique<queue::Spool>(storage_, w_.clock, w_.rng);
        auto report = l.spool->recover();
        if (restarted) {
            w_.trace.line(name(), "RESTART: spool recovered: " +
                                      (report.ok() ? std::to_string(report->recovered) + " message(s), " +
                                                         std::to_string(report->discarded) + " torn file(s) discarded"
                                                   : "FAILED " + report.error()));
        }
        policy::PipelineOptions co;
        co.hostname = spec_.hostname;
        co.spf.check = spec_.spf;
        co.dmarc.check = spec_.dmarc;
        co.dmarc.enforce = spec_.dmarc_enforce;
        co.org_domain = w_.org_domain;
        co.dkim_keys = keys_;
        co.rng = &w_.botan_rng;
        co.log = [this](policy::PipelineOptions::Level, std::string_view line) { w_.trace.line(name(), std::string(line)); };
        l.checks = std::make_unique<policy::Pipeline>(std::move(co), *directory_, w_.clock, w_.rng, &resolver_);
        l.runtime = std::make_unique<HostRuntime>(w_, *this, l.alive);

        delivery::OutboundOptions o;
        o.hostname = spec_.hostname;
        o.our_names = {lower(spec_.hostname)};
        o.dane = spec_.dane;
        o.retry.first_retry_seconds = spec_.first_retry_seconds;
        o.retry.max_retry_interval_seconds = spec_.max_retry_interval_seconds;
        o.retry.give_up_after_seconds = spec_.give_up_after_seconds;
        o.retry.delay_warning_after_seconds = spec_.delay_warning_after_seconds;
        o.tls_context = client_tls_;
        o.is_remote = [this](const core::Path& p) { return is_remote(p); };
        o.log = [this](std::string_view line) {  // "outbound: ..."
            w_.trace.line(name(), std::string(line));
            note_dsn(line);
            note_lost_reply(line);
        };
        o.trace = [this](std::string_view conn, std::string_view line) {
            // "o3 mx.example.org[192.0.2.1]:25" -> "o3"
            const auto sp = conn.find(' ');
            const std::string who = name() + "/" + std::string(conn.substr(0, sp));
            client_line(who, conn, std::string(line));
        };
        Alive alive = l.alive;
        o.on_queued = [this, alive](const std::string& id) {
            w_.loop.at(w_.loop.now_ms, guarded(alive, [this, id] { deliver_local(id); }));
        };
        l.engine = std::make_unique<delivery::OutboundEngine>(std::move(o), *l.spool, w_.clock, w_.rng,
                                                               resolver_, *l.runtime);
        l.engine->start();
        for (const auto& m : l.spool->list()) {
            const std::string id = m.id;
            w_.loop.at(w_.loop.now_ms, guarded(alive, [this, id] { deliver_local(id); }));
        }
    }

    void end_life() {
        if (!life_) return;
        *life_->alive = false;
        if (life_->engine) maybe_duplicates_before_ += life_->engine->stats().maybe_duplicates;
        for (auto& [id, s] : life_->sessions) s->closed = true;
        life_->sessions.clear();
        life_->engine.reset();
        life_->checks.reset();
        life_->spool.reset();
        life_.reset();
    }

    void drop(const ServerPtr& s) {
        if (!life_) return;
        s->closed = true;
        life_->sessions.erase(s->conn->id);
    }

    void write(const ServerPtr& s, std::string_view plaintext) {
        if (s->closed) return;
        std::string bytes = s->tls ? s->tls->send(plaintext).to_peer : std::string(plaintext);
        if (!bytes.empty()) w_.net.send(s->conn, false, std::move(bytes));
    }

    void received(const ServerPtr& s, std::string_view bytes) {
        if (s->closed) return;
        if (s->tls) {
            tls::TlsOutput t = s->tls->received(bytes);
            if (!t.to_peer.empty()) w_.net.send(s->conn, false, t.to_peer);
            if (!t.plaintext.empty()) run(s, s->session->put(t.plaintext));
            if (t.established_now) {
                w_.trace.line(name(), s->label + " TLS established (" + s->tls->version() + ")");
                run(s, s->session->on(smtp::TlsReady{}));
            }
            if (t.closed) {
                if (!t.error.empty()) w_.trace.line(name(), s->label + " TLS failed: " + t.error);
                close(s);
            }
        } else {
            run(s, s->session->put(bytes));
        }
    }

    void close(const ServerPtr& s) {
        if (s->closed) return;
        w_.net.close(s->conn, false);
        drop(s);
    }

    // Answers arrive as events of their own, never inside the session's call.
    void answer(const ServerPtr& s, smtp::Event e) {
        std::weak_ptr<ServerConn> weak = s;
        w_.loop.at(w_.loop.now_ms, guarded(life_->alive, [this, weak, e = std::move(e)] {
                       if (auto s = weak.lock(); s && !s->closed) run(s, s->session->on(e));
                   }));
    }

    void run(const ServerPtr& s, std::vector<smtp::Action> actions) {
        for (auto& a : actions) {
            if (s->closed || !life_) return;
            if (auto* send = std::get_if<smtp::Send>(&a)) {
                write(s, send->bytes);
            } else if (std::holds_alternative<smtp::BeginTls>(a)) {
                s->tls = std::make_unique<tls::TlsServerChannel>(server_tls_);
            } else if (auto* au = std::get_if<smtp::Authenticate>(&a)) {
                answer(s, authenticate(*au, s->label));
            } else if (auto* c = std::get_if<smtp::CheckSender>(&a)) {
                std::weak_ptr<ServerConn> weak = s;
                life_->checks->check_sender(s->role, *c, s->label, [this, weak](smtp::Event e) {
                    if (auto s = weak.lock()) answer(s, std::move(e));
                });
            } else if (auto* c = std::get_if<smtp::CheckRecipient>(&a)) {
                answer(s, life_->checks->check_recipient(s->role, *c));
            } else if (auto* c = std::get_if<smtp::CheckMessage>(&a)) {
                std::weak_ptr<ServerConn> weak = s;
                life_->checks->check_message(s->role, *c, s->label, [this, weak](smtp::Event e) {
                    if (auto s = weak.lock()) answer(s, std::move(e));
                });
            } else if (auto* q = std::get_if<smtp::Enqueue>(&a)) {
                enqueue(s, *q);
            } else if (std::holds_alternative<smtp::Close>(a)) {
                if (s->tls) {
                    auto out = s->tls->close();
                    if (!out.to_peer.empty()) w_.net.send(s->conn, false, out.to_peer);
                }
                close(s);
            }
        }
    }

    // Modelled: the password as the scenario gives it (see sim/README.md).
    smtp::Event authenticate(const smtp::Authenticate& a, const std::string& label) {
        const config::User* user = directory_->login(a.authcid);
        const UserSpec* spec = nullptr;
        if (user)
            for (const auto& u : spec_.users)
                if (lower(u.address) == lower(user->address)) spec = &u;
        const bool authzid_ok = a.authzid.empty() || (user && directory_->login(a.authzid) == user);
        const bool ok = spec && spec->password == a.password && authzid_ok;
        w_.trace.line(name(), label + " AUTH " + (ok ? "succeeded for " + user->address : "failed"));
        return smtp::AuthResult{ok ? smtp::AuthResult::Outcome::ok : smtp::AuthResult::Outcome::bad_credentials,
                                ok ? user->address : std::string()};
    }

    void enqueue(const ServerPtr& s, const smtp::Enqueue& q) {
        queue::Submission sub{q.envelope, q.message, q.folder};
        auto id = life_->spool->commit(std::move(sub));
        if (!id.ok()) {
            w_.trace.line(name(), s->label + " spool: " + id.error());
            answer(s, smtp::EnqueueFailed{id.error()});
            return;
        }
        if (q.envelope.reverse_path.kind == core::Path::Kind::null) null_sender_ids_.insert(id.value());
        std::string rcpts;
        for (const auto& r : q.envelope.recipients) rcpts += (rcpts.empty() ? "" : ", ") + r.to_string();
        w_.trace.line(name(), "queue: " + id.value() + " committed (synced) from " +
                                  q.envelope.reverse_path.to_string() + " to " + rcpts +
                                  (q.folder.empty() ? "" : " [folder " + q.folder + "]"));
        answer(s, smtp::Enqueued{id.value()});
        const std::string qid = id.value();
        Alive alive = life_->alive;
        w_.loop.at(w_.loop.now_ms, guarded(alive, [this, qid] {
                       deliver_local(qid);
                       if (life_) life_->engine->notify(qid);
                   }));
    }

    // Local delivery into the in-memory mailboxes (modelled on delivery/local_delivery.hpp:
    // the copy is durable before the state says delivered).
    void deliver_local(const std::string& id) {
        if (!life_) return;
        auto rec = life_->spool->show(id);
        if (!rec.ok()) return;
        const auto& e = rec->entry;
        std::vector<queue::RecipientUpdate> updates;
        std::set<std::string> delivered_to;
        bool pending_left = false;
        for (std::size_t i = 0; i < e.envelope.recipients.size(); ++i) {
            if (e.status[i].state != queue::RecipientState::pending) continue;
            const auto& p = e.envelope.recipients[i];
            if (is_remote(p)) {
                pending_left = true;
                continue;
            }
            queue::RecipientStatus st = e.status[i];
            if (const config::User* u = directory_->recipient(p)) {
                if (delivered_to.insert(lower(u->address)).second) {
                    mailboxes[lower(u->address)].push_back(StoredMail{w_.loop.now_ms, e.folder, rec->message, id});
                    w_.trace.line(name(), "deliver: " + id + " to " + u->address + " " +
                                              (e.folder.empty() ? "INBOX" : e.folder));
                }
                st.state = queue::RecipientState::delivered;
                st.diagnostic = "delivered to mailbox";
            } else {
                st.state = queue::RecipientState::failed;
                st.diagnostic = "550 5.1.1 no such local user";
                w_.trace.line(name(), "deliver: " + id + " for " + p.to_string() + ": no such user");
            }
            updates.push_back(queue::RecipientUpdate{i, st});
        }
        if (updates.empty()) return;
        if (!pending_left) {
            auto r = life_->spool->remove(id);
            w_.trace.line(name(), "queue: " + id + (r.ok() ? " removed (nothing pending)" : " remove failed"));
        } else {
            life_->spool->mark(id, updates);
        }
    }

    // "outbound: ID: bounce DSN queued to ..." (or "delay notice"): DSN is a null-sender
    // message; a DSN about a null-sender message would be a bounce of a bounce.
    void note_dsn(std::string_view line) {
        if (!line.starts_with("outbound: ")) return;
        line.remove_prefix(10);
        const auto colon = line.find(": ");
        if (colon == std::string_view::npos) return;
        const std::string id(line.substr(0, colon));
        std::string_view rest = line.substr(colon + 2);
        for (std::string_view kind : {"bounce ", "delay notice "}) {
            if (!rest.starts_with(kind)) continue;
            rest.remove_prefix(kind.size());
            const std::string dsn(rest.substr(0, rest.find(' ')));
            if (null_sender_ids_.count(id)) w_.obs.dsn_of_dsn.push_back(name() + ": " + std::string(line));
            null_sender_ids_.insert(dsn);
        }
    }

    // "outbound: ID: oN host[address]:25: no reply to the end of data ...": counted when the
    // peer may have kept the message (not a scripted peer that drops the connection there).
    void note_lost_reply(std::string_view line) {
        if (line.find(": no reply to the end of data") == std::string_view::npos) return;
        const auto open = line.find('['), close = line.find(']');
        if (open == std::string_view::npos || close == std::string_view::npos || close < open) return;
        auto it = w_.net.by_address.find(std::string(line.substr(open + 1, close - open - 1)));
        if (it != w_.net.by_address.end() && it->second->keeps_messages()) ++w_.obs.lost_replies;
    }

    // One line of an outbound conversation. The client session shows the message as
    // "<message: N octets>"; the trace shows its lines instead (unstuffed, as the submission
    // client does), found in the spool by the transaction's MAIL FROM, RCPT TOs and size.
    // When two spooled messages fit and differ, the placeholder stays.
    void client_line(const std::string& who, std::string_view conn, const std::string& line) {
        auto& tx = transactions_[who];
        if (line.starts_with("C: MAIL FROM:")) {
            const auto end = line.find(' ', 13);
            tx.from = line.substr(13, end == std::string::npos ? std::string::npos : end - 13);
            tx.recipients.clear();
        } else if (line.starts_with("C: RCPT TO:")) {
            const auto end = line.find(' ', 11);
            tx.recipients.push_back(line.substr(11, end == std::string::npos ? std::string::npos : end - 11));
        } else if (line == "C: .") {
            tx.awaiting_end_of_data = true;
            const auto open = conn.find('['), close = conn.find(']');
            tx.to_keeper = false;
            if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
                auto it = w_.net.by_address.find(std::string(conn.substr(open + 1, close - open - 1)));
                tx.to_keeper = it != w_.net.by_address.end() && it->second->keeps_messages();
            }
        } else if (line.starts_with("S: ")) {
            tx.awaiting_end_of_data = false;
        } else if (line.starts_with("C: <message: ") && life_) {
            const std::uint64_t size = std::strtoull(line.c_str() + 13, nullptr, 10);
            std::optional<std::string> text;
            bool ambiguous = false;
            for (const auto& m : life_->spool->list()) {
                if (m.size_octets != size || m.sender.to_string() != tx.from) continue;
                bool all = true;
                for (const auto& r : tx.recipients) {
                    bool found = false;
                    for (const auto& have : m.recipients) found = found || have.path.to_string() == r;
                    all = all && found;
                }
                if (!all) continue;
                auto rec = life_->spool->show(m.id);
                if (!rec.ok()) continue;
                if (text && *text != rec->message) ambiguous = true;
                text = rec->message;
            }
            if (text && !ambiguous) {
                std::size_t start = 0;
                while (start < text->size()) {
                    std::size_t end = text->find("\r\n", start);
                    if (end == std::string::npos) end = text->size();
                    w_.trace.line(who, "C: " + text->substr(start, end - start));
                    start = end + 2;
                }
                return;
            }
        }
        w_.trace.line(who, line);
    }

    TracingResolver resolver_;
    struct Transaction {  // what an outbound conversation is doing, from its trace lines
        std::string from;
        std::vector<std::string> recipients;
        bool awaiting_end_of_data = false;  // "." sent, no reply yet
        bool to_keeper = false;             // the peer may keep a copy (Host::keeps_messages)
    };
    std::map<std::string, Transaction> transactions_;  // "h1/o3" -> its transaction
    std::set<std::string> null_sender_ids_;
    std::uint64_t maybe_duplicates_before_ = 0;
    std::unique_ptr<policy::Directory> directory_;
    std::vector<policy::SigningKey> keys_;
    std::shared_ptr<tls::TlsContext> server_tls_, client_tls_;
    queue::MemoryStorage storage_;
    std::unique_ptr<Life> life_;
};

std::string PigeonHost::client_address(const std::string& host) const { return address_of(host); }

// ---- the simulator's submission client: one message, one command at a time, no TLS

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

// ---------------------------------------------------------------- the run

class Simulator {
public:
    Simulator(const Scenario& s, const RunOptions& o)
        : s_(s), w_(s, o.seed.value_or(s.seed), o.explain), seed_(o.seed.value_or(s.seed)) {}

    RunResult run() {
        RunResult result;
        result.seed = seed_;
        w_.trace.line("sim", "scenario " + s_.name + ", seed " + std::to_string(seed_) + ", start " +
                                 core::format_rfc5322_date(s_.start_unix));
        auto zone = dns::ZoneResolver::parse(s_.zone);
        if (!zone.ok()) {
            result.failures.push_back(s_.path + ": dns.zone: " + zone.error().message);
            return finish(result);
        }
        w_.zone = std::move(zone).value();
        w_.org_domain = dmarc::SuffixList(s_.public_suffixes).function();
        build_hosts(result);
        if (!result.failures.empty()) return finish(result);
        for (const auto& a : s_.actions) w_.loop.at(a.at_ms, [this, &a] { act(a); });
        for (const auto& f : s_.faults) w_.loop.at(f.at_ms, [this, &f] { fault(f); });
        std::size_t steps = 0;
        constexpr std::size_t max_steps = 5'000'000;
        while (steps < max_steps && w_.loop.step(s_.duration_ms)) ++steps;
        if (steps == max_steps) result.failures.push_back("the run did not settle within " + std::to_string(max_steps) + " events");
        w_.loop.now_ms = std::max(w_.loop.now_ms, s_.duration_ms);
        w_.trace.line("sim", "end of run");
        check(result);
        observe();
        result.observed = std::move(w_.obs);
        finish(result);
        w_.net.clear_all();
        return result;
    }

private:
    RunResult& finish(RunResult& r) {
        r.trace = w_.trace.text();
        r.explain = w_.trace.explained();
        char b[20];
        std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(fnv1a64(r.trace)));
        r.digest = b;
        return r;
    }

    std::string address_of(const std::string& host) const {
        for (const auto& h : s_.hosts)
            if (h.name == host && !h.addresses.empty()) return h.addresses.front();
        // A client without an address of its own: one from TEST-NET-2, by position.
        for (std::size_t i = 0; i < s_.hosts.size(); ++i)
            if (s_.hosts[i].name == host) return "198.51.100." + std::to_string(10 + i);
        return "0.0.0.0";
    }

    void build_hosts(RunResult& result) {
        for (const auto& spec : s_.hosts) {
            std::unique_ptr<Host> h;
            if (spec.kind == HostSpec::Kind::pigeon) {
                auto p = std::make_unique<PigeonHost>(w_, spec);
                p->address_of = [this](const std::string& host) { return address_of(host); };
                for (const auto& problem : p->problems) result.failures.push_back(problem);
                pigeons_[spec.name] = p.get();
                h = std::move(p);
            } else if (spec.kind == HostSpec::Kind::scripted) {
                h = std::make_unique<ScriptedHost>(w_, spec);
            } else {
                h = std::make_unique<ClientHost>(w_, spec);
            }
            for (const auto& a : spec.addresses) w_.net.by_address[a] = h.get();
            hosts_[spec.name] = std::move(h);
        }
    }

    void act(const ActionSpec& a) {
        if (a.kind == "flush") {
            w_.trace.line("sim", "action: flush the queue of " + a.host);
            if (auto it = pigeons_.find(a.host); it != pigeons_.end()) it->second->flush();
            return;
        }
        Host& from = a.client.empty() ? *hosts_.at(a.server) : *hosts_.at(a.client);
        const std::string label = "client" + std::to_string(++clients_);
        auto c = std::make_shared<SubmitClient>(w_, from, a, label, address_of(a.server));
        c->start();
    }

    void fault(const FaultSpec& f) {
        if (f.kind == "crash") {
            hosts_.at(f.host)->crash();
        } else if (f.kind == "restart") {
            w_.trace.line("sim", "fault: restart " + f.host);
            hosts_.at(f.host)->restart();
        } else if (f.kind == "refuse" || f.kind == "accept") {
            w_.trace.line("sim", "fault: " + f.host + (f.kind == "refuse" ? " refuses connections" : " accepts connections again"));
            hosts_.at(f.host)->refusing = f.kind == "refuse";
        } else if (f.kind == "partition") {
            w_.trace.line("sim", "fault: partition " + f.a + " | " + f.b);
            w_.net.partitions.insert(std::minmax(f.a, f.b));
        } else if (f.kind == "heal") {
            w_.trace.line("sim", "fault: heal " + f.a + " | " + f.b);
            w_.net.partitions.erase(std::minmax(f.a, f.b));
            w_.net.heal();
        } else if (f.kind == "reset") {
            w_.trace.line("sim", "fault: reset connections " + f.a + " <-> " + f.b);
            w_.net.reset_between(f.a, f.b);
        } else if (f.kind == "link") {
            w_.trace.line("sim", "fault: link " + f.a + " <-> " + f.b + " now " + std::to_string(f.link->latency_ms) +
                                     " ms, loss " + std::to_string(f.link->loss));
            w_.net.set_link(*f.link);
        } else if (f.kind == "dns_fail" || f.kind == "dns_restore") {
            dns::Rcode rc = dns::Rcode::noerror;
            if (f.kind == "dns_fail")
                rc = f.rcode == "timeout" ? dns::Rcode::timeout
                     : f.rcode == "refused" ? dns::Rcode::refused
                     : f.rcode == "nxdomain" ? dns::Rcode::nxdomain
                                             : dns::Rcode::servfail;
            w_.trace.line("sim", "fault: DNS " + f.name + (f.type.empty() ? "" : " " + f.type) + " now answers " +
                                     (f.kind == "dns_fail" ? f.rcode : std::string("normally")));
            if (f.type.empty()) {
                w_.zone.fail(f.name, rc);
            } else if (auto t = dns::type_from_name(f.type)) {
                w_.zone.fail(dns::make_question(f.name, *t), rc);
            }
        } else if (f.kind == "dns_secure" || f.kind == "dns_bogus" || f.kind == "dns_insecure") {
            w_.trace.line("sim", "fault: DNS zone " + f.name + " is now " + f.kind.substr(4));
            w_.zone.set_security(f.name, f.kind == "dns_secure" ? dns::Security::secure
                                         : f.kind == "dns_bogus" ? dns::Security::bogus
                                                                 : dns::Security::insecure);
        }
    }

    void observe() {
        for (const auto& [name, h] : pigeons_) {
            for (const auto& [box, mail] : h->mailboxes)
                for (const auto& m : mail) w_.obs.mail.push_back({name, box, m.folder, m.content});
            w_.obs.queued[name] = h->queue_size();
            w_.obs.maybe_duplicates += h->maybe_duplicates();
        }
        w_.obs.bad_replies = w_.trace.bad_replies;
    }

    void check(RunResult& r) {
        for (const auto& e : s_.expects) {
            const std::string where = s_.name + ".toml:" + std::to_string(e.line) + ": ";
            std::string what;
            bool ok = false;
            switch (e.kind) {
                case ExpectSpec::Kind::mailbox:
                case ExpectSpec::Kind::no_mail: {
                    auto* h = pigeons_.count(e.host) ? pigeons_.at(e.host) : nullptr;
                    std::size_t n = 0;
                    if (h) {
                        auto it = h->mailboxes.find(lower(e.mailbox));
                        if (it != h->mailboxes.end())
                            for (const auto& m : it->second) {
                                if (m.folder != e.folder) continue;
                                if (e.by_ms >= 0 && m.at_ms > e.by_ms) continue;
                                bool all = true;
                                for (const auto& c : e.contains) all = all && m.content.find(c) != std::string::npos;
                                if (all) ++n;
                            }
                    }
                    std::string desc = e.mailbox + " on " + e.host + " in " + (e.folder.empty() ? "INBOX" : e.folder);
                    if (e.by_ms >= 0) desc += " by " + stamp_ms(e.by_ms).substr(stamp_ms(e.by_ms).find_first_not_of(' ')) + " s";
                    for (const auto& c : e.contains) desc += ", containing \"" + c + "\"";
                    if (e.kind == ExpectSpec::Kind::no_mail) {
                        ok = n == 0;
                        what = "no mail for " + desc + " (found " + std::to_string(n) + ")";
                    } else if (e.count) {
                        ok = n == *e.count;
                        what = std::to_string(*e.count) + " message(s) for " + desc + " (found " + std::to_string(n) + ")";
                    } else {
                        ok = n >= 1;
                        what = "mail for " + desc + " (found " + std::to_string(n) + ")";
                    }
                    break;
                }
                case ExpectSpec::Kind::trace:
                case ExpectSpec::Kind::no_trace: {
                    const bool found = w_.trace.contains(e.contains);
                    ok = e.kind == ExpectSpec::Kind::trace ? found : !found;
                    std::string parts;
                    for (const auto& c : e.contains) parts += (parts.empty() ? "\"" : " + \"") + c + "\"";
                    what = std::string(e.kind == ExpectSpec::Kind::trace ? "a trace line with " : "no trace line with ") + parts;
                    break;
                }
                case ExpectSpec::Kind::queue: {
                    auto* h = pigeons_.count(e.host) ? pigeons_.at(e.host) : nullptr;
                    const std::size_t n = h ? h->queue_size() : 0;
                    ok = h && n == *e.count;
                    what = std::to_string(*e.count) + " message(s) queued on " + e.host + " at the end (found " +
                           std::to_string(n) + ")";
                    break;
                }
            }
            (ok ? r.passed : r.failures).push_back(where + what);
        }
    }

    const Scenario& s_;
    World w_;
    std::uint64_t seed_;
    std::map<std::string, std::unique_ptr<Host>> hosts_;
    std::map<std::string, PigeonHost*> pigeons_;
    std::size_t clients_ = 0;
};

}  // namespace

RunResult run_scenario(const Scenario& scenario, const RunOptions& options) {
    Simulator sim(scenario, options);
    return sim.run();
}

}  // namespace pigeon::sim
