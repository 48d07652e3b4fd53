// check_host() (RFC 7208 sections 4 and 5) as a replayable evaluation; see spf.hpp.
//
// How the replay works: the evaluation is ordinary straight-line recursive code. Every DNS
// lookup goes through Evaluator::query(), which either finds the answer in the cache or
// throws Suspend carrying the question; run() catches it and hands the question to the
// driver. The next run() starts again from the top and gets one step further. Because the
// code reads nothing but the request and the cache, every replay takes the same path.
// temperror and permerror end the whole evaluation wherever they happen (include propagates
// both, redirect returns them), so they are thrown as Stop rather than threaded through.
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

struct Suspend {
    dns::Question question;
};

struct Stop {
    Verdict verdict;
    std::string problem;
};

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

    Outcome check_host(const std::string& domain, bool want_explanation) {
        note("check_host(" + domain + ")");
        if (!is_valid_domain(domain))
            return {Verdict::none, "", "", "\"" + domain + "\" is not a valid domain name"};
        const dns::Answer& answer = query(domain, dns::RrType::txt);
        if (answer.rcode == dns::Rcode::nxdomain)
            return {Verdict::none, "", "", "no SPF record: " + domain + " does not exist"};
        if (is_dns_error(answer))
            throw Stop{Verdict::temperror, "DNS error looking up the SPF record of " + domain};
        std::vector<std::string> policies;
        for (const auto& rr : answer.records) {
            const auto* txt = std::get_if<dns::Txt>(&rr.data);
            if (txt == nullptr) continue;
            std::string text;  // RFC 7208 3.3: the strings are joined without separators
            for (const auto& s : txt->strings) text += s;
            if (is_spf_record(text)) policies.push_back(std::move(text));
        }
        if (policies.empty()) return {Verdict::none, "", "", "no SPF record at " + domain};
        if (policies.size() > 1)
            throw Stop{Verdict::permerror, "more than one SPF record at " + domain};
        note("record: " + policies.front());
        auto parsed = parse_record(policies.front());
        if (!parsed) throw Stop{Verdict::permerror, domain + ": " + parsed.error().message};
        const Record& record = parsed.value();
        MacroContext context = macro_context(domain);

        ++depth_;
        for (const auto& m : record.mechanisms) {
            const bool match = matches(m, domain, context);
            note(m.text + (match ? " -> match" : " -> no match"));
            if (!match) continue;
            --depth_;
            Outcome out{from_qualifier(m.qualifier), "", m.text, ""};
            if (out.verdict == Verdict::fail && want_explanation)
                out.explanation = explain(record, context);
            return out;
        }
        if (record.redirect) {
            count_term("redirect=" + *record.redirect);
            const std::string target = expand_target(*record.redirect, context);
            note("redirect=" + target);
            Outcome out = check_host(target, want_explanation);
            if (out.verdict == Verdict::none)
                throw Stop{Verdict::permerror,
                           "redirect=" + target + " has no SPF record (" + out.problem + ")"};
            --depth_;
            return out;
        }
        --depth_;
        note("no mechanism matched: neutral");
        return {Verdict::neutral, "", "", ""};
    }

private:
    void note(const std::string& line) {
        result_.trace.push_back(std::string(2 * depth_, ' ') + line);
    }

    const dns::Answer& query(std::string_view name, dns::RrType type) {
        dns::Question question{normalise_name(name), type};
        const dns::Answer* answer = cache_.find(question);
        if (answer == nullptr) throw Suspend{std::move(question)};
        ++result_.queries;
        note("query " + std::string(type_label(type)) + " " + question.name + " -> " +
             rcode_label(answer->rcode) + ", " + std::to_string(answer->records.size()) + " record(s)");
        return *answer;
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
    void count_term(const std::string& term) {
        if (result_.dns_terms >= request_.limits.dns_terms)
            throw Stop{Verdict::permerror, "more than " + std::to_string(request_.limits.dns_terms) +
                                               " DNS-querying terms (at " + term + ")"};
        ++result_.dns_terms;
    }

    void note_void(const dns::Answer& answer, const std::string& term) {
        if (!is_void(answer)) return;
        if (++result_.void_lookups > request_.limits.void_lookups)
            throw Stop{Verdict::permerror, "more than " + std::to_string(request_.limits.void_lookups) +
                                               " void lookups (at " + term + ")"};
    }

    MacroContext macro_context(const std::string& domain) {
        MacroContext c;
        c.sender = local_part_ + "@" + sender_domain_;
        c.local_part = local_part_;
        c.sender_domain = sender_domain_;
        c.domain = domain;
        c.ip = ip_;
        c.helo = request_.helo;
        c.receiver = request_.receiver;
        c.timestamp = request_.now;
        c.validated_name = [this, domain] { return validated_name(domain); };
        return c;
    }

    std::string expand_target(const std::string& spec, const MacroContext& context) {
        auto expanded = expand_macros(spec, MacroMode::domain_spec, context);
        if (!expanded) throw Stop{Verdict::permerror, expanded.error().message};
        return truncate_domain(expanded.value());
    }

    dns::RrType address_type() const { return is_ipv4(ip_) ? dns::RrType::a : dns::RrType::aaaa; }

    bool address_matches(const dns::Record& rr, unsigned cidr4, unsigned cidr6) const {
        if (const auto* v4 = std::get_if<dns::Ipv4>(&rr.data)) return in_network(ip_, *v4, cidr4);
        if (const auto* v6 = std::get_if<dns::Ipv6>(&rr.data)) return in_network(ip_, *v6, cidr6);
        return false;
    }

    bool matches(const Mechanism& m, const std::string& domain, const MacroContext& context) {
        switch (m.kind) {
        case MechanismKind::all:
            return true;
        case MechanismKind::ip4:
        case MechanismKind::ip6:
            return in_network(ip_, m.network, m.kind == MechanismKind::ip4 ? m.cidr4 : m.cidr6);
        case MechanismKind::include: {
            count_term(m.text);
            const std::string target = expand_target(m.domain_spec, context);
            Outcome inner = check_host(target, false);
            switch (inner.verdict) {
            case Verdict::pass: return true;
            case Verdict::none:
                throw Stop{Verdict::permerror,
                           m.text + ": " + target + " has no SPF record (" + inner.problem + ")"};
            default: return false;  // fail, softfail, neutral: not a match (5.2)
            }
        }
        case MechanismKind::a: {
            count_term(m.text);
            const std::string target =
                m.domain_spec.empty() ? domain : expand_target(m.domain_spec, context);
            if (!is_queryable(target)) return false;
            const dns::Answer& answer = query(target, address_type());
            if (is_dns_error(answer)) throw Stop{Verdict::temperror, m.text + ": DNS error for " + target};
            note_void(answer, m.text);
            return std::any_of(answer.records.begin(), answer.records.end(),
                               [&](const dns::Record& rr) { return address_matches(rr, m.cidr4, m.cidr6); });
        }
        case MechanismKind::mx: {
            count_term(m.text);
            const std::string target =
                m.domain_spec.empty() ? domain : expand_target(m.domain_spec, context);
            if (!is_queryable(target)) return false;
            const dns::Answer& answer = query(target, dns::RrType::mx);
            if (is_dns_error(answer)) throw Stop{Verdict::temperror, m.text + ": DNS error for MX " + target};
            note_void(answer, m.text);
            std::vector<std::string> exchanges;
            for (const auto& rr : answer.records)
                if (const auto* mx = std::get_if<dns::Mx>(&rr.data)) exchanges.push_back(mx->exchange);
            if (exchanges.size() > request_.limits.mx_records)
                throw Stop{Verdict::permerror, m.text + ": " + target + " has more than " +
                                                   std::to_string(request_.limits.mx_records) + " MX records"};
            for (const auto& exchange : exchanges) {
                // A null MX (RFC 7505, exchange ".") names no host.
                if (!is_queryable(exchange)) continue;
                const dns::Answer& hosts = query(exchange, address_type());
                if (is_dns_error(hosts))
                    throw Stop{Verdict::temperror, m.text + ": DNS error for " + exchange};
                for (const auto& rr : hosts.records)
                    if (address_matches(rr, m.cidr4, m.cidr6)) return true;
            }
            return false;
        }
        case MechanismKind::ptr: {
            count_term(m.text);
            const std::string target = normalise_name(
                m.domain_spec.empty() ? domain : expand_target(m.domain_spec, context));
            // Only names within the target can match, so only those are validated (5.5).
            auto names = ptr_names(true, m.text);
            for (const auto& name : names)
                if (is_within(name, target) && validates(name)) return true;
            return false;
        }
        case MechanismKind::exists: {
            count_term(m.text);
            const std::string target = expand_target(m.domain_spec, context);
            if (!is_queryable(target)) return false;
            // Always an A query, whatever the client's family (5.7).
            const dns::Answer& answer = query(target, dns::RrType::a);
            if (is_dns_error(answer)) throw Stop{Verdict::temperror, m.text + ": DNS error for " + target};
            note_void(answer, m.text);
            return std::any_of(answer.records.begin(), answer.records.end(), [](const dns::Record& rr) {
                return std::holds_alternative<dns::Ipv4>(rr.data);
            });
        }
        }
        return false;
    }

    // The first limits.ptr_names PTR names of the client, normalised. A DNS error means no
    // names (5.5: the mechanism fails to match).
    std::vector<std::string> ptr_names(bool count_void, const std::string& term) {
        const dns::Answer& answer = query(reverse_name(ip_), dns::RrType::ptr);
        if (is_dns_error(answer)) return {};
        if (count_void) note_void(answer, term);
        std::vector<std::string> names;
        for (const auto& rr : answer.records) {
            if (names.size() >= request_.limits.ptr_names) break;
            if (const auto* n = std::get_if<dns::Name>(&rr.data)) names.push_back(normalise_name(n->name));
        }
        return names;
    }

    // Does `name` have an address equal to the client's? DNS errors skip the name (5.5).
    bool validates(const std::string& name) {
        if (!is_queryable(name)) return false;
        const dns::Answer& answer = query(name, address_type());
        if (is_dns_error(answer)) return false;
        return std::any_of(answer.records.begin(), answer.records.end(), [&](const dns::Record& rr) {
            return address_matches(rr, full_prefix(), full_prefix());
        });
    }
    unsigned full_prefix() const { return is_ipv4(ip_) ? ip4_max_prefix : ip6_max_prefix; }

    // %{p} (5.5, 7.3): a validated name equal to <domain>, else one within it, else any;
    // "unknown" when none validates.
    std::string validated_name(const std::string& domain) {
        auto cached = validated_.find(domain);
        if (cached != validated_.end()) return cached->second;
        const std::string target = normalise_name(domain);
        auto names = ptr_names(false, "%{p}");
        std::stable_sort(names.begin(), names.end(), [&](const std::string& x, const std::string& y) {
            auto rank = [&](const std::string& n) { return n == target ? 0 : is_within(n, target) ? 1 : 2; };
            return rank(x) < rank(y);
        });
        std::string found = "unknown";
        for (const auto& name : names)
            if (validates(name)) { found = name; break; }
        validated_.emplace(domain, found);
        return found;
    }

    // RFC 7208 6.2: the explanation of a fail. Every problem with exp= falls back to the
    // default explanation; none of it counts against the limits.
    std::string explain(const Record& record, const MacroContext& context) {
        if (record.exp) {
            if (auto text = fetch_explanation(*record.exp, context)) return *text;
        }
        auto expanded = expand_macros(request_.default_explanation, MacroMode::explanation, context);
        return expanded ? expanded.value() : request_.default_explanation;
    }

    std::optional<std::string> fetch_explanation(const std::string& spec, const MacroContext& context) {
        auto expanded = expand_macros(spec, MacroMode::domain_spec, context);
        if (!expanded) return std::nullopt;
        const std::string name = truncate_domain(expanded.value());
        if (!is_queryable(name)) return std::nullopt;
        const dns::Answer& answer = query(name, dns::RrType::txt);
        if (answer.rcode != dns::Rcode::noerror || is_dns_error(answer)) return std::nullopt;
        std::vector<const dns::Txt*> texts;
        for (const auto& rr : answer.records)
            if (const auto* txt = std::get_if<dns::Txt>(&rr.data)) texts.push_back(txt);
        if (texts.size() != 1) return std::nullopt;
        std::string text;
        for (const auto& s : texts.front()->strings) text += s;
        if (!is_ascii(text)) return std::nullopt;
        auto explanation = expand_macros(text, MacroMode::explanation, context);
        if (!explanation) return std::nullopt;
        note("exp=" + name + ": " + explanation.value());
        return explanation.value();
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
    try {
        Outcome out = evaluator.check_host(request_.domain, true);
        result.verdict = out.verdict;
        result.explanation = std::move(out.explanation);
        result.matched = std::move(out.matched);
        result.problem = std::move(out.problem);
    } catch (Suspend& suspend) {
        return std::move(suspend.question);
    } catch (Stop& stop) {
        result.verdict = stop.verdict;
        result.problem = std::move(stop.problem);
        result.trace.push_back(std::string(verdict_name(stop.verdict)) + ": " + result.problem);
    }
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
