// The DMARC evaluation: see dmarc.hpp for the contract.
#include "auth/dmarc/dmarc.hpp"

#include "dns/drive.hpp"

#include <algorithm>
#include <memory>

namespace pigeon::dmarc {

const char* from_status_name(FromStatus status) {
    switch (status) {
        case FromStatus::ok: return "ok";
        case FromStatus::no_from: return "no From field";
        case FromStatus::multiple_from_fields: return "several From fields";
        case FromStatus::multiple_domains: return "several From domains";
        case FromStatus::no_domain: return "a From address without a domain";
        case FromStatus::malformed_header: return "malformed header";
    }
    return "?";
}

const char* dkim_result_name(DkimResult result) {
    switch (result) {
        case DkimResult::none: return "none";
        case DkimResult::pass: return "pass";
        case DkimResult::fail: return "fail";
        case DkimResult::policy: return "policy";
        case DkimResult::neutral: return "neutral";
        case DkimResult::temperror: return "temperror";
        case DkimResult::permerror: return "permerror";
    }
    return "none";
}

const char* verdict_name(Verdict verdict) {
    switch (verdict) {
        case Verdict::none: return "none";
        case Verdict::pass: return "pass";
        case Verdict::fail: return "fail";
        case Verdict::temperror: return "temperror";
        case Verdict::permerror: return "permerror";
    }
    return "none";
}

const char* disposition_name(Disposition disposition) {
    switch (disposition) {
        case Disposition::none: return "none";
        case Disposition::quarantine: return "quarantine";
        case Disposition::reject: return "reject";
    }
    return "none";
}

const char* disposition_reason_name(DispositionReason reason) {
    switch (reason) {
        case DispositionReason::no_policy: return "no_policy";
        case DispositionReason::pass: return "pass";
        case DispositionReason::policy: return "policy";
        case DispositionReason::sampled_out: return "sampled_out";
        case DispositionReason::malformed_from: return "malformed_from";
    }
    return "?";
}

const char* policy_source_name(PolicySource source) {
    switch (source) {
        case PolicySource::p: return "p";
        case PolicySource::sp: return "sp";
        case PolicySource::np: return "np";
    }
    return "p";
}

// ---- From ----

namespace {

// A From domain a DMARC lookup can use: no empty label and no space or control character.
// What normalize_domain() leaves of "a@." (nothing) or "a@example.org.." (a trailing dot) is
// not one, nor "a@exa\x01mple.org" (its bytes would go to DNS and the log). Found by
// fuzz/dmarc_eval.cpp.
bool usable_domain(std::string_view d) {
    if (d.empty() || d.front() == '.' || d.back() == '.' || d.find("..") != std::string_view::npos)
        return false;
    return std::none_of(d.begin(), d.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f;
    });
}

}  // namespace

AuthorDomain author_domain(const std::vector<core::HeaderField>& fields) {
    AuthorDomain out;
    const core::HeaderField* from = nullptr;
    for (const auto& field : fields) {
        if (!core::field_is(field, "From")) continue;
        if (from) {
            out.status = FromStatus::multiple_from_fields;
            out.problem = "the message has more than one From field (RFC 5322 3.6 allows one)";
            return out;
        }
        from = &field;
    }
    if (!from) {
        out.status = FromStatus::no_from;
        out.problem = "the message has no From field";
        return out;
    }
    out.addresses = core::addresses_in(core::unfold(from->value));
    if (out.addresses.empty()) {
        out.status = FromStatus::no_from;
        out.problem = "the From field holds no address";
        return out;
    }
    std::string domain;
    for (const auto& address : out.addresses) {
        const auto at = address.rfind('@');
        if (at == std::string::npos || at + 1 == address.size()) {
            out.status = FromStatus::no_domain;
            out.problem = "From address \"" + address + "\" has no domain";
            return out;
        }
        const std::string d = normalize_domain(address.substr(at + 1));
        if (!usable_domain(d)) {
            out.status = FromStatus::no_domain;
            out.problem = "From address \"" + address + "\" has no usable domain";
            return out;
        }
        if (domain.empty()) {
            domain = d;
        } else if (d != domain) {
            out.status = FromStatus::multiple_domains;
            out.problem = "the From field names several domains (" + domain + ", " + d + ")";
            return out;
        }
    }
    out.status = FromStatus::ok;
    out.domain = domain;
    return out;
}

AuthorDomain author_domain(std::string_view header) {
    auto fields = core::parse_header(header);
    if (!fields.ok()) {
        AuthorDomain out;
        out.status = FromStatus::malformed_header;
        out.problem = fields.error().message;
        return out;
    }
    return author_domain(fields.value());
}

// ---- Alignment ----

bool aligned(std::string_view from_domain, std::string_view authenticated_domain, AlignMode mode,
             const OrganizationalDomain& org) {
    const std::string a = normalize_domain(from_domain);
    const std::string b = normalize_domain(authenticated_domain);
    if (a.empty() || b.empty()) return false;
    if (a == b) return true;
    if (mode == AlignMode::strict) return false;
    return org(a) == org(b);
}

// ---- Evaluation ----

namespace {

enum class Found { records, nothing, error };

struct Discovery {
    Found found = Found::nothing;
    std::vector<std::string> records;  // texts starting v=DMARC1
    std::string problem;
};

Discovery discover(const dns::Answer& answer) {
    Discovery d;
    if (!answer.ok()) {
        d.found = Found::error;
        d.problem = std::string("DNS ") + dns::rcode_name(answer.rcode);
        return d;
    }
    for (const auto& record : answer.records) {
        const auto* txt = std::get_if<dns::Txt>(&record.data);
        if (!txt) continue;
        // A TXT record's character-strings are one text (RFC 7489 6.6.3 via RFC 7208 3.3).
        std::string text;
        for (const auto& s : txt->strings) text += s;
        if (is_dmarc_record(text)) d.records.push_back(std::move(text));
    }
    d.found = d.records.empty() ? Found::nothing : Found::records;
    return d;
}

Policy one_step_lower(Policy p) {
    return p == Policy::reject ? Policy::quarantine : Policy::none;
}

Disposition as_disposition(Policy p) {
    switch (p) {
        case Policy::none: return Disposition::none;
        case Policy::quarantine: return Disposition::quarantine;
        case Policy::reject: return Disposition::reject;
    }
    return Disposition::none;
}

bool has_address_records(const dns::Answer& a) { return a.rcode == dns::Rcode::noerror && !a.records.empty(); }

// One replay of the evaluation (RFC 7489 6.6) from the request and the cache: each step fills
// in the result, and either lets the next one go on or stops the replay, because the result is
// finished or because the cache lacks an answer (the question is kept for run() to return).
class Replay {
public:
    enum class Next { go_on, stop };

    Replay(const DmarcRequest& q, const OrganizationalDomain& org, const dns::AnswerCache& cache)
        : q_(q), org_(org), cache_(cache) {}

    DmarcEvaluation::Step run() {
        using StepFn = Next (Replay::*)();
        for (StepFn step : {&Replay::author_domain, &Replay::find_record, &Replay::read_record, &Replay::align,
                            &Replay::choose_policy, &Replay::verdict, &Replay::non_existent, &Replay::sample})
            if ((this->*step)() == Next::stop) break;
        if (question_) return std::move(*question_);
        return std::move(r_);
    }

private:
    static Next go_on() { return Next::go_on; }
    static Next finished() { return Next::stop; }
    Next wait_for(dns::Question question) {
        question_ = std::move(question);
        return Next::stop;
    }
    void note(std::string line) { r_.explanation.push_back(std::move(line)); }

    // 6.6.1: exactly one author domain.
    Next author_domain() {
        if (q_.from.status != FromStatus::ok) {
            r_.verdict = Verdict::permerror;
            r_.problem = q_.from.problem.empty() ? from_status_name(q_.from.status) : q_.from.problem;
            r_.disposition = Disposition::reject;
            r_.reason = DispositionReason::malformed_from;
            note("From: " + r_.problem + " -> permerror (RFC 7489 6.6.1), reject-worthy");
            return finished();
        }
        r_.from_domain = normalize_domain(q_.from.domain);
        r_.org_domain = org_(r_.from_domain);
        note("From domain " + r_.from_domain + ", organizational domain " + r_.org_domain);
        return go_on();
    }

    // 6.6.3: the From domain's record, then the organizational domain's.
    Next find_record() {
        for (int attempt = 0; attempt < 2; ++attempt) {
            const std::string domain = attempt == 0 ? r_.from_domain : r_.org_domain;
            if (attempt == 1 && domain == r_.from_domain) break;
            const auto question = dns::make_question("_dmarc." + domain, dns::RrType::txt);
            const dns::Answer* answer = cache_.find(question);
            if (!answer) return wait_for(question);
            const Discovery d = discover(*answer);
            if (d.found == Found::error) {
                r_.verdict = Verdict::temperror;
                r_.problem = "_dmarc." + domain + " TXT: " + d.problem;
                note(r_.problem + " -> temperror");
                return finished();
            }
            if (d.records.size() > 1) {
                r_.verdict = Verdict::none;
                r_.problem = "_dmarc." + domain + " has " + std::to_string(d.records.size()) +
                             " DMARC records (RFC 7489 6.6.3 step 5: no policy)";
                note(r_.problem);
                return finished();
            }
            if (d.records.size() == 1) {
                record_text_ = d.records.front();
                r_.policy_domain = domain;
                at_org_ = attempt == 1;
                note("record at _dmarc." + domain + ": " + record_text_);
                return go_on();
            }
            note("no DMARC record at _dmarc." + domain);
        }
        r_.verdict = Verdict::none;
        r_.problem = "no DMARC record";
        return finished();
    }

    Next read_record() {
        auto parsed = parse_record(record_text_);
        if (!parsed.ok()) {
            // 6.6.3 step 6.2: no DMARC processing.
            r_.verdict = Verdict::none;
            r_.problem = "unusable record at _dmarc." + r_.policy_domain + ": " + parsed.error().message;
            note(r_.problem);
            return finished();
        }
        r_.record = std::move(parsed).value();
        for (const auto& w : r_.record->warnings) note("record: " + w);
        return go_on();
    }

    // 3.1: alignment of each authenticated identifier.
    Next align() {
        align_spf();
        align_dkim();
        return go_on();
    }

    void align_spf() {
        const Record& rec = *r_.record;
        r_.spf_domain = normalize_domain(q_.spf.domain);
        if (q_.spf.helo) {
            note("SPF checked the HELO identity " + r_.spf_domain + ": not used for alignment");
        } else if (q_.spf.verdict != spf::Verdict::pass) {
            note(std::string("SPF ") + spf::verdict_name(q_.spf.verdict) + " for " + r_.spf_domain +
                 ": not used for alignment");
        } else {
            r_.spf_aligned = aligned(r_.from_domain, r_.spf_domain, rec.aspf, org_);
            note("SPF pass for " + r_.spf_domain + ": " + (r_.spf_aligned ? "aligned" : "not aligned") +
                 " (aspf " + align_mode_name(rec.aspf) + ")");
        }
    }

    void align_dkim() {
        const Record& rec = *r_.record;
        for (const auto& sig : q_.dkim) {
            const std::string d = normalize_domain(sig.domain);
            if (sig.result != DkimResult::pass) {
                note("DKIM d=" + d + " s=" + sig.selector + " " + dkim_result_name(sig.result) +
                     ": not used for alignment");
                continue;
            }
            const bool ok = aligned(r_.from_domain, d, rec.adkim, org_);
            note("DKIM pass d=" + d + " s=" + sig.selector + ": " + (ok ? "aligned" : "not aligned") +
                 " (adkim " + align_mode_name(rec.adkim) + ")");
            if (ok && !r_.dkim_aligned) {
                r_.dkim_aligned = true;
                r_.dkim_domain = d;
            }
        }
        if (q_.dkim.empty()) note("no DKIM signatures");
    }

    // The policy that applies: p for the policy domain itself, sp for subdomains found through
    // the organizational domain (np, for those that do not exist, comes after the verdict).
    Next choose_policy() {
        r_.policy = r_.record->p;
        r_.policy_source = PolicySource::p;
        if (at_org_ && r_.record->sp) {
            r_.policy = *r_.record->sp;
            r_.policy_source = PolicySource::sp;
        }
        return go_on();
    }

    Next verdict() {
        if (r_.spf_aligned || r_.dkim_aligned) {
            r_.verdict = Verdict::pass;
            r_.reason = DispositionReason::pass;
            r_.disposition = Disposition::none;
            note("dmarc=pass");
            return finished();
        }
        r_.verdict = Verdict::fail;
        return go_on();
    }

    // RFC 9091 2.1: np for a From domain that does not exist (NXDOMAIN or NODATA for A, AAAA
    // and MX), looked up only when it could apply.
    Next non_existent() {
        if (!at_org_ || !r_.record->np) return go_on();
        bool exists = false, unknown = false;
        for (auto type : {dns::RrType::a, dns::RrType::aaaa, dns::RrType::mx}) {
            const auto question = dns::make_question(r_.from_domain, type);
            const dns::Answer* answer = cache_.find(question);
            if (!answer) return wait_for(question);
            if (!answer->ok()) unknown = true;
            if (has_address_records(*answer)) {
                exists = true;
                break;
            }
        }
        if (!exists && !unknown) {
            r_.policy = *r_.record->np;
            r_.policy_source = PolicySource::np;
            note(r_.from_domain + " does not exist (no A, AAAA, MX): np applies");
        } else if (unknown && !exists) {
            note("could not tell whether " + r_.from_domain + " exists (DNS error): np not applied");
        }
        return go_on();
    }

    // 6.6.4 and pct (6.3): outside the sample, the next less strict policy.
    Next sample() {
        const Record& rec = *r_.record;
        r_.sampled = q_.pct_sample * 100.0 < static_cast<double>(rec.pct);
        Policy applied = r_.policy;
        if (r_.sampled) {
            r_.reason = DispositionReason::policy;
        } else {
            applied = one_step_lower(r_.policy);
            r_.reason = DispositionReason::sampled_out;
        }
        r_.disposition = as_disposition(applied);
        note(std::string("dmarc=fail, ") + policy_source_name(r_.policy_source) + "=" + policy_name(r_.policy) +
             ", pct=" + std::to_string(rec.pct) + (r_.sampled ? " (sampled in)" : " (sampled out)") +
             " -> disposition " + disposition_name(r_.disposition));
        return finished();
    }

    const DmarcRequest& q_;
    const OrganizationalDomain& org_;
    const dns::AnswerCache& cache_;
    DmarcResult r_;
    std::optional<dns::Question> question_;  // the answer this replay lacks, when it stopped for one
    std::string record_text_;  // the one DMARC record found
    bool at_org_ = false;      // found at the organizational domain, not the From domain
};

}  // namespace

DmarcEvaluation::DmarcEvaluation(DmarcRequest request, OrganizationalDomain org)
    : request_(std::move(request)), org_(std::move(org)) {}

DmarcEvaluation::Step DmarcEvaluation::run(const dns::AnswerCache& cache) const {
    return Replay(request_, org_, cache).run();
}

// ---- Driver ----

void evaluate_async(dns::Resolver& resolver, DmarcRequest request, OrganizationalDomain org,
                    std::function<void(DmarcResult)> done) {
    dns::drive<DmarcEvaluation, DmarcResult>(
        resolver, DmarcEvaluation(std::move(request), std::move(org)), max_questions,
        [](std::size_t rounds) {
            DmarcResult result;
            result.verdict = Verdict::temperror;
            result.problem = "gave up after " + std::to_string(rounds) + " DNS questions";
            return result;
        },
        std::move(done));
}

}  // namespace pigeon::dmarc
