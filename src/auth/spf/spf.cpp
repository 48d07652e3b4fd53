// check_host() (RFC 7208 sections 4 and 5) as a replayable evaluation; see spf.hpp.
//
// How the replay works: the evaluation is ordinary straight-line recursive code. Every DNS
// lookup goes through Evaluator::query(), which either finds the answer in the cache or
// returns a Suspend carrying the question. Every step returns its value or a Halt (Suspend,
// or a Stop for the temperror and permerror that end the whole evaluation wherever they
// happen: include propagates both, redirect returns them), and its caller passes a Halt up
// unchanged, so run() hands the question to the driver or turns the Stop into the result.
// The next run() starts again from the top and gets one step further. Because the code reads
// nothing but the request and the cache, every replay takes the same path. Nothing throws.
#include "auth/spf/spf.hpp"

#include "dns/drive.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>

#include "auth/spf/macro.hpp"
#include "auth/spf/record.hpp"

namespace pigeon::spf {
namespace {

constexpr std::size_t max_label_octets = 63;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// DNS names as dns::Question keeps them: lower case, no trailing dot.
std::string normalise_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    std::string out(name);
    for (char& c : out) c = lower(c);
    return out;
}

// A name a DNS query can be composed from: labels of 1..63 octets, 253 in all. Names that
// fail this are treated as non-existent without asking (RFC 7208 4.3/1 by analogy; the
// suite accepts that for invalid-domain-empty-label and invalid-domain-long).
bool is_queryable(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > max_domain_octets) return false;
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = name.find('.', start);
        const std::size_t len = (dot == std::string_view::npos ? name.size() : dot) - start;
        if (len == 0 || len > max_label_octets) return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

// RFC 7208 4.3: check_host() returns none for a malformed or single-label <domain>. An address
// literal ("[192.0.2.1]") is not a domain at all.
bool is_valid_domain(std::string_view name) {
    if (!is_queryable(name) || name.front() == '[') return false;
    if (name.back() == '.') name.remove_suffix(1);
    return name.find('.') != std::string_view::npos;
}

bool is_dns_error(const dns::Answer& answer) {
    // A DNSSEC-bogus answer cannot be trusted either way: treat it like SERVFAIL.
    return !answer.ok() || answer.security == dns::Security::bogus;
}

bool is_void(const dns::Answer& answer) {
    return answer.rcode == dns::Rcode::nxdomain ||
           (answer.rcode == dns::Rcode::noerror && answer.records.empty());
}

bool is_ascii(std::string_view text) {
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

Verdict from_qualifier(Qualifier q) {
    switch (q) {
    case Qualifier::pass: return Verdict::pass;
    case Qualifier::fail: return Verdict::fail;
    case Qualifier::softfail: return Verdict::softfail;
    case Qualifier::neutral: return Verdict::neutral;
    }
    return Verdict::neutral;
}

// name equals domain or is a subdomain of it (both normalised).
bool is_within(const std::string& name, const std::string& domain) {
    if (name == domain) return true;
    return name.size() > domain.size() + 1 && name.ends_with(domain) &&
           name[name.size() - domain.size() - 1] == '.';
}

struct Outcome {
    Verdict verdict = Verdict::none;
    std::string explanation;
    std::string matched;
    std::string problem;
};

// Why the evaluation ends before check_host() returns an Outcome.
struct Suspend {   // the cache lacks this answer: it is the driver's next question
    dns::Question question;
};
struct Stop {      // a temperror or permerror: it ends the whole evaluation wherever it happens
    Verdict verdict;
    std::string problem;
};
using Halt = std::variant<Suspend, Stop>;

// Each step gives its value or the Halt that ends the evaluation; callers pass a Halt up
// unchanged (`if (!x) return x.error();`), so the first one reaches run().
template <class T>
using Flow = core::Result<T, Halt>;
using Go = core::Status<Halt>;

Halt stop(Verdict verdict, std::string problem) { return Stop{verdict, std::move(problem)}; }

class Evaluator {
public:
    Evaluator(const SpfRequest& request, const dns::AnswerCache& cache, SpfResult& result)
        : request_(request), cache_(cache), result_(result), ip_(unmap(request.ip)) {
        const std::size_t at = request.sender.rfind('@');
        if (at == std::string::npos) {
            local_part_ = "postmaster";
            sender_domain_ = request.sender;
        } else {
            local_part_ = request.sender.substr(0, at);
            sender_domain_ = request.sender.substr(at + 1);
        }
    }

    Flow<Outcome> check_host(const std::string& domain, bool want_explanation) {
        note("check_host(" + domain + ")");
        if (!is_valid_domain(domain))
            return Outcome{Verdict::none, "", "", "\"" + domain + "\" is not a valid domain name"};
        auto answer = query(domain, dns::RrType::txt);
        if (!answer) return answer.error();
        if (answer.value()->rcode == dns::Rcode::nxdomain)
            return Outcome{Verdict::none, "", "", "no SPF record: " + domain + " does not exist"};
        if (is_dns_error(*answer.value()))
            return stop(Verdict::temperror, "DNS error looking up the SPF record of " + domain);
        std::vector<std::string> policies;
        for (const auto& rr : answer.value()->records) {
            const auto* txt = std::get_if<dns::Txt>(&rr.data);
            if (txt == nullptr) continue;
            std::string text;  // RFC 7208 3.3: the strings are joined without separators
            for (const auto& s : txt->strings) text += s;
            if (is_spf_record(text)) policies.push_back(std::move(text));
        }
        if (policies.empty()) return Outcome{Verdict::none, "", "", "no SPF record at " + domain};
        if (policies.size() > 1) return stop(Verdict::permerror, "more than one SPF record at " + domain);
        note("record: " + policies.front());
        auto parsed = parse_record(policies.front());
        if (!parsed) return stop(Verdict::permerror, domain + ": " + parsed.error().message);
        const Record& record = parsed.value();
        const MacroContext context = macro_context(domain);

        ++depth_;
        for (const auto& m : record.mechanisms) {
            auto match = matches(m, domain, context);
            if (!match) return match.error();
            note(m.text + (match.value() ? " -> match" : " -> no match"));
            if (!match.value()) continue;
            --depth_;
            Outcome out{from_qualifier(m.qualifier), "", m.text, ""};
            if (out.verdict == Verdict::fail && want_explanation) {
                auto explanation = explain(record, context);
                if (!explanation) return explanation.error();
                out.explanation = std::move(explanation).value();
            }
            return out;
        }
        if (record.redirect) return follow_redirect(*record.redirect, context, want_explanation);
        --depth_;
        note("no mechanism matched: neutral");
        return Outcome{Verdict::neutral, "", "", ""};
    }

private:
    // RFC 7208 6.1: redirect= is check_host() of the target, whose none is a permerror.
    Flow<Outcome> follow_redirect(const std::string& spec, const MacroContext& context,
                                  bool want_explanation) {
        if (auto counted = count_term("redirect=" + spec); !counted) return counted.error();
        auto target = expand_target(spec, context);
        if (!target) return target.error();
        note("redirect=" + target.value());
        auto out = check_host(target.value(), want_explanation);
        if (!out) return out;
        if (out.value().verdict == Verdict::none)
            return stop(Verdict::permerror,
                        "redirect=" + target.value() + " has no SPF record (" + out.value().problem + ")");
        --depth_;
        return out;
    }

    void note(const std::string& line) {
        result_.trace.push_back(std::string(2 * depth_, ' ') + line);
    }

    Flow<const dns::Answer*> query(std::string_view name, dns::RrType type) {
        dns::Question question{normalise_name(name), type};
        const dns::Answer* answer = cache_.find(question);
        if (answer == nullptr) return Halt{Suspend{std::move(question)}};
        ++result_.queries;
        note("query " + std::string(type_label(type)) + " " + question.name + " -> " +
             rcode_label(answer->rcode) + ", " + std::to_string(answer->records.size()) + " record(s)");
        return answer;
    }

    // Local spellings, so that this library needs nothing from dns.cpp but the types.
    static const char* type_label(dns::RrType type) {
        switch (type) {
        case dns::RrType::a: return "A";
        case dns::RrType::aaaa: return "AAAA";
        case dns::RrType::mx: return "MX";
        case dns::RrType::ptr: return "PTR";
        case dns::RrType::txt: return "TXT";
        default: return "?";
        }
    }
    static const char* rcode_label(dns::Rcode rcode) {
        switch (rcode) {
        case dns::Rcode::noerror: return "NOERROR";
        case dns::Rcode::nxdomain: return "NXDOMAIN";
        case dns::Rcode::servfail: return "SERVFAIL";
        case dns::Rcode::refused: return "REFUSED";
        case dns::Rcode::timeout: return "timeout";
        }
        return "?";
    }

    // RFC 7208 4.6.4: the 11th DNS-querying term is a permerror before it does anything.
    Go count_term(const std::string& term) {
        if (result_.dns_terms >= request_.limits.dns_terms)
            return stop(Verdict::permerror, "more than " + std::to_string(request_.limits.dns_terms) +
                                                " DNS-querying terms (at " + term + ")");
        ++result_.dns_terms;
        return {};
    }

    Go note_void(const dns::Answer& answer, const std::string& term) {
        if (!is_void(answer)) return {};
        if (++result_.void_lookups > request_.limits.void_lookups)
            return stop(Verdict::permerror, "more than " + std::to_string(request_.limits.void_lookups) +
                                                " void lookups (at " + term + ")");
        return {};
    }

    MacroContext macro_context(const std::string& domain) const {
        MacroContext c;
        c.sender = local_part_ + "@" + sender_domain_;
        c.local_part = local_part_;
        c.sender_domain = sender_domain_;
        c.domain = domain;
        c.ip = ip_;
        c.helo = request_.helo;
        c.receiver = request_.receiver;
        c.timestamp = request_.now;
        return c;
    }

    // expand_macros(), with %{p} looked up first when the text asks for it: the lookup may
    // need DNS answers, and the expander itself never waits.
    Flow<core::Result<std::string>> expand(std::string_view text, MacroMode mode, const MacroContext& context) {
        if (!asks_for_validated_name(text, mode)) return expand_macros(text, mode, context);
        auto name = validated_name(context.domain);
        if (!name) return name.error();
        MacroContext with_name = context;
        with_name.validated_name = [found = std::move(name).value()] { return found; };
        return expand_macros(text, mode, with_name);
    }

    Flow<std::string> expand_target(const std::string& spec, const MacroContext& context) {
        auto expanded = expand(spec, MacroMode::domain_spec, context);
        if (!expanded) return expanded.error();
        if (!expanded.value()) return stop(Verdict::permerror, expanded.value().error().message);
        return truncate_domain(expanded.value().value());
    }

    // The target of a, mx or ptr: the record's own domain unless the term names one.
    Flow<std::string> term_target(const Mechanism& m, const std::string& domain, const MacroContext& context) {
        if (m.domain_spec.empty()) return domain;
        return expand_target(m.domain_spec, context);
    }

    dns::RrType address_type() const { return is_ipv4(ip_) ? dns::RrType::a : dns::RrType::aaaa; }

    bool address_matches(const dns::Record& rr, unsigned cidr4, unsigned cidr6) const {
        if (const auto* v4 = std::get_if<dns::Ipv4>(&rr.data)) return in_network(ip_, *v4, cidr4);
        if (const auto* v6 = std::get_if<dns::Ipv6>(&rr.data)) return in_network(ip_, *v6, cidr6);
        return false;
    }

    Flow<bool> matches(const Mechanism& m, const std::string& domain, const MacroContext& context) {
        switch (m.kind) {
        case MechanismKind::all: return true;
        case MechanismKind::ip4:
        case MechanismKind::ip6:
            return in_network(ip_, m.network, m.kind == MechanismKind::ip4 ? m.cidr4 : m.cidr6);
        case MechanismKind::include: return match_include(m, context);
        case MechanismKind::a: return match_a(m, domain, context);
        case MechanismKind::mx: return match_mx(m, domain, context);
        case MechanismKind::ptr: return match_ptr(m, domain, context);
        case MechanismKind::exists: return match_exists(m, context);
        }
        return false;
    }

    // 5.2: a pass of the included policy matches; fail, softfail and neutral do not; none
    // is a permerror; temperror and permerror end the evaluation (they are Stops already).
    Flow<bool> match_include(const Mechanism& m, const MacroContext& context) {
        if (auto counted = count_term(m.text); !counted) return counted.error();
        auto target = expand_target(m.domain_spec, context);
        if (!target) return target.error();
        auto inner = check_host(target.value(), false);
        if (!inner) return inner.error();
        switch (inner.value().verdict) {
        case Verdict::pass: return true;
        case Verdict::none:
            return stop(Verdict::permerror,
                        m.text + ": " + target.value() + " has no SPF record (" + inner.value().problem + ")");
        default: return false;
        }
    }

    Flow<bool> match_a(const Mechanism& m, const std::string& domain, const MacroContext& context) {
        if (auto counted = count_term(m.text); !counted) return counted.error();
        auto target = term_target(m, domain, context);
        if (!target) return target.error();
        if (!is_queryable(target.value())) return false;
        auto answer = query(target.value(), address_type());
        if (!answer) return answer.error();
        if (is_dns_error(*answer.value()))
            return stop(Verdict::temperror, m.text + ": DNS error for " + target.value());
        if (auto counted = note_void(*answer.value(), m.text); !counted) return counted.error();
        return std::any_of(answer.value()->records.begin(), answer.value()->records.end(),
                           [&](const dns::Record& rr) { return address_matches(rr, m.cidr4, m.cidr6); });
    }

    Flow<bool> match_mx(const Mechanism& m, const std::string& domain, const MacroContext& context) {
        if (auto counted = count_term(m.text); !counted) return counted.error();
        auto target = term_target(m, domain, context);
        if (!target) return target.error();
        if (!is_queryable(target.value())) return false;
        auto answer = query(target.value(), dns::RrType::mx);
        if (!answer) return answer.error();
        if (is_dns_error(*answer.value()))
            return stop(Verdict::temperror, m.text + ": DNS error for MX " + target.value());
        if (auto counted = note_void(*answer.value(), m.text); !counted) return counted.error();
        std::vector<std::string> exchanges;
        for (const auto& rr : answer.value()->records)
            if (const auto* mx = std::get_if<dns::Mx>(&rr.data)) exchanges.push_back(mx->exchange);
        if (exchanges.size() > request_.limits.mx_records)
            return stop(Verdict::permerror, m.text + ": " + target.value() + " has more than " +
                                                std::to_string(request_.limits.mx_records) + " MX records");
        for (const auto& exchange : exchanges) {
            // A null MX (RFC 7505, exchange ".") names no host.
            if (!is_queryable(exchange)) continue;
            auto hosts = query(exchange, address_type());
            if (!hosts) return hosts.error();
            if (is_dns_error(*hosts.value()))
                return stop(Verdict::temperror, m.text + ": DNS error for " + exchange);
            for (const auto& rr : hosts.value()->records)
                if (address_matches(rr, m.cidr4, m.cidr6)) return true;
        }
        return false;
    }

    Flow<bool> match_ptr(const Mechanism& m, const std::string& domain, const MacroContext& context) {
        if (auto counted = count_term(m.text); !counted) return counted.error();
        auto target = term_target(m, domain, context);
        if (!target) return target.error();
        const std::string within = normalise_name(target.value());
        auto names = ptr_names(true, m.text);
        if (!names) return names.error();
        // Only names within the target can match, so only those are validated (5.5).
        for (const auto& name : names.value()) {
            if (!is_within(name, within)) continue;
            auto valid = validates(name);
            if (!valid) return valid.error();
            if (valid.value()) return true;
        }
        return false;
    }

    Flow<bool> match_exists(const Mechanism& m, const MacroContext& context) {
        if (auto counted = count_term(m.text); !counted) return counted.error();
        auto target = expand_target(m.domain_spec, context);
        if (!target) return target.error();
        if (!is_queryable(target.value())) return false;
        // Always an A query, whatever the client's family (5.7).
        auto answer = query(target.value(), dns::RrType::a);
        if (!answer) return answer.error();
        if (is_dns_error(*answer.value()))
            return stop(Verdict::temperror, m.text + ": DNS error for " + target.value());
        if (auto counted = note_void(*answer.value(), m.text); !counted) return counted.error();
        return std::any_of(answer.value()->records.begin(), answer.value()->records.end(),
                           [](const dns::Record& rr) { return std::holds_alternative<dns::Ipv4>(rr.data); });
    }

    // The first limits.ptr_names PTR names of the client, normalised. A DNS error means no
    // names (5.5: the mechanism fails to match).
    Flow<std::vector<std::string>> ptr_names(bool count_void, const std::string& term) {
        auto answer = query(reverse_name(ip_), dns::RrType::ptr);
        if (!answer) return answer.error();
        if (is_dns_error(*answer.value())) return std::vector<std::string>{};
        if (count_void) {
            if (auto counted = note_void(*answer.value(), term); !counted) return counted.error();
        }
        std::vector<std::string> names;
        for (const auto& rr : answer.value()->records) {
            if (names.size() >= request_.limits.ptr_names) break;
            if (const auto* n = std::get_if<dns::Name>(&rr.data)) names.push_back(normalise_name(n->name));
        }
        return names;
    }

    // Does `name` have an address equal to the client's? DNS errors skip the name (5.5).
    Flow<bool> validates(const std::string& name) {
        if (!is_queryable(name)) return false;
        auto answer = query(name, address_type());
        if (!answer) return answer.error();
        if (is_dns_error(*answer.value())) return false;
        return std::any_of(answer.value()->records.begin(), answer.value()->records.end(),
                           [&](const dns::Record& rr) { return address_matches(rr, full_prefix(), full_prefix()); });
    }
    unsigned full_prefix() const { return is_ipv4(ip_) ? ip4_max_prefix : ip6_max_prefix; }

    // %{p} (5.5, 7.3): a validated name equal to <domain>, else one within it, else any;
    // "unknown" when none validates.
    Flow<std::string> validated_name(const std::string& domain) {
        auto cached = validated_.find(domain);
        if (cached != validated_.end()) return cached->second;
        const std::string target = normalise_name(domain);
        auto names = ptr_names(false, "%{p}");
        if (!names) return names.error();
        std::stable_sort(names.value().begin(), names.value().end(), [&](const std::string& x, const std::string& y) {
            auto rank = [&](const std::string& n) { return n == target ? 0 : is_within(n, target) ? 1 : 2; };
            return rank(x) < rank(y);
        });
        std::string found = "unknown";
        for (const auto& name : names.value()) {
            auto valid = validates(name);
            if (!valid) return valid.error();
            if (valid.value()) { found = name; break; }
        }
        validated_.emplace(domain, found);
        return found;
    }

    // RFC 7208 6.2: the explanation of a fail. Every problem with exp= falls back to the
    // default explanation; none of it counts against the limits.
    Flow<std::string> explain(const Record& record, const MacroContext& context) {
        if (record.exp) {
            auto text = fetch_explanation(*record.exp, context);
            if (!text) return text.error();
            if (text.value()) return *text.value();
        }
        auto expanded = expand(request_.default_explanation, MacroMode::explanation, context);
        if (!expanded) return expanded.error();
        return expanded.value() ? expanded.value().value() : request_.default_explanation;
    }

    Flow<std::optional<std::string>> fetch_explanation(const std::string& spec, const MacroContext& context) {
        const std::optional<std::string> unusable;  // fall back to the default explanation
        auto expanded = expand(spec, MacroMode::domain_spec, context);
        if (!expanded) return expanded.error();
        if (!expanded.value()) return unusable;
        const std::string name = truncate_domain(expanded.value().value());
        if (!is_queryable(name)) return unusable;
        auto answer = query(name, dns::RrType::txt);
        if (!answer) return answer.error();
        if (answer.value()->rcode != dns::Rcode::noerror || is_dns_error(*answer.value())) return unusable;
        std::vector<const dns::Txt*> texts;
        for (const auto& rr : answer.value()->records)
            if (const auto* txt = std::get_if<dns::Txt>(&rr.data)) texts.push_back(txt);
        if (texts.size() != 1) return unusable;
        std::string text;
        for (const auto& s : texts.front()->strings) text += s;
        if (!is_ascii(text)) return unusable;
        auto explanation = expand(text, MacroMode::explanation, context);
        if (!explanation) return explanation.error();
        if (!explanation.value()) return unusable;
        note("exp=" + name + ": " + explanation.value().value());
        return std::optional<std::string>(explanation.value().value());
    }

    const SpfRequest& request_;
    const dns::AnswerCache& cache_;
    SpfResult& result_;
    IpAddress ip_;
    std::string local_part_;
    std::string sender_domain_;
    std::size_t depth_ = 0;
    std::map<std::string, std::string> validated_;
};

}  // namespace

const char* verdict_name(Verdict verdict) {
    switch (verdict) {
    case Verdict::none: return "none";
    case Verdict::neutral: return "neutral";
    case Verdict::pass: return "pass";
    case Verdict::fail: return "fail";
    case Verdict::softfail: return "softfail";
    case Verdict::temperror: return "temperror";
    case Verdict::permerror: return "permerror";
    }
    return "?";
}

SpfRequest make_request(const IpAddress& ip, std::string_view mail_from, std::string_view helo) {
    SpfRequest request;
    request.ip = ip;
    request.helo = std::string(helo);
    std::string local, domain;
    if (mail_from.empty()) {
        domain = std::string(helo);
    } else if (const std::size_t at = mail_from.rfind('@'); at == std::string_view::npos) {
        domain = std::string(mail_from);
    } else {
        local = std::string(mail_from.substr(0, at));
        domain = std::string(mail_from.substr(at + 1));
    }
    if (local.empty()) local = "postmaster";  // RFC 7208 4.3/2
    request.domain = domain;
    request.sender = local + "@" + domain;
    return request;
}

SpfEvaluation::SpfEvaluation(SpfRequest request) : request_(std::move(request)) {}

SpfEvaluation::Step SpfEvaluation::run(const dns::AnswerCache& cache) const {
    SpfResult result;
    Evaluator evaluator(request_, cache, result);
    auto out = evaluator.check_host(request_.domain, true);
    if (out) {
        result.verdict = out.value().verdict;
        result.explanation = std::move(out.value().explanation);
        result.matched = std::move(out.value().matched);
        result.problem = std::move(out.value().problem);
        return result;
    }
    Halt halt = std::move(out).error();
    if (auto* suspend = std::get_if<Suspend>(&halt)) return std::move(suspend->question);
    auto& stopped = std::get<Stop>(halt);
    result.verdict = stopped.verdict;
    result.problem = std::move(stopped.problem);
    result.trace.push_back(std::string(verdict_name(stopped.verdict)) + ": " + result.problem);
    return result;
}

void check_host_async(dns::Resolver& resolver, SpfRequest request, std::function<void(SpfResult)> done) {
    dns::drive<SpfEvaluation, SpfResult>(
        resolver, SpfEvaluation(std::move(request)), max_driver_rounds,
        [](std::size_t rounds) {
            SpfResult result;
            result.verdict = Verdict::temperror;
            result.problem = "gave up after " + std::to_string(rounds) + " DNS questions";
            return result;
        },
        std::move(done));
}

}  // namespace pigeon::spf
