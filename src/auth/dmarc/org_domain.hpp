// pigeon/auth/dmarc/org_domain.hpp: the Organizational Domain of RFC 7489 3.2 as an injected
// function, and a tiny in-memory public suffix list for tests.
//
// Contract:
//   - OrganizationalDomain maps a domain (any case, optional trailing dot) to its
//     Organizational Domain in lower case: the public suffix plus one label. When the domain is
//     itself a public suffix (or has no registrable part) the domain itself is returned (RFC
//     7489 3.2 step 3 takes the longest match; a bare suffix is its own organization). It never
//     throws and does no I/O after construction.
//   - The evaluator (dmarc.hpp) only sees this function; the libpsl-backed implementation is in
//     psl_org_domain.hpp (the adapter that reads Debian's list), SuffixList here is for tests.
#pragma once
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace pigeon::dmarc {

using OrganizationalDomain = std::function<std::string(std::string_view domain)>;

// Lower case (ASCII), one trailing dot removed: how DMARC compares domains.
std::string normalize_domain(std::string_view domain);

// The Public Suffix List algorithm (publicsuffix.org/list: wildcards "*.", exceptions "!",
// the implicit "*" rule) over rules given in memory, ASCII only.
class SuffixList {
public:
    explicit SuffixList(std::vector<std::string> rules);
    // The public suffix plus one label, or nullopt when the domain is a public suffix, empty,
    // or starts with a dot (the PSL test conventions).
    std::optional<std::string> registrable_domain(std::string_view domain) const;
    // registrable_domain(), else the normalised domain itself.
    std::string organizational_domain(std::string_view domain) const;
    OrganizationalDomain function() const;

private:
    std::set<std::string> rules_, wildcards_, exceptions_;
};

}  // namespace pigeon::dmarc
