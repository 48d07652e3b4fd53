// pigeon/sim/simulator.cpp: the scenario runner: builds the hosts of a scenario, runs its actions
// and faults on the loop, and checks its expectations. The parts it runs are in loop.hpp, trace.hpp,
// network.hpp, resolver.hpp, host.hpp, scripted_host.hpp, pigeon_host.hpp and clients.hpp.
#include "sim/simulator.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "core/ascii.hpp"
#include "sim/clients.hpp"
#include "sim/pigeon_host.hpp"
#include "sim/scripted_host.hpp"

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

namespace detail {

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
                        auto it = h->mailboxes.find(core::ascii_lower(e.mailbox));
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

}  // namespace detail


RunResult run_scenario(const Scenario& scenario, const RunOptions& options) {
    detail::Simulator sim(scenario, options);
    return sim.run();
}

}  // namespace pigeon::sim
