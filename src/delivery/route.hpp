// pigeon/delivery/route.hpp: where outbound mail for a domain goes - MX routing (RFC 5321
// 5.1, null MX RFC 7505) and the DANE decision for each host (RFC 7672 2.2), as a pure,
// restartable evaluation over dns::AnswerCache.
//
// Contract:
//   - RouteEvaluation::run(cache) is a pure function of the request and the cache (no clock,
//     no random source, no I/O): it replays the whole routing from the start with the cached
//     answers and returns the first Question the cache lacks, or the Route. find_route_async()
//     drives it over a Resolver with dns::drive. Nothing throws out of run().
//   - Mode::mx: MX of the domain (CNAMEs followed by the resolver). Hops are sorted by
//     preference; equal preferences are shuffled with a splitmix64 stream seeded by
//     shuffle_seed (our own code: the same seed gives the same order on every compiler).
//     NODATA -> implicit MX: the domain itself at preference 0. NXDOMAIN -> 550 5.1.2.
//     SERVFAIL, REFUSED, timeout or DNSSEC-bogus -> 451 4.4.3. A null MX (every MX record has
//     the root "." as exchange, RFC 7505 3) -> 556 5.1.10; a null MX beside real ones is
//     ignored (RFC 7505 3 forbids publishing both; the real ones are still deliverable).
//     An exchange that names us (our_names) drops itself and every MX of equal or higher
//     preference value (RFC 5321 5.1); nothing left -> 554 5.4.6 ("loops back to myself").
//     An exchange that is an IP address text is skipped with a note (RFC 5321 5.1: it must
//     be a domain name). The same exchange twice keeps its most preferred record. At most
//     max_mx_hosts hosts are used, in order; the rest are noted and dropped.
//   - Mode::host: the host's address records only (an IP text is used as it is), no MX.
//   - An address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]") in either mode: one hop, no DNS.
//   - Addresses: AAAA then A (as enabled); IPv6 first. A host whose address lookups fail
//     (SERVFAIL, timeout, bogus) is kept as a hop without addresses and a note.
//   - DANE (RFC 7672 2.2), when request.dane: TLSA at _<port>._tcp.<host> is asked only when
//     the MX answer (or the secure proof that there is no MX, or nothing: Mode::host) and the
//     host's address answers are all DNSSEC-secure. For a host reached through a CNAME the
//     expanded name is asked first and the original name when the expanded one securely has
//     no TLSA (RFC 7672 2.2.2). Outcomes per hop:
//       secure TLSA with usable records (DANE-TA(2)/DANE-EE(3), known selector and matching
//         type, digest of the right length)       -> Tls::dane, tls_required, `tlsa` set;
//       secure TLSA, none usable                   -> Tls::opportunistic with tls_required
//         (RFC 7672 2.2: TLS mandatory, authentication not required);
//       NXDOMAIN/NODATA (secure or not), or an answer that is not secure -> Tls::opportunistic;
//       SERVFAIL, REFUSED, timeout or bogus        -> Tls::unreachable (not used).
//   - Kind::ok means at least one usable hop: with addresses and not Tls::unreachable. When
//     hosts were found but none is usable: 451 4.4.3 if any failure was transient (DNS
//     failure, unreachable TLSA), else (Mode::mx) 554 5.4.4 no address records, or (Mode::host)
//     451 4.4.4 (a configured relay host is a configuration error the operator may fix).
//     The hops are returned in every case, for the explanation.
//   - Limits: max_mx_hosts hosts, hence at most 1 + max_mx_hosts * 4 questions
//     (max_route_questions guards the driver).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "core/reply.hpp"
#include "dns/dns.hpp"

namespace pigeon::delivery {

inline constexpr std::size_t max_mx_hosts = 10;  // MX hosts used; more are dropped with a note
// 1 MX question, then per host AAAA, A and up to two TLSA questions.
inline constexpr std::size_t max_route_questions = 1 + max_mx_hosts * 4;

struct RouteRequest {
    enum class Mode { mx, host };  // mx: the recipient domain's MX (RFC 5321 5.1); host: a configured
                                   // relayhost/route target: its address records only, no MX
    Mode mode = Mode::mx;
    std::string domain;            // mx: the recipient domain (A-label, any case) or an address literal
                                   // "[192.0.2.1]" / "[IPv6:2001:db8::1]"; host: a host name or IP text
    std::uint16_t port = 25;
    std::vector<std::string> our_names;  // our hostname(s): an MX naming us ends the list at that preference
    std::uint64_t shuffle_seed = 0;      // equal preferences are shuffled with this (the caller draws it from
                                         // the injected RNG); same seed, same order
    bool dane = true;                    // look up TLSA where DNSSEC allows (RFC 7672 2.2)
    bool ipv6 = true, ipv4 = true;       // which address families to use; IPv6 addresses first when both
};

struct Hop {
    std::string host;                    // MX exchange, the domain itself (implicit MX), or the literal
    std::uint16_t preference = 0;
    std::vector<std::string> addresses;  // IP text to try in order
    std::uint16_t port = 25;
    enum class Tls { opportunistic, dane, unreachable } tls = Tls::opportunistic;
      // dane: usable DNSSEC-secure TLSA records: TLS mandatory and the certificate must match `tlsa`.
      // unreachable: RFC 7672 2.2 says this host must not be used (e.g. TLSA lookup SERVFAIL/bogus):
      // the engine skips it and treats the destination as transient if nothing else works.
    std::vector<dns::Tlsa> tlsa;         // usable records only (DANE-TA(2), DANE-EE(3), see RFC 7672 3.1.3)
    std::vector<std::string> dane_names; // reference identifiers for DANE-TA name checks (RFC 7672 3.2.2)
    std::string note;                    // a readable line about how this hop was found
    // TLS must succeed (STARTTLS offered and the handshake done) or the host is not used:
    // true with Tls::dane, and with Tls::opportunistic when a secure TLSA RRset had no usable
    // record (RFC 7672 2.2: encrypted, not authenticated).
    bool tls_required = false;
    bool dnssec_secure = false;          // the MX (if any) and address answers were all secure
    std::string tlsa_name;               // the TLSA owner name asked last ("" when none)
};

struct Route {
    enum class Kind { ok, transient, permanent };
    Kind kind = Kind::ok;
    std::vector<Hop> hops;               // in order to try (Kind::ok: at least one usable)
    core::Reply reply;                   // not ok: e.g. 556 5.1.10 (null MX, RFC 7505 3), 550 5.1.2 no such
                                         // domain (NXDOMAIN), 451 4.4.3 DNS failure, 554 5.4.4 / 5.4.6 loops to us
    std::vector<std::string> explanation;  // one line per step (for logs and `--explain`), citing RFC sections
};

const char* tls_name(Hop::Tls tls);      // "opportunistic", "dane", "unreachable"
const char* kind_name(Route::Kind kind); // "ok", "transient", "permanent"

// RFC 7672 3.1.3 / RFC 6698 2.1: usage DANE-TA(2) or DANE-EE(3), selector 0 or 1, matching
// type 0 (non-empty), 1 (32 octets) or 2 (64 octets).
bool usable_for_smtp(const dns::Tlsa& record);

class RouteEvaluation {
public:
    explicit RouteEvaluation(RouteRequest request);
    std::variant<dns::Question, Route> run(const dns::AnswerCache& cache) const;  // pure, restartable
    const RouteRequest& request() const noexcept { return request_; }

private:
    RouteRequest request_;
};

// Drives RouteEvaluation over `resolver` (dns::drive); `done` is called exactly once.
void find_route_async(dns::Resolver& resolver, RouteRequest request, std::function<void(Route)> done);

}  // namespace pigeon::delivery
