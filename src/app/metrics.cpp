// pigeon/app/metrics.cpp: the families of `pigeon serve` and what each observer counts.
#include "app/metrics.hpp"

#include <variant>

namespace pigeon::app {
namespace {


const char* auth_result(smtp::AuthResult::Outcome outcome) {
    switch (outcome) {
        case smtp::AuthResult::Outcome::ok: return "success";
        case smtp::AuthResult::Outcome::bad_credentials: return "bad_credentials";
        case smtp::AuthResult::Outcome::temporary_failure: return "throttled";
    }
    return "other";
}

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

ServerMetrics::ServerMetrics(std::vector<std::string> listeners, const core::Clock& clock)
    : clock_(clock),
      listeners_(std::move(listeners)),
      connections_(registry_.counter("pigeon_connections_total",
                                     "SMTP connections admitted, by listener.", {"listener"})),
      connections_refused_(registry_.counter(
          "pigeon_connections_refused_total",
          "SMTP connections refused before any session (421 4.7.0), by listener and reason.",
          {"listener", "reason"})),
      tls_(registry_.counter("pigeon_tls_handshakes_total",
                             "Server-side TLS handshakes (STARTTLS and implicit TLS), by listener and result.",
                             {"listener", "result"})),
      accepted_(registry_.counter("pigeon_messages_accepted_total",
                                  "Messages accepted (250 after DATA: durable in the spool), by listener.",
                                  {"listener"})),
      refusals_(registry_.counter(
          "pigeon_smtp_refusals_total",
          "Policy refusals, by stage (mail, rcpt, data, queue), reply code and enhanced code.",
          {"stage", "code", "enhanced"})),
      auth_(registry_.counter("pigeon_auth_attempts_total", "AUTH attempts by result.", {"result"})),
      verdicts_(registry_.counter("pigeon_auth_verdicts_total",
                                  "SPF, DKIM (one per signature) and DMARC verdicts of inbound mail.",
                                  {"check", "result"})),
      deliveries_(registry_.counter(
          "pigeon_deliveries_total",
          "Recipient delivery outcomes: sent, deferred or bounced; local (Maildir) or remote.",
          {"where", "result"})),
      delivery_delay_(registry_.histogram(
          "pigeon_delivery_delay_seconds", "Time from arrival in the queue to delivery, per recipient.",
          net::metrics::delay_buckets(), {"where"})),
      commit_batch_(registry_
                        .histogram("pigeon_spool_commit_batch_messages",
                                   "Messages made durable together by one group commit.",
                                   net::metrics::batch_buckets())
                        .only()),
      fsync_(registry_
                 .histogram("pigeon_spool_sync_seconds",
                            "Duration of one spool durability barrier (fdatasync/fsync or syncfs).",
                            net::metrics::latency_buckets())
                 .only()),
      dns_queries_(registry_.counter("pigeon_dns_queries_total", "DNS queries answered, by rcode.",
                                     {"rcode"})),
      dns_latency_(registry_
                       .histogram("pigeon_dns_query_duration_seconds",
                                  "DNS query latency, from question to answer (timeouts included).",
                                  net::metrics::latency_buckets())
                       .only()) {
    for (const std::string& l : listeners_) {
        connections_.with({l});  // every listener appears from the first scrape, at 0
        accepted_by_listener_.push_back(&accepted_.with({l}));
        tls_ok_.push_back(&tls_.with({l, "ok"}));
        tls_failed_.push_back(&tls_.with({l, "failed"}));
    }
}

void ServerMetrics::accepted(std::size_t listener) {
    if (listener < listeners_.size()) connections_.with({listeners_[listener]}).inc();
}

void ServerMetrics::refused(std::size_t listener, Refusal why) {
    if (listener >= listeners_.size()) return;
    connections_refused_
        .with({listeners_[listener],
               why == Refusal::too_many_connections ? "too_many_connections" : "per_client_limit"})
        .inc();
}

void ServerMetrics::tls_handshake(std::size_t listener, bool ok) {
    if (listener < listeners_.size()) (ok ? tls_ok_ : tls_failed_)[listener]->inc();
}

void ServerMetrics::answered(std::size_t listener, std::string_view stage, const smtp::Event& answer) {
    if (std::holds_alternative<smtp::Enqueued>(answer)) {
        if (listener < accepted_by_listener_.size()) accepted_by_listener_[listener]->inc();
    } else if (std::holds_alternative<smtp::EnqueueFailed>(answer)) {
        refusals_.with({"queue", "452", "4.3.1"}).inc();  // what the session answers it with
    } else if (const auto* v = std::get_if<smtp::Verdict>(&answer); v && !v->accept) {
        const std::string code = v->reply ? std::to_string(v->reply->code) : "550";
        const std::string enhanced = v->reply && v->reply->enhanced ? v->reply->enhanced->to_string() : "";
        refusals_.with({stage, code, enhanced}).inc();
    } else if (const auto* a = std::get_if<smtp::AuthResult>(&answer)) {
        auth_.with({auth_result(a->outcome)}).inc();
    }
}

void ServerMetrics::verdict(std::string_view check, std::string_view result) {
    verdicts_.with({check, result}).inc();
}

void ServerMetrics::delivered(const char* where, const char* result, std::size_t n, std::int64_t arrival_unix) {
    if (n == 0) return;
    deliveries_.with({where, result}).inc(n);
    if (std::string_view(result) != "sent") return;
    const double delay = static_cast<double>(std::max<std::int64_t>(0, clock_.now_unix_seconds() - arrival_unix));
    auto& h = delivery_delay_.with({where});
    for (std::size_t i = 0; i < n; ++i) h.observe(delay);
}

void ServerMetrics::remote_outcome(queue::RecipientState state, std::int64_t arrival_unix, std::int64_t now_unix) {
    switch (state) {
        case queue::RecipientState::delivered:
            deliveries_.with({"remote", "sent"}).inc();
            delivery_delay_.with({"remote"}).observe(static_cast<double>(std::max<std::int64_t>(0, now_unix - arrival_unix)));
            break;
        case queue::RecipientState::pending: deliveries_.with({"remote", "deferred"}).inc(); break;
        case queue::RecipientState::failed: deliveries_.with({"remote", "bounced"}).inc(); break;
    }
}

void ServerMetrics::local_report(const delivery::DeliveryReport& report) {
    delivered("local", "sent", report.delivered, report.arrival_unix_seconds);
    delivered("local", "deferred", report.deferred, report.arrival_unix_seconds);
    delivered("local", "bounced", report.failed, report.arrival_unix_seconds);
}

void ServerMetrics::commit_batch(std::size_t messages) { commit_batch_.observe(static_cast<double>(messages)); }

void ServerMetrics::storage_sync(std::chrono::nanoseconds took) { fsync_.observe(seconds(took)); }

void ServerMetrics::dns_answer(std::chrono::nanoseconds took, const dns::Answer& answer) {
    dns_latency_.observe(seconds(took));
    dns_queries_.with({dns::rcode_name(answer.rcode)}).inc();
}

void ServerMetrics::collect_queue(const queue::Spool& spool) {
    registry_.collector(
        "pigeon_queue_messages",
        "Messages in the spool by state: active (a recipient not tried yet), deferred (tried, to be "
        "retried), held (pigeon queue hold).",
        {"state"}, [&spool] {
            double active = 0, deferred = 0, held = 0;
            for (const queue::MessageSummary& m : spool.list()) {
                if (m.held) {
                    ++held;
                    continue;
                }
                bool fresh = false, retried = false;
                for (const auto& r : m.recipients) {
                    if (r.status.state != queue::RecipientState::pending) continue;
                    (r.status.attempts == 0 ? fresh : retried) = true;
                }
                ++(retried && !fresh ? deferred : active);
            }
            return std::vector<net::metrics::Sample>{
                {{"active"}, active}, {{"deferred"}, deferred}, {{"held"}, held}};
        });
}

void ServerMetrics::collect_free_space(std::function<std::optional<std::uint64_t>()> free_octets) {
    registry_.collector("pigeon_spool_free_bytes",
                        "Space available to the server on the spool's file system.", {},
                        [free_octets = std::move(free_octets)] {
                            const auto free = free_octets();
                            if (!free) return std::vector<net::metrics::Sample>{};
                            return std::vector<net::metrics::Sample>{{{}, static_cast<double>(*free)}};
                        });
}

void MeasuredResolver::resolve(const dns::Question& question, std::function<void(dns::Answer)> done) {
    const auto start = std::chrono::steady_clock::now();
    inner_->resolve(question, [this, start, done = std::move(done)](dns::Answer answer) {
        metrics_.dns_answer(std::chrono::steady_clock::now() - start, answer);
        done(std::move(answer));
    });
}

}  // namespace pigeon::app
