// pigeon/auth/dmarc/dmarc.hpp: DMARC (RFC 7489, with np= of RFC 9091) as a pure, restartable
// evaluation, in the style of auth/spf.
//
// Contract:
//   - The inputs are values: the RFC5322.From domain (author_domain() finds it and says when
//     there is not exactly one), the SPF result with the domain SPF checked, the DKIM results
//     (our own small struct, one per signature), a uniform sample for pct=, and an injected
//     OrganizationalDomain. No clock, no random, no I/O.
//   - DmarcEvaluation::run(cache) replays the evaluation from the start using only cached
//     answers and returns the first Question the cache lacks or the DmarcResult. Questions:
//     TXT _dmarc.<from domain>, then TXT _dmarc.<organizational domain> if the first has no
//     DMARC record (RFC 7489 6.6.3 step 4), then A, AAAA and MX of the From domain, only when
//     the policy came from the organizational domain, the message fails, and the record has
//     np= (RFC 9091 4: np applies to non-existent subdomains).
//   - Verdicts: pass (some aligned, passing identifier), fail, none (no policy record; several
//     records; a record with p invalid and no usable rua), temperror (a _dmarc lookup failed:
//     SERVFAIL, REFUSED, timeout), permerror (not exactly one From domain, RFC 7489 6.6.1;
//     a _dmarc record starting v=DMARC1 that cannot be used is `none` per 6.6.3, not permerror).
//   - Disposition: what the receiver should do. For fail it is the applied policy (p, sp or
//     np) lowered one step (reject -> quarantine -> none) when the pct sample falls outside
//     pct (RFC 7489 6.6.4); for permerror because of the From field it is reject with
//     reason malformed_from (6.6.1 allows rejecting such messages; the caller decides).
//   - Nothing throws out of run().
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "auth/dmarc/org_domain.hpp"
#include "auth/dmarc/record.hpp"
#include "auth/spf/spf.hpp"
#include "core/header.hpp"
#include "dns/dns.hpp"

namespace pigeon::dmarc {

// ---- The From domain (RFC 7489 6.6.1) ----

enum class FromStatus { ok, no_from, multiple_from_fields, multiple_domains, no_domain, malformed_header };
const char* from_status_name(FromStatus status);

struct AuthorDomain {
    FromStatus status = FromStatus::no_from;
    std::string domain;                  // normalised; set when status == ok
    std::vector<std::string> addresses;  // every addr-spec found, in order
    std::string problem;                 // why, when status != ok
};

// From the header section (or a whole message). Several addresses in one From field with the
// same domain are fine (one domain to evaluate); several domains are not.
AuthorDomain author_domain(std::string_view header);
AuthorDomain author_domain(const std::vector<core::HeaderField>& fields);

// ---- Inputs ----

// A DKIM signature's outcome, as the DKIM verifier reports it (RFC 8601 2.7.1 results).
enum class DkimResult { none, pass, fail, policy, neutral, temperror, permerror };
const char* dkim_result_name(DkimResult result);

struct DkimInput {
    std::string domain;    // d=
    std::string selector;  // s=
    DkimResult result = DkimResult::none;
    std::string header_b;  // a prefix of b= to tell signatures apart in A-R; may be empty
};

struct SpfInput {
    spf::Verdict verdict = spf::Verdict::none;
    // The domain SPF checked: the MAIL FROM domain, or the HELO name when the reverse-path is
    // null (RFC 7489 does not align the HELO; the caller says which with `helo`).
    std::string domain;
    bool helo = false;
};

struct DmarcRequest {
    AuthorDomain from;
    SpfInput spf;
    std::vector<DkimInput> dkim;
    // Uniform in [0, 1): the policy is applied when pct_sample * 100 < pct. 0 applies any
    // pct > 0; the driver draws it (the evaluation stays pure and replayable).
    double pct_sample = 0.0;
};

// ---- Result ----

enum class Verdict { none, pass, fail, temperror, permerror };
const char* verdict_name(Verdict verdict);

enum class Disposition { none, quarantine, reject };
const char* disposition_name(Disposition disposition);

enum class DispositionReason {
    no_policy,       // verdict none / temperror / permerror of the record: nothing applied
    pass,            // DMARC passed
    policy,          // fail, policy applied as published
    sampled_out,     // fail, pct sample outside pct: one step lower
    malformed_from,  // not exactly one From domain (RFC 7489 6.6.1)
};
const char* disposition_reason_name(DispositionReason reason);

enum class PolicySource { p, sp, np };
const char* policy_source_name(PolicySource source);

struct DmarcResult {
    Verdict verdict = Verdict::none;
    std::string from_domain;            // header.from
    std::string org_domain;             // of the From domain
    std::string policy_domain;          // where the record was found ("" if none)
    std::optional<Record> record;
    Policy policy = Policy::none;       // the published policy that applies (p, sp or np)
    PolicySource policy_source = PolicySource::p;
    bool sampled = true;                // pct decision: the policy applies to this message
    Disposition disposition = Disposition::none;
    DispositionReason reason = DispositionReason::no_policy;
    bool spf_aligned = false;
    bool dkim_aligned = false;
    std::string spf_domain;             // the SPF identity considered
    std::string dkim_domain;            // d= of the first aligned passing signature, if any
    std::string problem;                // for none / temperror / permerror
    std::vector<std::string> explanation;  // discovery and each alignment decision, for --explain
};

// ---- Alignment (RFC 7489 3.1) ----

// Strict: the same domain. Relaxed: the same Organizational Domain. Case-insensitive, a
// trailing dot ignored; an empty domain never aligns.
bool aligned(std::string_view from_domain, std::string_view authenticated_domain, AlignMode mode,
             const OrganizationalDomain& org);

// ---- The evaluation ----

class DmarcEvaluation {
public:
    DmarcEvaluation(DmarcRequest request, OrganizationalDomain org);
    using Step = std::variant<dns::Question, DmarcResult>;
    Step run(const dns::AnswerCache& cache) const;
    const DmarcRequest& request() const noexcept { return request_; }

private:
    DmarcRequest request_;
    OrganizationalDomain org_;
};

// Questions one evaluation can ask at most: two TXT, then A, AAAA, MX.
inline constexpr std::size_t max_questions = 5;

// Drives an evaluation over a Resolver (synchronous or not) and calls `done` exactly once.
void evaluate_async(dns::Resolver& resolver, DmarcRequest request, OrganizationalDomain org,
                    std::function<void(DmarcResult)> done);

}  // namespace pigeon::dmarc
