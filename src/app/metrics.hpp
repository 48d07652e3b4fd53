// pigeon/app/metrics.hpp: the server's metrics (docs/operations.md, "Metrics, health and
// alerts"): one net::metrics::Registry, every family registered at construction, and the
// observers the parts of `pigeon serve` are given. Nothing below app/ and net/ sees the
// registry: the deterministic layers report through the callbacks they already offer
// (Services' answers, the pipeline's count, the outbound engine's on_outcome, local delivery's
// observe, the group committer's on_batch, the storage's sync observer), and DNS latency is
// measured around the Resolver interface (MeasuredResolver).
//
// Contract: every update is a relaxed atomic increment or histogram observation, callable from
// any thread; series with variable labels (reply codes, verdict names) are bounded by the
// registry (net/metrics.hpp). Scrape-time values (the queue by state, the spool's free space)
// come from the collect functions set with collect_queue / collect_free_space, which must be
// thread-safe.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "delivery/local_delivery.hpp"
#include "dns/dns.hpp"
#include "net/metrics.hpp"
#include "net/server.hpp"
#include "queue/record.hpp"
#include "queue/spool.hpp"

namespace pigeon::app {

class ServerMetrics final : public net::ServerEvents {
public:
    // listeners: the label of each listener, in ServerOptions order ("127.0.0.1:25 inbound").
    ServerMetrics(std::vector<std::string> listeners, const core::Clock& clock);

    // net::ServerEvents
    void accepted(std::size_t listener) override;
    void refused(std::size_t listener, Refusal why) override;
    void tls_handshake(std::size_t listener, bool ok) override;

    // The server's answer to a session's question (AppServices::Options::on_answer).
    void answered(std::size_t listener, std::string_view stage, const smtp::Event& answer);
    void verdict(std::string_view check, std::string_view result);  // PipelineOptions::count
    void remote_outcome(queue::RecipientState state, std::int64_t arrival_unix, std::int64_t now_unix);
    void local_report(const delivery::DeliveryReport& report);
    void commit_batch(std::size_t messages);
    void storage_sync(std::chrono::nanoseconds took);
    void dns_answer(std::chrono::nanoseconds took, const dns::Answer& answer);

    // The queue by state, read from the spool at scrape time.
    void collect_queue(const queue::Spool& spool);
    void collect_free_space(std::function<std::optional<std::uint64_t>()> free_octets);

    std::string expose() const { return registry_.expose(); }

private:
    using Counter = net::metrics::Counter;
    using Histogram = net::metrics::Histogram;
    void delivered(const char* where, const char* result, std::size_t n, std::int64_t arrival_unix);

    const core::Clock& clock_;
    net::metrics::Registry registry_;
    std::vector<std::string> listeners_;
    net::metrics::Family<Counter>& connections_;
    net::metrics::Family<Counter>& connections_refused_;
    net::metrics::Family<Counter>& tls_;
    net::metrics::Family<Counter>& accepted_;
    net::metrics::Family<Counter>& refusals_;
    net::metrics::Family<Counter>& auth_;
    net::metrics::Family<Counter>& verdicts_;
    net::metrics::Family<Counter>& deliveries_;
    net::metrics::Family<Histogram>& delivery_delay_;
    Histogram& commit_batch_;
    Histogram& fsync_;
    net::metrics::Family<Counter>& dns_queries_;
    Histogram& dns_latency_;
    // Hot paths keep their series: one per listener, made at construction.
    std::vector<Counter*> accepted_by_listener_, tls_ok_, tls_failed_;
};

// A Resolver that measures each query from question to answer (MeasuredResolver wraps the
// real one: libunbound or the zone file). The answer is passed on unchanged, on the thread
// the inner resolver answers on.
class MeasuredResolver final : public dns::Resolver {
public:
    MeasuredResolver(std::unique_ptr<dns::Resolver> inner, ServerMetrics& metrics)
        : inner_(std::move(inner)), metrics_(metrics) {}
    void resolve(const dns::Question& question, std::function<void(dns::Answer)> done) override;

private:
    std::unique_ptr<dns::Resolver> inner_;
    ServerMetrics& metrics_;
};

}  // namespace pigeon::app
