// pigeon/sim/swarm.cpp: scenarios drawn from seeds, and the invariants they must keep.
#include "sim/swarm.hpp"

#include "core/assert.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "sim/random.hpp"
#include "sim/run.hpp"

namespace pigeon::sim {
namespace {

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

std::size_t count_of(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto p = text.find(part); p != std::string::npos; p = text.find(part, p + part.size())) ++n;
    return n;
}

bool is_dsn(const std::string& content) { return content.find("report-type=delivery-status") != std::string::npos; }

template <class T>
const T& pick(Rng& r, const std::vector<T>& v) {
    return v[r.below(v.size())];
}

constexpr std::int64_t fault_phase_ms = 600'000;

}  // namespace

namespace {

// A domain of the drawn world: its Pigeon hosts (primary first, then a backup MX) and users.
struct SwarmDomain {
    std::string name;
    std::vector<std::string> hosts;
    std::vector<std::string> users;
};

// One seed's scenario, drawn step by step. The draws happen in a fixed order (the order of the
// steps in draw()), so a seed always gives the same scenario.
class SwarmDraw {
public:
    // Its own generator, apart from the run's (which starts from the same seed).
    explicit SwarmDraw(std::uint64_t seed) : seed_(seed), r_(seed * 0x9e3779b97f4a7c15ull + 0x5157a2d) {}

    Scenario draw() {
        draw_network();
        const auto n_domains = r_.between(2, 5);
        for (std::int64_t k = 1; k <= n_domains; ++k) add_domain(k);
        const auto n_scripted = r_.between(0, 2);
        for (std::int64_t j = 1; j <= n_scripted; ++j) add_scripted_peer(j);
        null_mx_ = r_.chance(0.3);
        if (null_mx_) zone_ += "n.test. MX 0 .\n";
        add_outside_client();
        s_.zone = zone_;
        const auto n_messages = r_.between(3, 14);
        for (std::int64_t m = 1; m <= n_messages; ++m) add_message(m);
        std::stable_sort(s_.actions.begin(), s_.actions.end(),
                         [](const ActionSpec& x, const ActionSpec& y) { return x.at_ms < y.at_ms; });
        const auto n_faults = r_.between(0, 8);
        for (std::int64_t i = 0; i < n_faults; ++i) add_fault();
        std::stable_sort(faults_.begin(), faults_.end(),
                         [](const FaultSpec& x, const FaultSpec& y) { return x.at_ms < y.at_ms; });
        s_.faults = std::move(faults_);
        // The quiet phase: every retry ends (delivered, or given up and bounced) before the end.
        s_.duration_ms = fault_phase_ms + (give_up_ + 2 * max_ + 600) * 1000;
        s_.description = "swarm scenario for seed " + std::to_string(seed_) + ": " + std::to_string(n_domains) +
                         " domains, " + std::to_string(n_scripted) + " scripted peers, " +
                         std::to_string(n_messages) + " messages, " + std::to_string(s_.faults.size()) +
                         " fault events";
        return std::move(s_);
    }

private:
    // The default link and the retry schedule every Pigeon host shares.
    void draw_network() {
        s_.name = "swarm-" + std::to_string(seed_);
        s_.path = "swarm seed " + std::to_string(seed_);
        s_.seed = seed_;
        s_.default_link.latency_ms = r_.between(5, 100);
        s_.default_link.jitter_ms = r_.between(0, 20);
        s_.default_link.loss = r_.chance(0.3) ? r_.unit() * 0.1 : 0.0;
        first_ = r_.between(30, 120);
        max_ = r_.between(300, 900);
        give_up_ = r_.between(300, 5400);
    }

    // Domain k: one or two users, its primary MX and sometimes a backup MX, SPF for the primary.
    void add_domain(std::int64_t k) {
        SwarmDomain d;
        d.name = "d" + std::to_string(k) + ".test";
        const std::int64_t n_users = r_.between(1, 2);
        for (std::int64_t u = 1; u <= n_users; ++u) d.users.push_back("u" + std::to_string(u) + "@" + d.name);
        const bool backup = r_.chance(0.3);
        for (int b = 0; b < (backup ? 2 : 1); ++b) {
            HostSpec h;
            h.name = "h" + std::to_string(k) + (b ? "b" : "");
            h.hostname = (b ? "mx2." : "mx.") + d.name;
            const std::string address = "192.0.2." + std::to_string(b ? 100 + k : k);
            h.addresses = {address};
            h.local_domains = {d.name};
            for (const auto& u : d.users) h.users.push_back(UserSpec{u, "pw", {}});
            h.first_retry_seconds = first_;
            h.max_retry_interval_seconds = max_;
            h.give_up_after_seconds = give_up_;
            h.delay_warning_after_seconds = 0;
            zone_ += d.name + ". MX " + (b ? "20 " : "10 ") + h.hostname + ".\n";
            zone_ += h.hostname + ". A " + address + "\n";
            if (!b) zone_ += d.name + ". TXT \"v=spf1 ip4:" + address + " -all\"\n";
            d.hosts.push_back(h.name);
            pigeons_.push_back(h.name);
            servers_.push_back(h.name);
            s_.hosts.push_back(std::move(h));
        }
        domains_.push_back(std::move(d));
    }

    // Scripted peer j: greylisting, refusing every recipient, or dropping before its reply.
    void add_scripted_peer(std::int64_t j) {
        HostSpec h;
        h.kind = HostSpec::Kind::scripted;
        h.name = "s" + std::to_string(j);
        const std::string domain = "s" + std::to_string(j) + ".test";
        h.hostname = "mx." + domain;
        h.addresses = {"192.0.2." + std::to_string(200 + j)};
        switch (r_.below(3)) {
            case 0:  // greylisting
                h.rules.push_back(ScriptRule{"RCPT", "450 4.7.1 Greylisted, try again later\r\n",
                                             static_cast<std::uint32_t>(r_.between(1, 3))});
                break;
            case 1:  // refuses every recipient
                h.rules.push_back(ScriptRule{"RCPT", "550 5.1.1 No such user here\r\n", 0});
                break;
            default:  // takes the message and drops the connection before its reply
                h.end_of_data = "";
                break;
        }
        zone_ += domain + ". MX 10 " + h.hostname + ".\n" + h.hostname + ". A " + h.addresses[0] + "\n";
        scripted_domains_.push_back(domain);
        servers_.push_back(h.name);
        s_.hosts.push_back(std::move(h));
    }

    void add_outside_client() {
        HostSpec ext;
        ext.kind = HostSpec::Kind::client;
        ext.name = "ext";
        ext.hostname = "ext.example";
        s_.hosts.push_back(std::move(ext));
    }

    // Message m: mostly submitted by a user, sometimes a null-sender message from outside.
    void add_message(std::int64_t m) {
        ActionSpec a;
        a.kind = "submit";
        a.at_ms = r_.between(1000, fault_phase_ms - 1000);
        a.subject = "swarm seed " + std::to_string(seed_) + " message " + std::to_string(m);
        const SwarmDomain& from = domains_[r_.below(domains_.size())];
        std::set<std::string> to;
        // (Submission refuses MAIL FROM:<> from a logged-in user - 553 5.7.1 - so null-sender
        // messages come from outside, on port 25, to local users.)
        if (r_.chance(0.15)) {
            a.inbound = true;
            a.port = 25;
            a.client = "ext";
            a.server = from.hosts.front();
            a.from = "";
            a.header_from = "mailer-daemon@ext.example";
            const auto n = r_.between(1, 2);
            for (std::int64_t i = 0; i < n; ++i) to.insert(pick(r_, from.users));
        } else {
            a.server = from.hosts.front();
            a.user = pick(r_, from.users);
            a.password = "pw";
            a.from = a.user;
            a.header_from = a.user;
            const auto n = r_.between(1, 3);
            for (std::int64_t i = 0; i < n; ++i) to.insert(draw_recipient());
        }
        a.to.assign(to.begin(), to.end());
        std::string body;
        const auto lines = r_.between(1, 5);
        for (std::int64_t i = 0; i < lines; ++i)
            body += std::string(r_.chance(0.2) ? "." : "") + "line " + std::to_string(i) + " of message " +
                    std::to_string(m) + "\n";
        a.body = body;
        s_.actions.push_back(std::move(a));
    }

    // A submitted message's recipient: a user somewhere, a scripted peer's, the null MX domain's,
    // an unknown user, or a domain that does not exist.
    std::string draw_recipient() {
        const double p = r_.unit();
        if (p < 0.6 || (p < 0.75 && scripted_domains_.empty()) || (p >= 0.75 && p < 0.85 && !null_mx_)) {
            const SwarmDomain& d = domains_[r_.below(domains_.size())];
            return pick(r_, d.users);
        }
        if (p < 0.75) return "x" + std::to_string(r_.between(1, 3)) + "@" + pick(r_, scripted_domains_);
        if (p < 0.85) return "x@n.test";
        if (p < 0.95) return "nobody@" + domains_[r_.below(domains_.size())].name;
        return "x@nowhere.test";
    }

    template <class Fill>
    void add(std::int64_t at, std::string kind, Fill&& fill) {
        FaultSpec f;
        f.at_ms = std::min(at, fault_phase_ms);
        f.kind = std::move(kind);
        fill(f);
        faults_.push_back(std::move(f));
    }

    // One fault and, for those that last, the event that undoes it no later than the end of the
    // fault phase.
    void add_fault() {
        const std::int64_t at = r_.between(0, fault_phase_ms),
                           until = at + (r_.chance(0.8) ? r_.between(5'000, 240'000) : r_.between(240'000, 600'000));
        switch (r_.below(9)) {
            case 7:
            case 8: crash_during_traffic(); break;
            case 0: {
                const std::string h = pick(r_, pigeons_);
                add(at, "crash", [&](FaultSpec& f) { f.host = h; });
                add(until, "restart", [&](FaultSpec& f) { f.host = h; });
                break;
            }
            case 1:
            case 2:
            case 4: link_fault(at, until); break;
            case 3: {
                const std::string h = pick(r_, pigeons_);
                add(at, "refuse", [&](FaultSpec& f) { f.host = h; });
                add(until, "accept", [&](FaultSpec& f) { f.host = h; });
                break;
            }
            case 5: {
                const std::string name = domains_[r_.below(domains_.size())].name;
                const std::string rcode = r_.chance(0.5) ? "servfail" : "timeout";
                add(at, "dns_fail", [&](FaultSpec& f) { f.name = name, f.rcode = rcode; });
                add(until, "dns_restore", [&](FaultSpec& f) { f.name = name; });
                break;
            }
            default: {
                const std::string name = domains_[r_.below(domains_.size())].name;
                add(at, "dns_bogus", [&](FaultSpec& f) { f.name = name; });
                add(until, "dns_insecure", [&](FaultSpec& f) { f.name = name; });
                break;
            }
        }
    }

    // A crash in the middle of some traffic: the sender's MSA or one recipient's MX, a moment
    // after a message is submitted (submission, relay, end of data).
    void crash_during_traffic() {
        if (s_.actions.empty()) return;
        const ActionSpec& a = s_.actions[r_.below(s_.actions.size())];
        std::string h = a.server;
        if (r_.chance(0.5)) {
            const std::string& rcpt = a.to[r_.below(a.to.size())];
            const std::string domain = rcpt.substr(rcpt.find('@') + 1);
            for (const auto& d : domains_)
                if (d.name == domain) h = pick(r_, d.hosts);
        }
        const std::int64_t when = a.at_ms + r_.between(0, 3000);
        add(when, "crash", [&](FaultSpec& f) { f.host = h; });
        add(when + r_.between(1000, 120'000), "restart", [&](FaultSpec& f) { f.host = h; });
    }

    // Between two servers: a partition, a reset, or a bad link for a while.
    void link_fault(std::int64_t at, std::int64_t until) {
        std::string a = pick(r_, servers_), b = pick(r_, servers_);
        if (a == b) return;
        const auto kind = r_.below(3);
        if (kind == 0) {
            add(at, "partition", [&](FaultSpec& f) { f.a = a, f.b = b; });
            add(until, "heal", [&](FaultSpec& f) { f.a = a, f.b = b; });
        } else if (kind == 1) {
            add(at, "reset", [&](FaultSpec& f) { f.a = a, f.b = b; });
        } else {
            LinkSpec bad = s_.default_link;
            bad.a = a, bad.b = b;
            bad.latency_ms = r_.between(50, 2000);
            bad.loss = r_.unit() * 0.5;
            LinkSpec good = s_.default_link;
            good.a = a, good.b = b;
            add(at, "link", [&](FaultSpec& f) { f.a = a, f.b = b, f.link = bad; });
            add(until, "link", [&](FaultSpec& f) { f.a = a, f.b = b, f.link = good; });
        }
    }

    std::uint64_t seed_;
    Rng r_;
    Scenario s_;
    std::string zone_ = "$ORIGIN test.\n";
    std::int64_t first_ = 0, max_ = 0, give_up_ = 0;
    std::vector<SwarmDomain> domains_;
    std::vector<std::string> pigeons_, servers_;  // host names
    std::vector<std::string> scripted_domains_;
    bool null_mx_ = false;
    std::vector<FaultSpec> faults_;
};

}  // namespace

Scenario generate_swarm_scenario(std::uint64_t seed) { return SwarmDraw(seed).draw(); }

std::string check_invariants(const Scenario& scenario, const RunResult& result) {
    (void)scenario;
    std::vector<std::string> problems;
    for (const auto& f : result.failures) problems.push_back("run: " + f);
    const Observations& o = result.observed;
    std::size_t most_recipients = 1, extra = 0;
    for (const auto& sub : o.submissions) {
        if (!sub.accepted_message) continue;
        most_recipients = std::max(most_recipients, sub.accepted.size());
        const std::string subject = "Subject: " + sub.subject + "\r\n";
        for (const auto& rcpt : sub.accepted) {
            const std::string who = lower(rcpt);
            std::size_t copies = 0, dsns = 0;
            for (const auto& m : o.mail) {
                if (m.content.find(subject) == std::string::npos) continue;
                if (!is_dsn(m.content) && m.mailbox == who) ++copies;
                if (is_dsn(m.content) && m.mailbox == lower(sub.from) &&
                    m.content.find("Final-Recipient: rfc822; " + rcpt + "\r\n") != std::string::npos)
                    ++dsns;
            }
            for (const auto& m : o.sunk)
                if (m.content.find(subject) != std::string::npos &&
                    std::find(m.recipients.begin(), m.recipients.end(), who) != m.recipients.end())
                    ++copies;
            const std::string what = sub.client + " (\"" + sub.subject + "\" from <" + sub.from + ">) to <" + rcpt + ">";
            if (sub.null_sender && dsns > 0)
                problems.push_back(what + ": a DSN for a null-sender message");
            else if (!sub.null_sender && copies + dsns == 0)
                problems.push_back(what + ": accepted, but neither delivered nor bounced");
            if (copies + dsns > 1) extra += copies + dsns - 1;
        }
    }
    // Each transaction whose end-of-data reply was lost (or whose sender crashed waiting for
    // it) may leave one copy per recipient behind; a scripted peer that drops the connection
    // at the end of data keeps nothing and is not counted (Observations::lost_replies).
    const std::uint64_t allowed = o.lost_replies * most_recipients;
    if (extra > allowed)
        problems.push_back(std::to_string(extra) + " duplicate copies, but only " +
                           std::to_string(o.lost_replies) +
                           " transaction(s) lost the reply to the end of data (at most " +
                           std::to_string(allowed) + " allowed)");
    for (const auto& m : o.mail)
        if (count_of(m.content, "report-type=delivery-status") > 1)
            problems.push_back(m.host + ": " + m.mailbox + " holds a DSN about a DSN");
    for (const auto& d : o.dsn_of_dsn) problems.push_back("a bounce of a bounce: " + d);
    for (std::size_t i = 0; i < o.bad_replies.size() && i < 3; ++i)
        problems.push_back("reply does not parse (RFC 5321 4.2): " + o.bad_replies[i]);
    for (const auto& [host, n] : o.queued)
        if (n != 0) problems.push_back(host + ": " + std::to_string(n) + " message(s) left in the spool");
    std::string out;
    for (const auto& p : problems) out += p + "\n";
    return out;
}

namespace {

// Failed assertions of the current seed: printed at once with the replay command, the first
// three kept for the seed's verdict.
struct SeedAssertions {
    std::ostream* err = nullptr;
    std::uint64_t seed = 0;
    std::vector<std::string> failures;

    void operator()(const core::AssertionFailure& failure) {
        const std::string line = core::describe(failure);
        *err << "pigeon sim swarm: assertion failed in seed " << seed << ": " << line
             << "\n  replay: pigeon sim swarm --seeds 1 --start " << seed << "\n";
        err->flush();
        if (failures.size() < 3) failures.push_back(line);
    }
};

}  // namespace

int swarm_command(const SwarmArgs& args, std::ostream& out, std::ostream& err) {
    const double t0 = args.stopwatch ? args.stopwatch() : 0.0;
    std::uint64_t failed = 0, accepted = 0, maybe_duplicates = 0, crashes = 0, faults = 0;
    bool assertion_failed = false;
    SeedAssertions seed_assertions{&err, 0, {}};
    const core::ScopedAssertionHandler assertions(std::ref(seed_assertions));
    core::enable_costly_assertions();
    for (std::uint64_t i = 0; i < args.seeds; ++i) {
        const std::uint64_t seed = args.start + i;
        seed_assertions.seed = seed;
        seed_assertions.failures.clear();
        if (args.before_seed) args.before_seed(seed);
        const Scenario s = generate_swarm_scenario(seed);
        RunOptions options;
        options.explain = args.explain;
        const RunResult r = run_scenario(s, options);
        if (args.explain) out << "# " << s.description << "\n" << r.explain << "\n";
        if (!args.trace_file.empty()) {
            if (!write_trace(r, args.trace_file, out, err)) return 2;
        }
        std::uint64_t n_accepted = 0;
        for (const auto& sub : r.observed.submissions) n_accepted += sub.accepted_message ? 1 : 0;
        accepted += n_accepted;
        maybe_duplicates += r.observed.lost_replies;
        crashes += r.observed.crashes;
        faults += s.faults.size();
        std::string problems = check_invariants(s, r);
        for (const auto& f : seed_assertions.failures) problems += "assertion failed: " + f + "\n";
        if (!seed_assertions.failures.empty()) assertion_failed = true;
        if (!problems.empty() || args.verbose) {
            out << (problems.empty() ? "ok    seed " : "FAIL  seed ") << seed << ": " << s.description << "; "
                << n_accepted << " accepted, " << r.observed.crashes << " crash(es), "
                << r.observed.lost_replies << " lost end-of-data repl(ies); digest " << r.digest << "\n";
        }
        if (!problems.empty()) {
            ++failed;
            std::size_t start = 0;
            while (start < problems.size()) {
                const auto end = problems.find('\n', start);
                out << "      " << problems.substr(start, end - start) << "\n";
                start = end + 1;
            }
            out << "      replay:     pigeon sim swarm --seeds 1 --start " << seed << "\n"
                << "      transcript: pigeon sim swarm --seeds 1 --start " << seed << " --explain\n";
        }
    }
    const double seconds = args.stopwatch ? args.stopwatch() - t0 : 0.0;
    const double per_second = seconds > 0 ? static_cast<double>(args.seeds) / seconds : 0.0;
    char rate[160];
    std::snprintf(rate, sizeof rate, "%.2f s: %.1f seeds/minute, %.2f scenarios/second", seconds,
                  per_second * 60.0, per_second);
    out << "swarm: " << args.seeds << " seed(s) from " << args.start << ", " << failed << " failed; " << accepted
        << " messages accepted, " << faults << " fault events, " << crashes << " crashes, " << maybe_duplicates
        << " lost end-of-data replies; " << rate << "\n";
    if (assertion_failed) return swarm_assertion_failed;
    return failed == 0 ? 0 : 1;
}

}  // namespace pigeon::sim
