// RouteEvaluation: MX routing (RFC 5321 5.1, RFC 7505) and the DANE decision per host
// (RFC 7672 2.2) as a replay over an AnswerCache (see the header).
#include "delivery/route.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "core/ascii.hpp"
#include "dns/drive.hpp"

namespace pigeon::delivery {

namespace {

constexpr std::size_t sha256_octets = 32;
constexpr std::size_t sha512_octets = 64;
constexpr std::size_t give_up_margin = 8;  // questions beyond max_route_questions before give_up

std::string normalise_name(std::string_view name) {
    std::string out = core::ascii_lower(name);
    while (!out.empty() && out.back() == '.') out.pop_back();
    return out;
}

bool is_ip_text(std::string_view text) {
    return dns::parse_ipv4(text).has_value() || dns::parse_ipv6(text).has_value();
}

bool failed(const dns::Answer& a) { return !a.ok(); }

std::string failure_text(const dns::Answer& a) {
    std::string out = dns::rcode_name(a.rcode);
    if (a.security == dns::Security::bogus) {
        out += ", DNSSEC bogus";
        if (!a.why_bogus.empty()) out += ": " + a.why_bogus;
    }
    return out;
}

// splitmix64 (Steele, Lea, Flood 2014): a tiny generator with the same output everywhere,
// unlike std::shuffle over std:: distributions.
class SplitMix64 {
public:
    explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        state_ += 0x9e3779b97f4a7c15ULL;
        std::uint64_t z = state_;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

private:
    std::uint64_t state_;
};

struct Candidate {
    std::uint16_t preference = 0;
    std::string name;
};

// Sorts by preference and shuffles each run of equal preferences (Fisher-Yates).
void order_candidates(std::vector<Candidate>& list, std::uint64_t seed) {
    std::stable_sort(list.begin(), list.end(),
                     [](const Candidate& a, const Candidate& b) { return a.preference < b.preference; });
    SplitMix64 rng(seed);
    std::size_t start = 0;
    while (start < list.size()) {
        std::size_t end = start + 1;
        while (end < list.size() && list[end].preference == list[start].preference) ++end;
        for (std::size_t i = end - start; i > 1; --i) {
            const std::size_t j = static_cast<std::size_t>(rng.next() % i);
            std::swap(list[start + i - 1], list[start + j]);
        }
        start = end;
    }
}

Route fail_route(Route::Kind kind, int code, std::string_view enhanced, std::string text,
                 std::vector<std::string> explanation, std::vector<Hop> hops = {}) {
    Route route;
    route.kind = kind;
    route.reply = core::Reply(code, enhanced, std::move(text));
    route.explanation = std::move(explanation);
    route.hops = std::move(hops);
    return route;
}

// One replay of the evaluation: ask() returns the cached answer, or records the question
// that is missing (and the caller returns it).
class Replay {
public:
    Replay(const RouteRequest& request, const dns::AnswerCache& cache) : request_(request), cache_(cache) {}

    std::variant<dns::Question, Route> run();

private:
    const dns::Answer* ask(const std::string& name, dns::RrType type) {
        dns::Question q = dns::make_question(name, type);
        const dns::Answer* a = cache_.find(q);
        if (a == nullptr) missing_ = std::move(q);
        return a;
    }

    std::optional<Route> literal_route(std::string_view text);
    std::variant<dns::Question, Route> mx_route(const std::string& domain);
    // The steps of mx_route; each returns the Route that ends routing (a failure), if any.
    std::optional<Route> read_mx(const dns::Answer& mx, const std::string& domain, std::vector<Candidate>& list);
    std::optional<Route> drop_ours(std::vector<Candidate>& list, const std::string& domain);
    std::optional<Route> mail_hosts(std::vector<Candidate>& list, const std::string& domain,
                                    std::vector<Candidate>& named);
    // Fills the addresses and the DANE decision of `hop`; false when a question is missing.
    bool resolve_hop(Hop& hop, bool chain_secure, const std::string& next_hop_domain,
                     const std::string& label);
    Route finish(std::vector<Hop> hops, bool mode_host);

    const RouteRequest& request_;
    const dns::AnswerCache& cache_;
    std::optional<dns::Question> missing_;
    std::vector<std::string> explain_;
    bool transient_seen_ = false;  // some host failed for a reason that may go away
};

std::optional<Route> Replay::literal_route(std::string_view text) {
    // RFC 5321 4.1.3: "[" IPv4 "]" or "[IPv6:" IPv6 "]"; no DNS (RFC 5321 5.1 last paragraph).
    Hop hop;
    hop.host = std::string(text);
    hop.port = request_.port;
    hop.note = "address literal " + std::string(text) + ": no DNS lookup (RFC 5321 5.1)";
    constexpr std::string_view v6_tag = "ipv6:";
    std::string_view inner;
    if (text.size() >= 3 && text.back() == ']') inner = text.substr(1, text.size() - 2);
    bool v6 = false;
    std::string address;
    if (inner.size() > v6_tag.size() && core::ascii_lower(inner.substr(0, v6_tag.size())) == v6_tag) {
        if (auto ip = dns::parse_ipv6(inner.substr(v6_tag.size()))) {
            address = dns::to_string(*ip);
            v6 = true;
        }
    } else if (auto ip = dns::parse_ipv4(inner)) {
        address = dns::to_string(*ip);
    }
    if (address.empty()) {
        return fail_route(Route::Kind::permanent, 550, "5.1.2", "bad address literal " + std::string(text),
                          {"destination " + std::string(text) + " is not a valid address literal (RFC 5321 4.1.3)"});
    }
    explain_.push_back(hop.note);
    if ((v6 && !request_.ipv6) || (!v6 && !request_.ipv4)) {
        explain_.push_back(std::string(v6 ? "IPv6" : "IPv4") + " is disabled: no usable address");
        return fail_route(Route::Kind::permanent, 554, "5.4.4",
                          "address family of " + std::string(text) + " is disabled", explain_, {hop});
    }
    hop.addresses.push_back(address);
    Route route;
    route.hops.push_back(std::move(hop));
    route.explanation = explain_;
    return route;
}

bool Replay::resolve_hop(Hop& hop, bool chain_secure, const std::string& next_hop_domain,
                         const std::string& label) {
    std::vector<std::string> v6, v4;
    std::vector<std::string> failures;
    bool any_ok = false, all_ok_secure = true, nxdomain = false;
    std::string canonical;

    auto take = [&](const dns::Answer& a, const char* type) {
        if (failed(a)) {
            failures.push_back(std::string(type) + " " + failure_text(a));
            return;
        }
        any_ok = true;
        if (a.security != dns::Security::secure) all_ok_secure = false;
        if (a.rcode == dns::Rcode::nxdomain) nxdomain = true;
        if (canonical.empty() && a.rcode == dns::Rcode::noerror) canonical = normalise_name(a.canonical_name);
        for (const auto& r : a.records) {
            if (auto* ip6 = std::get_if<dns::Ipv6>(&r.data)) v6.push_back(dns::to_string(*ip6));
            if (auto* ip4 = std::get_if<dns::Ipv4>(&r.data)) v4.push_back(dns::to_string(*ip4));
        }
    };

    if (request_.ipv6) {
        const dns::Answer* a = ask(hop.host, dns::RrType::aaaa);
        if (a == nullptr) return false;
        take(*a, "AAAA");
    }
    // A name that does not exist has no A either: one question fewer.
    if (request_.ipv4 && !nxdomain) {
        const dns::Answer* a = ask(hop.host, dns::RrType::a);
        if (a == nullptr) return false;
        take(*a, "A");
    }
    for (auto& s : v6) hop.addresses.push_back(std::move(s));
    for (auto& s : v4) hop.addresses.push_back(std::move(s));

    std::string note = label + hop.host;
    if (!canonical.empty() && canonical != hop.host) note += " (CNAME to " + canonical + ")";
    if (!request_.ipv6 && !request_.ipv4) note += ": no address family enabled";
    else if (nxdomain) note += ": no such host (NXDOMAIN)";
    else note += ": " + std::to_string(hop.addresses.size()) + " address" + (hop.addresses.size() == 1 ? "" : "es");
    if (!failures.empty()) {
        note += " (lookup failed:";
        for (std::size_t i = 0; i < failures.size(); ++i) note += (i ? ", " : " ") + failures[i];
        note += ")";
        if (hop.addresses.empty()) {
            transient_seen_ = true;
            note += ", not usable for now";
        }
    }
    hop.dnssec_secure = chain_secure && any_ok && all_ok_secure;
    note += hop.dnssec_secure ? ", DNSSEC secure" : ", not DNSSEC secure";

    // RFC 7672 2.2: TLSA only when everything that led to this host was secure.
    if (!request_.dane) {
        hop.note = note + "; DANE off: opportunistic TLS";
    } else if (hop.addresses.empty()) {
        hop.note = note;
    } else if (!hop.dnssec_secure) {
        hop.note = note + "; no TLSA lookup (RFC 7672 2.2.1): opportunistic TLS";
    } else {
        // RFC 7672 2.2.2: the CNAME-expanded name first, then the original name when the
        // expanded one securely has no TLSA.
        std::vector<std::string> bases;
        if (!canonical.empty() && canonical != hop.host) bases.push_back(canonical);
        bases.push_back(hop.host);
        std::string outcome;
        for (std::size_t i = 0; i < bases.size(); ++i) {
            const std::string owner = "_" + std::to_string(hop.port) + "._tcp." + bases[i];
            const dns::Answer* a = ask(owner, dns::RrType::tlsa);
            if (a == nullptr) return false;
            hop.tlsa_name = owner;
            if (failed(*a) || a->security == dns::Security::bogus) {
                hop.tls = Hop::Tls::unreachable;
                transient_seen_ = true;
                outcome = "TLSA " + owner + " " + failure_text(*a) +
                          ": host not used (RFC 7672 2.2)";
                break;
            }
            if (a->security != dns::Security::secure) {
                outcome = "TLSA " + owner + " not secure: opportunistic TLS (RFC 7672 2.2)";
                break;
            }
            std::vector<dns::Tlsa> all, usable;
            for (const auto& r : a->records)
                if (auto* t = std::get_if<dns::Tlsa>(&r.data)) all.push_back(*t);
            if (all.empty()) {
                outcome = "TLSA " + owner + " securely absent";
                if (i + 1 < bases.size()) {
                    outcome += "; trying " + bases[i + 1];
                    explain_.push_back(label + hop.host + ": " + outcome + " (RFC 7672 2.2.2)");
                    continue;
                }
                outcome += ": opportunistic TLS (RFC 7672 2.2)";
                break;
            }
            for (const auto& t : all)
                if (usable_for_smtp(t)) usable.push_back(t);
            hop.tls_required = true;
            if (usable.empty()) {
                outcome = "TLSA " + owner + ": " + std::to_string(all.size()) +
                          " secure records, none usable: TLS required, not authenticated (RFC 7672 2.2, 3.1.3)";
                break;
            }
            hop.tls = Hop::Tls::dane;
            hop.tlsa = std::move(usable);
            // RFC 7672 3.2.2: the TLSA base domain, the name it was reached from, and the
            // next-hop domain when the MX RRset was secure.
            hop.dane_names.push_back(bases[i]);
            if (bases[i] != hop.host) hop.dane_names.push_back(hop.host);
            if (!next_hop_domain.empty() &&
                std::find(hop.dane_names.begin(), hop.dane_names.end(), next_hop_domain) == hop.dane_names.end())
                hop.dane_names.push_back(next_hop_domain);
            outcome = "TLSA " + owner + ": " + std::to_string(hop.tlsa.size()) + " of " +
                      std::to_string(all.size()) + " records usable: DANE authentication required (RFC 7672 2.2, 3.1)";
            break;
        }
        hop.note = note + "; " + outcome;
    }
    explain_.push_back(hop.note);
    return true;
}

Route Replay::finish(std::vector<Hop> hops, bool mode_host) {
    const bool usable = std::any_of(hops.begin(), hops.end(), [](const Hop& h) {
        return !h.addresses.empty() && h.tls != Hop::Tls::unreachable;
    });
    if (usable) {
        Route route;
        route.hops = std::move(hops);
        explain_.push_back(std::to_string(route.hops.size()) + " hop(s) to try in order");
        route.explanation = std::move(explain_);
        return route;
    }
    if (transient_seen_) {
        explain_.push_back("no host usable now: temporary failure");
        return fail_route(Route::Kind::transient, 451, "4.4.3",
                          "no usable host for " + request_.domain + " now (DNS or DANE lookup failed)",
                          std::move(explain_), std::move(hops));
    }
    if (mode_host) {
        explain_.push_back("relay host has no address: configuration problem, retried later");
        return fail_route(Route::Kind::transient, 451, "4.4.4",
                          "relay host " + request_.domain + " has no usable address",
                          std::move(explain_), std::move(hops));
    }
    explain_.push_back("no host has an address record: undeliverable");
    return fail_route(Route::Kind::permanent, 554, "5.4.4",
                      "no address records for any mail host of " + request_.domain,
                      std::move(explain_), std::move(hops));
}

std::variant<dns::Question, Route> Replay::mx_route(const std::string& domain) {
    const dns::Answer* mx = ask(domain, dns::RrType::mx);
    if (mx == nullptr) return *missing_;

    if (mx->rcode == dns::Rcode::nxdomain) {
        explain_.push_back("MX " + domain + ": NXDOMAIN, the domain does not exist");
        return fail_route(Route::Kind::permanent, 550, "5.1.2", "domain " + domain + " does not exist",
                          std::move(explain_));
    }
    if (failed(*mx)) {
        explain_.push_back("MX " + domain + ": " + failure_text(*mx) + ": try again later (RFC 7672 2.2.1)");
        return fail_route(Route::Kind::transient, 451, "4.4.3",
                          "DNS lookup of MX for " + domain + " failed (" + failure_text(*mx) + ")",
                          std::move(explain_));
    }
    std::vector<Candidate> list;
    std::vector<Candidate> named;
    if (auto end = read_mx(*mx, domain, list)) return std::move(*end);
    if (auto end = drop_ours(list, domain)) return std::move(*end);
    if (auto end = mail_hosts(list, domain, named)) return std::move(*end);

    const bool mx_secure = mx->security == dns::Security::secure;
    std::vector<Hop> hops;
    for (const auto& c : named) {
        Hop hop;
        hop.host = c.name;
        hop.preference = c.preference;
        hop.port = request_.port;
        // RFC 7672 3.2.2: the next-hop domain is a reference identifier only via a secure MX.
        const std::string label = "MX " + std::to_string(c.preference) + " ";
        if (!resolve_hop(hop, mx_secure, mx_secure ? domain : std::string(), label)) return *missing_;
        hops.push_back(std::move(hop));
    }
    return finish(std::move(hops), false);
}

// The MX records as candidates: none means the implicit MX (the domain itself), only null
// MX means no mail at all, and a null MX beside others is ignored.
std::optional<Route> Replay::read_mx(const dns::Answer& mx, const std::string& domain, std::vector<Candidate>& list) {
    const std::string canonical = normalise_name(mx.canonical_name);
    std::string head = "MX " + domain;
    if (!canonical.empty() && canonical != domain) head += " (CNAME to " + canonical + ")";
    std::size_t null_mx = 0;
    for (const auto& r : mx.records) {
        const auto* m = std::get_if<dns::Mx>(&r.data);
        if (m == nullptr) continue;
        const std::string exchange = normalise_name(m->exchange);
        if (exchange.empty()) ++null_mx;
        list.push_back({m->preference, exchange});
    }
    head += ": " + std::to_string(list.size()) + " record(s), DNSSEC " + dns::security_name(mx.security) +
            " (RFC 5321 5.1)";
    explain_.push_back(head);

    if (list.empty()) {
        // RFC 5321 5.1: no MX -> the domain itself as an implicit MX of preference 0.
        explain_.push_back("no MX records: implicit MX " + domain + " (RFC 5321 5.1)");
        list.push_back({0, domain});
    } else if (null_mx == list.size()) {
        explain_.push_back("null MX: the domain accepts no mail (RFC 7505 3)");
        return fail_route(Route::Kind::permanent, 556, "5.1.10",
                          "recipient domain " + domain + " has a null MX (accepts no mail)",
                          std::move(explain_));
    } else if (null_mx > 0) {
        explain_.push_back("null MX beside " + std::to_string(list.size() - null_mx) +
                           " other MX record(s): ignored (RFC 7505 3 forbids both)");
        list.erase(std::remove_if(list.begin(), list.end(), [](const Candidate& c) { return c.name.empty(); }),
                   list.end());
    }
    return std::nullopt;
}

// RFC 5321 5.1: an MX naming us ends the list at its preference.
std::optional<Route> Replay::drop_ours(std::vector<Candidate>& list, const std::string& domain) {
    std::vector<std::string> ours;
    for (const auto& n : request_.our_names) ours.push_back(normalise_name(n));
    std::optional<std::uint16_t> cut;
    for (const auto& c : list)
        if (std::find(ours.begin(), ours.end(), c.name) != ours.end())
            if (!cut || c.preference < *cut) cut = c.preference;
    if (!cut) return std::nullopt;
    const std::size_t before = list.size();
    list.erase(std::remove_if(list.begin(), list.end(), [&](const Candidate& c) { return c.preference >= *cut; }),
               list.end());
    explain_.push_back("we are an MX at preference " + std::to_string(*cut) + ": dropped " +
                       std::to_string(before - list.size()) + " MX of that preference or higher (RFC 5321 5.1)");
    if (!list.empty()) return std::nullopt;
    explain_.push_back("no MX more preferred than us: mail loops back to myself");
    return fail_route(Route::Kind::permanent, 554, "5.4.6", "mail for " + domain + " loops back to myself",
                      std::move(explain_));
}

// RFC 5321 5.1: the exchanges that name a host (never an address), each once at its most
// preferred record, in preference order with equal ones shuffled, at most max_mx_hosts.
std::optional<Route> Replay::mail_hosts(std::vector<Candidate>& list, const std::string& domain,
                                        std::vector<Candidate>& named) {
    for (auto& c : list) {
        if (is_ip_text(c.name)) {
            explain_.push_back("MX " + std::to_string(c.preference) + " " + c.name +
                               " is an IP address, not a host name: skipped (RFC 5321 5.1)");
            continue;
        }
        auto same = std::find_if(named.begin(), named.end(), [&](const Candidate& n) { return n.name == c.name; });
        if (same != named.end()) {
            same->preference = std::min(same->preference, c.preference);
            continue;
        }
        named.push_back(std::move(c));
    }
    if (named.empty()) {
        explain_.push_back("no MX names a host");
        return fail_route(Route::Kind::permanent, 554, "5.4.4", "no valid MX host for " + domain,
                          std::move(explain_));
    }
    order_candidates(named, request_.shuffle_seed);
    std::string order = "order by preference, equal ones shuffled (seed " +
                        std::to_string(request_.shuffle_seed) + ", RFC 5321 5.1):";
    for (const auto& c : named) order += " " + c.name + "(" + std::to_string(c.preference) + ")";
    explain_.push_back(order);
    if (named.size() > max_mx_hosts) {
        explain_.push_back(std::to_string(named.size() - max_mx_hosts) + " MX host(s) beyond the first " +
                           std::to_string(max_mx_hosts) + " dropped");
        named.resize(max_mx_hosts);
    }
    return std::nullopt;
}

std::variant<dns::Question, Route> Replay::run() {
    const std::string& text = request_.domain;
    if (!text.empty() && text.front() == '[') {
        if (auto r = literal_route(text)) return std::move(*r);
    }
    const std::string domain = normalise_name(text);
    if (domain.empty()) {
        return fail_route(Route::Kind::permanent, 550, "5.1.2", "empty destination", {"empty destination"});
    }
    if (request_.mode == RouteRequest::Mode::mx) return mx_route(domain);

    // Mode::host: a configured relay host, no MX (RFC 5321 5.1 applies to domains only).
    Hop hop;
    hop.host = domain;
    hop.port = request_.port;
    if (auto v6 = dns::parse_ipv6(domain); v6 || dns::parse_ipv4(domain)) {
        const bool ok_family = v6 ? request_.ipv6 : request_.ipv4;
        hop.note = "relay host " + domain + ": an IP address, no DNS lookup";
        explain_.push_back(hop.note);
        if (!ok_family) {
            explain_.push_back(std::string(v6 ? "IPv6" : "IPv4") + " is disabled: no usable address");
            return finish({hop}, true);
        }
        hop.addresses.push_back(v6 ? dns::to_string(*v6) : dns::to_string(*dns::parse_ipv4(domain)));
        return finish({hop}, true);
    }
    explain_.push_back("relay host " + domain + ": address records only, no MX lookup");
    if (!resolve_hop(hop, true, std::string(), "relay host ")) return *missing_;
    return finish({hop}, true);
}

}  // namespace

const char* tls_name(Hop::Tls tls) {
    switch (tls) {
        case Hop::Tls::opportunistic: return "opportunistic";
        case Hop::Tls::dane: return "dane";
        case Hop::Tls::unreachable: return "unreachable";
    }
    return "?";
}

const char* kind_name(Route::Kind kind) {
    switch (kind) {
        case Route::Kind::ok: return "ok";
        case Route::Kind::transient: return "transient";
        case Route::Kind::permanent: return "permanent";
    }
    return "?";
}

bool usable_for_smtp(const dns::Tlsa& record) {
    if (record.usage != 2 && record.usage != 3) return false;  // RFC 7672 3.1.3: PKIX-TA/EE unusable
    if (record.selector > 1) return false;
    switch (record.matching) {
        case 0: return !record.data.empty();
        case 1: return record.data.size() == sha256_octets;
        case 2: return record.data.size() == sha512_octets;
        default: return false;
    }
}

RouteEvaluation::RouteEvaluation(RouteRequest request) : request_(std::move(request)) {}

std::variant<dns::Question, Route> RouteEvaluation::run(const dns::AnswerCache& cache) const {
    return Replay(request_, cache).run();
}

void find_route_async(dns::Resolver& resolver, RouteRequest request, std::function<void(Route)> done) {
    std::string domain = request.domain;
    dns::drive<RouteEvaluation, Route>(
        resolver, RouteEvaluation(std::move(request)), max_route_questions + give_up_margin,
        [domain](std::size_t rounds) {
            return fail_route(Route::Kind::transient, 451, "4.4.3",
                              "routing " + domain + " gave up after " + std::to_string(rounds) + " DNS questions",
                              {"gave up after " + std::to_string(rounds) + " DNS questions"});
        },
        std::move(done));
}

}  // namespace pigeon::delivery
