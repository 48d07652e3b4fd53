// pigeon/sim/scenario.hpp: a simulation scenario as data - topology, DNS, users and keys,
// actions and faults at times, expectations - and its TOML reader (format: sim/README.md).
//
// Contract: load_scenario / parse_scenario never throw; every error is "FILE:LINE: key: what"
// (toml++ source positions), in the style of config/reader.cpp. Times in the file are seconds
// (integer or decimal) since the start of the run; here they are milliseconds. Files the
// scenario names (TLS certificates) are relative to the scenario's directory; the loader
// checks that they can be read and the simulator reads them while building the hosts, so a
// run touches no file after its setup.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace pigeon::sim {

struct LinkSpec {
    std::string a, b;                 // host names; "*" matches any host
    std::int64_t latency_ms = 10;     // one way
    std::int64_t jitter_ms = 0;       // + uniform [0, jitter] per write
    double loss = 0;                  // per write: lost once, retransmitted after 3 x latency (+200 ms)
    std::int64_t bandwidth_bytes_per_second = 0;  // 0: unlimited
};

struct UserSpec {
    std::string address;
    std::string password;             // compared as given (modelled check, see README)
    std::vector<std::string> aliases;
};

struct DkimKeySpec {
    std::string domain, selector;
    std::string key;                  // base64 Ed25519 seed or PKCS#8 PEM
    bool publish = true;              // add selector._domainkey.domain TXT to the zone
};

struct ScriptRule {
    std::string prefix;               // command prefix, case-insensitive
    std::string reply;                // CRLF-terminated reply lines; "" drops the connection
    std::uint32_t times = 0;          // 0: always; n: only the first n matching commands
};

struct HostSpec {
    enum class Kind { pigeon, scripted, client };
    Kind kind = Kind::pigeon;
    std::string name;                 // the simulation's name for it (trace, faults)
    std::string hostname;             // its DNS name (EHLO, greeting); default: name
    std::vector<std::string> addresses;
    std::vector<std::string> local_domains;
    std::vector<UserSpec> users;
    std::vector<DkimKeySpec> dkim;
    bool spf = true, dmarc = true, dmarc_enforce = true;
    bool dane = true;
    std::string tls_cert_path, tls_key_path;  // PEM files; STARTTLS offered when set
    bool tlsa_auto = false;           // tlsa = "auto": publish _25._tcp.<hostname> TLSA 3 1 1 of the cert
    std::int64_t first_retry_seconds = 300;
    std::int64_t max_retry_interval_seconds = 7200;
    std::int64_t give_up_after_seconds = 5 * 24 * 3600;
    std::int64_t delay_warning_after_seconds = 0;
    // kind = scripted: an smtp-sink style peer.
    std::string greeting = "220 {host} ESMTP\r\n";
    std::string ehlo;                 // empty: "250-{host}\r\n250-PIPELINING\r\n250 8BITMIME"
    std::vector<ScriptRule> rules;
    std::string end_of_data = "250 2.0.0 queued\r\n";
};

struct ActionSpec {
    std::int64_t at_ms = 0;
    std::string kind;                 // "submit", "flush"
    std::string client;               // the host the client runs on (a client or pigeon host)
    std::string server;               // the pigeon host to submit to (port 587)
    std::string user, password;
    std::string from;                 // MAIL FROM; default: user
    std::vector<std::string> to;
    std::string header_from;          // From: field; default: from
    std::string subject = "Hello";
    std::string body = "Hello from the simulator.";
    std::string extra_headers;        // CRLF-terminated lines added to the header
    std::string host;                 // flush: which host
    std::uint16_t port = 587;
    bool inbound = false;             // submit straight to port 25 (no AUTH): a foreign sender
};

struct FaultSpec {
    std::int64_t at_ms = 0;
    std::string kind;   // crash, restart, partition, heal, reset, refuse, accept, dns_fail,
                        // dns_restore, dns_secure, dns_bogus, link
    std::string host;   // crash, restart, refuse, accept
    std::string a, b;   // partition, heal, reset, link
    std::string name;   // dns_*: the name or zone
    std::string type;   // dns_fail, dns_restore: optional RR type
    std::string rcode = "servfail";  // dns_fail: servfail | timeout | refused | nxdomain
    std::optional<LinkSpec> link;    // link: new parameters
};

struct ExpectSpec {
    enum class Kind { mailbox, no_mail, trace, no_trace, queue };
    Kind kind = Kind::mailbox;
    std::string host;
    std::string mailbox;              // user address
    std::string folder;               // "" = INBOX, "Junk", ...
    std::int64_t by_ms = -1;          // mailbox: delivered no later than this; -1: end of run
    std::vector<std::string> contains;  // mailbox: every string in one message; trace: in one line
    std::optional<std::size_t> count;   // mailbox: exactly this many matching messages; queue: size
    std::size_t line = 0;             // where it was written, for reports
};

struct Scenario {
    std::string name;                 // the file's stem
    std::string path;
    std::string description;
    std::uint64_t seed = 1;
    std::int64_t start_unix = 1795000000;
    std::int64_t duration_ms = 3'600'000;
    std::string zone;                 // RFC 1035 zone text with `; pigeon:` directives
    std::vector<std::string> public_suffixes = {"com", "org", "net", "example", "test"};
    LinkSpec default_link;
    std::vector<LinkSpec> links;
    std::vector<HostSpec> hosts;
    std::vector<ActionSpec> actions;
    std::vector<FaultSpec> faults;
    std::vector<ExpectSpec> expects;
};

core::Result<Scenario> parse_scenario(std::string_view text, const std::string& path);
core::Result<Scenario> load_scenario(const std::string& path);

}  // namespace pigeon::sim
