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

}  // namespace

DmarcEvaluation::DmarcEvaluation(DmarcRequest request, OrganizationalDomain org)
    : request_(std::move(request)), org_(std::move(org)) {}

DmarcEvaluation::Step DmarcEvaluation::run(const dns::AnswerCache& cache) const {
    DmarcResult r;
    auto& why = r.explanation;
    const DmarcRequest& q = request_;

    // 6.6.1: exactly one author domain.
    if (q.from.status != FromStatus::ok) {
        r.verdict = Verdict::permerror;
        r.problem = q.from.problem.empty() ? from_status_name(q.from.status) : q.from.problem;
        r.disposition = Disposition::reject;
        r.reason = DispositionReason::malformed_from;
        why.push_back("From: " + r.problem + " -> permerror (RFC 7489 6.6.1), reject-worthy");
        return r;
    }
    r.from_domain = normalize_domain(q.from.domain);
    r.org_domain = org_(r.from_domain);
    why.push_back("From domain " + r.from_domain + ", organizational domain " + r.org_domain);

    // 6.6.3: the From domain's record, then the organizational domain's.
    std::optional<std::string> record_text;
    bool at_org = false;
    for (int attempt = 0; attempt < 2; ++attempt) {
        const std::string domain = attempt == 0 ? r.from_domain : r.org_domain;
        if (attempt == 1 && domain == r.from_domain) break;
        const auto question = dns::make_question("_dmarc." + domain, dns::RrType::txt);
        const dns::Answer* answer = cache.find(question);
        if (!answer) return question;
        const Discovery d = discover(*answer);
        if (d.found == Found::error) {
            r.verdict = Verdict::temperror;
            r.problem = "_dmarc." + domain + " TXT: " + d.problem;
            why.push_back(r.problem + " -> temperror");
            return r;
        }
        if (d.records.size() > 1) {
            r.verdict = Verdict::none;
            r.problem = "_dmarc." + domain + " has " + std::to_string(d.records.size()) +
                        " DMARC records (RFC 7489 6.6.3 step 5: no policy)";
            why.push_back(r.problem);
            return r;
        }
        if (d.records.size() == 1) {
            record_text = d.records.front();
            r.policy_domain = domain;
            at_org = attempt == 1;
            why.push_back("record at _dmarc." + domain + ": " + *record_text);
            break;
        }
        why.push_back("no DMARC record at _dmarc." + domain);
    }
    if (!record_text) {
        r.verdict = Verdict::none;
        r.problem = "no DMARC record";
        return r;
    }
    auto parsed = parse_record(*record_text);
    if (!parsed.ok()) {
        // 6.6.3 step 6.2: no DMARC processing.
        r.verdict = Verdict::none;
        r.problem = "unusable record at _dmarc." + r.policy_domain + ": " + parsed.error().message;
        why.push_back(r.problem);
        return r;
    }
    r.record = parsed.value();
    const Record& rec = *r.record;
    for (const auto& w : rec.warnings) why.push_back("record: " + w);

    // 3.1: alignment of each authenticated identifier.
    r.spf_domain = normalize_domain(q.spf.domain);
    if (q.spf.helo) {
        why.push_back("SPF checked the HELO identity " + r.spf_domain + ": not used for alignment");
    } else if (q.spf.verdict != spf::Verdict::pass) {
        why.push_back(std::string("SPF ") + spf::verdict_name(q.spf.verdict) + " for " + r.spf_domain +
                      ": not used for alignment");
    } else {
        r.spf_aligned = aligned(r.from_domain, r.spf_domain, rec.aspf, org_);
        why.push_back("SPF pass for " + r.spf_domain + ": " + (r.spf_aligned ? "aligned" : "not aligned") +
                      " (aspf " + align_mode_name(rec.aspf) + ")");
    }
    for (const auto& sig : q.dkim) {
        const std::string d = normalize_domain(sig.domain);
        if (sig.result != DkimResult::pass) {
            why.push_back("DKIM d=" + d + " s=" + sig.selector + " " + dkim_result_name(sig.result) +
                          ": not used for alignment");
            continue;
        }
        const bool ok = aligned(r.from_domain, d, rec.adkim, org_);
        why.push_back("DKIM pass d=" + d + " s=" + sig.selector + ": " + (ok ? "aligned" : "not aligned") +
                      " (adkim " + align_mode_name(rec.adkim) + ")");
        if (ok && !r.dkim_aligned) {
            r.dkim_aligned = true;
            r.dkim_domain = d;
        }
    }
    if (q.dkim.empty()) why.push_back("no DKIM signatures");

    // The policy that applies: p for the policy domain itself, sp for subdomains found through
    // the organizational domain, np for those that do not exist (RFC 9091).
    r.policy = rec.p;
    r.policy_source = PolicySource::p;
    if (at_org && rec.sp) {
        r.policy = *rec.sp;
        r.policy_source = PolicySource::sp;
    }

    if (r.spf_aligned || r.dkim_aligned) {
        r.verdict = Verdict::pass;
        r.reason = DispositionReason::pass;
        r.disposition = Disposition::none;
        why.push_back("dmarc=pass");
        return r;
    }
    r.verdict = Verdict::fail;

    if (at_org && rec.np) {
        // RFC 9091 2.1: non-existent = NXDOMAIN or NODATA for A, AAAA and MX.
        bool exists = false, unknown = false;
        for (auto type : {dns::RrType::a, dns::RrType::aaaa, dns::RrType::mx}) {
            const auto question = dns::make_question(r.from_domain, type);
            const dns::Answer* answer = cache.find(question);
            if (!answer) return question;
            if (!answer->ok()) unknown = true;
            if (has_address_records(*answer)) {
                exists = true;
                break;
            }
        }
        if (!exists && !unknown) {
            r.policy = *rec.np;
            r.policy_source = PolicySource::np;
            why.push_back(r.from_domain + " does not exist (no A, AAAA, MX): np applies");
        } else if (unknown && !exists) {
            why.push_back("could not tell whether " + r.from_domain + " exists (DNS error): np not applied");
        }
    }

    // 6.6.4 and pct (6.3): outside the sample, the next less strict policy.
    r.sampled = q.pct_sample * 100.0 < static_cast<double>(rec.pct);
    Policy applied = r.policy;
    if (r.sampled) {
        r.reason = DispositionReason::policy;
    } else {
        applied = one_step_lower(r.policy);
        r.reason = DispositionReason::sampled_out;
    }
    r.disposition = as_disposition(applied);
    why.push_back(std::string("dmarc=fail, ") + policy_source_name(r.policy_source) + "=" + policy_name(r.policy) +
                  ", pct=" + std::to_string(rec.pct) + (r.sampled ? " (sampled in)" : " (sampled out)") +
                  " -> disposition " + disposition_name(r.disposition));
    return r;
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
