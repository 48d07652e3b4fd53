// pigeon/auth/spf/spf.hpp: check_host() of RFC 7208 as a pure, restartable evaluation.
//
// Contract:
//   - SpfEvaluation::run(cache) is a pure function of the request and the cache: it replays
//     check_host() from the start, using only cached answers, and returns either the first
//     Question the cache lacks or the final SpfResult. A driver resolves the question, puts the
//     Answer in the cache and calls run() again. Same cache -> same step (no clock, no random,
//     no I/O: %{t} and %{r} are inputs). Replaying is cheap: an evaluation makes at most a few
//     hundred queries (see the limits below) and usually a handful.
//   - Only TXT records are queried for policies (type SPF 99 is not, RFC 7208 3.1 and 14.1).
//   - Limits (RFC 7208 4.6.4), counted over the whole evaluation including include/redirect:
//     10 DNS-querying terms (include a mx ptr exists redirect: the 11th is a permerror before it
//     is evaluated), 2 void lookups (the 3rd NXDOMAIN/NODATA answer to a term's query is a
//     permerror), more than 10 MX records is a permerror, only the first 10 PTR names are used.
//     exp= and %{p} do not count against the term or void limits.
//   - Results: none, neutral, pass, fail, softfail, temperror, permerror. A fail carries the
//     explanation (exp=, else the default); temperror/permerror carry `problem`.
//   - Nothing throws: a missing answer or a temperror/permerror comes back as a value, and
//     check_host_async() calls `done` exactly once.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "auth/spf/ip.hpp"
#include "dns/dns.hpp"

namespace pigeon::spf {

enum class Verdict { none, neutral, pass, fail, softfail, temperror, permerror };
const char* verdict_name(Verdict verdict);  // "none", "pass", ... (RFC 7208 2.6 spelling)

struct SpfLimits {
    unsigned dns_terms = 10;     // RFC 7208 4.6.4: MUST limit to 10
    unsigned void_lookups = 2;   // RFC 7208 4.6.4: SHOULD limit to 2
    unsigned mx_records = 10;    // more MX records than this: permerror
    unsigned ptr_names = 10;     // PTR names beyond this are ignored
};

struct SpfRequest {
    IpAddress ip;                // the SMTP client; an IPv4-mapped IPv6 address counts as IPv4
    std::string domain;          // <domain>: the MAIL FROM domain, or the HELO name
    std::string sender;          // <sender>: "local@domain" ("postmaster@<helo>" for HELO)
    std::string helo;            // %{h}
    std::string receiver = "unknown";  // %{r}: this host's name, for explanations
    std::int64_t now = 0;        // %{t}: seconds since the epoch, for explanations
    // The explanation of a fail when the record has no usable exp=; a macro-string
    // (explanation rules), used verbatim if it does not expand.
    std::string default_explanation = "%{c} is not permitted to send mail for %{d}";
    SpfLimits limits;
};

// RFC 7208 2.4 and 4.3: the request for MAIL FROM `mail_from` ("" for the null reverse-path,
// which checks the HELO identity as postmaster@helo). A missing local-part becomes
// "postmaster"; the domain is what follows the last '@'.
SpfRequest make_request(const IpAddress& ip, std::string_view mail_from, std::string_view helo);

struct SpfResult {
    Verdict verdict = Verdict::none;
    std::string explanation;     // fail only
    std::string problem;         // why, for permerror / temperror / none
    std::string matched;         // the term that decided, "redirect=..." or "" (default)
    std::vector<std::string> trace;  // each record, term and query, in order, for --explain
    unsigned dns_terms = 0;      // DNS-querying terms evaluated (at most limits.dns_terms)
    unsigned void_lookups = 0;
    unsigned queries = 0;        // distinct answers consulted
};

class SpfEvaluation {
public:
    explicit SpfEvaluation(SpfRequest request);
    using Step = std::variant<dns::Question, SpfResult>;
    Step run(const dns::AnswerCache& cache) const;
    const SpfRequest& request() const noexcept { return request_; }

private:
    SpfRequest request_;
};

// The most questions a driver asks before giving up with temperror: far above what the
// limits allow (10 terms x (1 + 10 MX/PTR address lookups) + %{p} + exp), so it only guards
// against a resolver that never stores what was asked.
inline constexpr std::size_t max_driver_rounds = 400;

// Drives an evaluation over a Resolver: run(), resolve, store, repeat. Works with resolvers
// that answer synchronously (no recursion: a loop) or later from another call stack.
void check_host_async(dns::Resolver& resolver, SpfRequest request,
                      std::function<void(SpfResult)> done);

}  // namespace pigeon::spf
