// pigeon/dns/unbound_resolver.hpp: the production Resolver, over libunbound's asynchronous API
// with DNSSEC validation.
//
// Contract:
//   - resolve() may be called from any thread and never blocks on the network. `done` is called
//     exactly once: normally from the resolver's own thread (which waits on ub_fd with poll(2)
//     and calls ub_process), or from the calling thread when libunbound refuses the query at
//     once (SERVFAIL), or from the destructor's thread (timeout). `done` must not throw (an
//     exception is caught and dropped: it would otherwise unwind through libunbound).
//   - Every query has a deadline of options.timeout from the call. If libunbound has not
//     answered by then, `done` gets Rcode::timeout (security indeterminate) and the query is
//     cancelled with ub_cancel, so a late answer is dropped. No caller ever waits longer than
//     the timeout plus the poll granularity (milliseconds). On a machine without network access
//     full recursion would take ~22 s to SERVFAIL; callers see Rcode::timeout after the timeout.
//   - Security: libunbound's `secure` -> secure; `bogus` -> bogus, answered as SERVFAIL with no
//     records and libunbound's why_bogus text (libunbound itself passes bogus data on with the
//     wire rcode; a validating resolver must not, RFC 4035 5.5); a result that is neither ->
//     insecure (also when no trust anchor covers the name, or none is configured); timeouts
//     and errors -> indeterminate.
//   - Records: the final RRset's rdata parsed from the wire by decode_rdata (dns/rdata.hpp: A,
//     AAAA, MX, TXT, SPF, PTR, CNAME, NS, TLSA); owner = canonical_name (libunbound's canonname:
//     where a CNAME chain ended); TTL = the result's TTL. An rdata that does not parse is left out (SOA is never stored).
//   - Destruction answers every outstanding query with Rcode::timeout (on the destroying
//     thread), then stops the resolver thread and frees the libunbound context. Do not call
//     resolve() concurrently with destruction.
//   - `localhost` (and the other RFC 6761 / unbound default local zones) answers locally at once.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "dns/dns.hpp"
#include "dns/rdata.hpp"  // decode_rdata: how answers become Records

namespace pigeon::dns {

inline constexpr std::chrono::milliseconds default_query_timeout{5000};
inline constexpr const char* default_trust_anchor_file = "/usr/share/dns/root.key";  // dns-root-data

struct StubZone {
    std::string zone;                    // e.g. "test.example"
    std::vector<std::string> addresses;  // "ip" or "ip@port"; asked directly, no recursion
};

struct UnboundOptions {
    // Root (or other) trust anchors in zone-file format (DS or DNSKEY lines), read by
    // ub_ctx_add_ta_file; "" = no file.
    std::string trust_anchor_file = default_trust_anchor_file;
    std::vector<std::string> trust_anchors;  // extra DS/DNSKEY RRs as text (ub_ctx_add_ta)
    std::vector<std::string> forwarders;     // "ip" or "ip@port"; empty = full recursion
    std::vector<StubZone> stub_zones;
    std::chrono::milliseconds timeout = default_query_timeout;  // per query, from resolve()
    // libunbound refuses to query 127.0.0.0/8 and ::1 by default; unset = allow it exactly when
    // a forwarder or stub address is a loopback address.
    std::optional<bool> do_not_query_localhost;
};

class UnboundResolver : public Resolver {
public:
    // Errors name the option that libunbound rejected (address syntax, unreadable anchor file).
    static core::Result<std::unique_ptr<UnboundResolver>> create(const UnboundOptions& options);
    ~UnboundResolver() override;
    UnboundResolver(const UnboundResolver&) = delete;
    UnboundResolver& operator=(const UnboundResolver&) = delete;

    void resolve(const Question& question, std::function<void(Answer)> done) override;
    std::size_t outstanding() const;  // queries not answered yet

    struct Impl;  // opaque; libunbound's types stay out of this header

private:
    explicit UnboundResolver(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace pigeon::dns
