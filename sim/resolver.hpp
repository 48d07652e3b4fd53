// pigeon/sim/resolver.hpp: the DNS every simulated host asks: a zone, with each question traced.
// Part of the simulator's run (sim/simulator.cpp includes it); not for other users.
#pragma once
#include "dns/zone_resolver.hpp"
#include "sim/trace.hpp"

namespace pigeon::sim::detail {

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

}  // namespace pigeon::sim::detail
