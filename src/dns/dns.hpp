// pigeon/dns/dns.hpp: DNS questions and answers as values, and the one Resolver interface that
// SPF, DKIM, DMARC and MX routing use.
//
// Contract:
//   - Names are compared and stored in lower case, without the trailing dot.
//   - An Answer always says how the lookup ended (Rcode, including timeout, which is ours, not
//     the wire's) and how trustworthy it is (Security, from DNSSEC validation).
//   - Resolver::resolve() never blocks. It calls `done` exactly once, either before it returns
//     (ZoneResolver) or later from a resolver thread (UnboundResolver): callers that care about
//     threads post the answer back themselves. CNAME chains are followed by the resolver; the
//     records returned are those of the requested type at the end of the chain, and
//     `canonical_name` is where the chain ended.
//   - AnswerCache is how sans-I/O evaluators (SPF's check_host) consume DNS: a pure
//     evaluation asks for a Question the cache lacks; the driver resolves it, stores the
//     Answer, and runs the evaluation again (see auth/spf).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pigeon::dns {

enum class RrType : std::uint16_t {
    a = 1, ns = 2, cname = 5, soa = 6, ptr = 12, mx = 15, txt = 16, aaaa = 28, spf = 99, tlsa = 52,
};
const char* type_name(RrType type);                      // "A", "MX", ...
std::optional<RrType> type_from_name(std::string_view);  // case-insensitive

enum class Rcode { noerror, nxdomain, servfail, refused, timeout };
const char* rcode_name(Rcode rcode);

// RFC 4035 / RFC 4033 4.3 terms, as libunbound reports them.
enum class Security { indeterminate, insecure, secure, bogus };
const char* security_name(Security security);

struct Question {
    std::string name;  // lower case, no trailing dot
    RrType type = RrType::a;
    friend auto operator<=>(const Question&, const Question&) = default;
};
Question make_question(std::string_view name, RrType type);  // normalises the name

struct Ipv4 { std::array<std::uint8_t, 4> octets{}; friend bool operator==(const Ipv4&, const Ipv4&) = default; };
struct Ipv6 { std::array<std::uint8_t, 16> octets{}; friend bool operator==(const Ipv6&, const Ipv6&) = default; };
struct Mx { std::uint16_t preference = 0; std::string exchange; friend bool operator==(const Mx&, const Mx&) = default; };
struct Txt { std::vector<std::string> strings; friend bool operator==(const Txt&, const Txt&) = default; };  // character-strings
struct Name { std::string name; friend bool operator==(const Name&, const Name&) = default; };  // CNAME, PTR, NS
struct Tlsa {
    std::uint8_t usage = 0, selector = 0, matching = 0;
    std::string data;  // binary
    friend bool operator==(const Tlsa&, const Tlsa&) = default;
};
using RData = std::variant<Ipv4, Ipv6, Mx, Txt, Name, Tlsa>;

struct Record {
    std::string name;  // owner, lower case
    RrType type = RrType::a;
    std::uint32_t ttl = 0;
    RData data;
    friend bool operator==(const Record&, const Record&) = default;
};

struct Answer {
    Rcode rcode = Rcode::noerror;
    Security security = Security::indeterminate;
    std::vector<Record> records;  // of the question's type; empty with NOERROR = NODATA
    std::string canonical_name;   // where a CNAME chain ended (the question's name if none)
    std::string why_bogus;        // libunbound's reason, when bogus
    bool ok() const noexcept { return rcode == Rcode::noerror || rcode == Rcode::nxdomain; }
};

// Text forms: "192.0.2.1", "2001:db8::1"; parse_* return nullopt on anything else.
std::string to_string(const Ipv4& a);
std::string to_string(const Ipv6& a);
std::optional<Ipv4> parse_ipv4(std::string_view text);
std::optional<Ipv6> parse_ipv6(std::string_view text);

class Resolver {
public:
    virtual ~Resolver() = default;
    virtual void resolve(const Question& question, std::function<void(Answer)> done) = 0;
};

// The answers one evaluation has seen; see the contract above.
class AnswerCache {
public:
    const Answer* find(const Question& q) const {
        auto it = answers_.find(q);
        return it == answers_.end() ? nullptr : &it->second;
    }
    void put(Question q, Answer a) { answers_[std::move(q)] = std::move(a); }
    std::size_t size() const { return answers_.size(); }

private:
    std::map<Question, Answer> answers_;
};

}  // namespace pigeon::dns
