// pigeon/config/reload.hpp: what a live reload (SIGHUP, `pigeon reload`) applies from a newly
// read configuration, and what only a restart can change.
//
// Contract:
//   plan_reload(running, next)  `effective` is `next` with every restart-only setting kept at
//       its running value; `needs_restart` names each restart-only setting that differs, as its
//       key ("listeners", "hostname", "limits.verify_threads", ...), in a fixed order. Pure.
//   Applied live: users, aliases and passwords; local_domains; [tls]; [[dkim.keys]]; [limits]
//       but those below; [spf]; [dmarc]; [outbound] but `enabled`; [delivery] discard;
//       every [directory] key (the reload opens the backend anew: a passwd-file is read
//       again, SQL connections and the cache start afresh; open sessions keep theirs);
//       [auth] (a changed dovecot endpoint or timeout gets a new client for new connections;
//       open sessions keep the one of their snapshot, which closes when the last goes).
//   Restart only: what is bound or opened once, or sized at start: listeners, user, group,
//       allow_root, state_dir, threads, hostname, log_level, [log], [dns], [sendmail], [metrics],
//       outbound.enabled, [delivery] maildir, lmtp and lmtp_domains (local delivery
//       reads them when it starts), and limits.message_memory_octets, spool_min_free_octets,
//       message_spill_octets, verify_threads, verify_cpu_seconds, auth_failures_per_ip_per_minute.
#pragma once
#include <string>
#include <vector>

#include "config/model.hpp"

namespace pigeon::config {

struct ReloadPlan {
    Config effective;
    std::vector<std::string> needs_restart;
};

ReloadPlan plan_reload(const Config& running, const Config& next);

}  // namespace pigeon::config
