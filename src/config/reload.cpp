#include "config/reload.hpp"

namespace pigeon::config {
namespace {

// Keeps `field` of `effective` at its running value, noting `key` when `next` differs.
template <class T>
void keep(ReloadPlan& plan, const char* key, T& field, const T& running) {
    if (!(field == running)) plan.needs_restart.emplace_back(key);
    field = running;
}

}  // namespace

ReloadPlan plan_reload(const Config& running, const Config& next) {
    ReloadPlan plan{next, {}};
    Config& e = plan.effective;
    keep(plan, "listeners", e.listeners, running.listeners);
    keep(plan, "user", e.user, running.user);
    keep(plan, "group", e.group, running.group);
    keep(plan, "allow_root", e.allow_root, running.allow_root);
    keep(plan, "state_dir", e.state_dir, running.state_dir);
    keep(plan, "threads", e.threads, running.threads);
    keep(plan, "hostname", e.hostname, running.hostname);
    keep(plan, "log_level", e.log_level, running.log_level);
    keep(plan, "log", e.log, running.log);
    keep(plan, "dns", e.dns, running.dns);
    keep(plan, "sendmail", e.sendmail, running.sendmail);
    keep(plan, "metrics", e.metrics, running.metrics);
    keep(plan, "outbound.enabled", e.outbound.enabled, running.outbound.enabled);
    // Local delivery reads these once, when its resolver and LMTP clients start.
    keep(plan, "delivery.maildir", e.delivery.maildir, running.delivery.maildir);
    keep(plan, "delivery.lmtp", e.delivery.lmtp, running.delivery.lmtp);
    keep(plan, "delivery.lmtp_domains", e.delivery.lmtp_domains, running.delivery.lmtp_domains);
    Limits& l = e.limits;
    const Limits& r = running.limits;
    keep(plan, "limits.message_memory_octets", l.message_memory_octets, r.message_memory_octets);
    keep(plan, "limits.spool_min_free_octets", l.spool_min_free_octets, r.spool_min_free_octets);
    keep(plan, "limits.message_spill_octets", l.message_spill_octets, r.message_spill_octets);
    keep(plan, "limits.verify_threads", l.verify_threads, r.verify_threads);
    keep(plan, "limits.verify_cpu_seconds", l.verify_cpu_seconds, r.verify_cpu_seconds);
    keep(plan, "limits.auth_failures_per_ip_per_minute", l.auth_failures_per_ip_per_minute,
         r.auth_failures_per_ip_per_minute);
    e.create_demo_user = running.create_demo_user;  // not a file key
    return plan;
}

}  // namespace pigeon::config
