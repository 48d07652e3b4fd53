// pigeon/delivery/outbound_job.hpp: OutboundEngine's record of one delivery attempt for the
// recipients of one message at one destination, shared by outbound.cpp (routing, connections,
// the client session) and outbound_finish.cpp (making the results durable). Not for other users.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/mail_event.hpp"
#include "delivery/outbound.hpp"

namespace pigeon::delivery {

struct OutboundEngine::Job {
    std::string id;
    std::string key;     // destination: "mx:<domain>" or "hop:<host>:<port>"
    std::string domain;  // the recipients' domain (the first one's, for a fixed hop)
    std::optional<NextHop> fixed;
    std::string invalid_domain;  // why domain cannot be asked about in DNS (IDNA2008); "" if it can
    std::shared_ptr<const queue::MessageRecord> record;
    std::vector<std::size_t> indexes;  // into record->entry.envelope.recipients
    Route route;
    std::size_t hop = 0, address = 0;  // the next address to try
    bool plaintext_fallback = false;   // retry the last address without STARTTLS
    std::vector<std::optional<smtp::RecipientResult>> results;  // per indexes[k]
    std::string remote_mta;
    std::string last_problem;
    // For the operator's delivery lines (core::RecipientDelivery), from the injected clock.
    std::string relay = "none";      // "mx.example[192.0.2.7]:25" once a transaction ran
    std::int64_t started_unix = 0;   // the job was made
    std::int64_t connected_unix = 0; // its transaction's connection was up (0: none)
};

namespace outbound_detail {

// "550 5.1.1 no such user" on one line, for logs, diagnostics and DSNs.
using core::one_line;
}  // namespace outbound_detail

}  // namespace pigeon::delivery
