// SuffixList and domain normalisation: see org_domain.hpp.
#include "auth/dmarc/org_domain.hpp"

#include <cctype>

namespace pigeon::dmarc {

std::string normalize_domain(std::string_view domain) {
    if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
    std::string out(domain);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

SuffixList::SuffixList(std::vector<std::string> rules) {
    for (auto& rule : rules) {
        std::string r = normalize_domain(rule);
        if (r.rfind("*.", 0) == 0) wildcards_.insert(r.substr(2));
        else if (r.rfind("!", 0) == 0) exceptions_.insert(r.substr(1));
        else if (!r.empty()) rules_.insert(r);
    }
}

std::optional<std::string> SuffixList::registrable_domain(std::string_view domain) const {
    const std::string d = normalize_domain(domain);
    if (d.empty() || d.front() == '.') return std::nullopt;
    // Label start offsets, left to right; suffix(i) = d.substr(starts[i]).
    std::vector<std::size_t> starts{0};
    for (std::size_t i = 0; i < d.size(); ++i)
        if (d[i] == '.') starts.push_back(i + 1);
    // The longest matching rule decides the public suffix; the implicit "*" matches one label.
    std::size_t suffix_labels = 1;
    for (std::size_t i = 0; i < starts.size(); ++i) {
        const std::string s = d.substr(starts[i]);
        const std::size_t labels = starts.size() - i;
        if (exceptions_.count(s)) {  // an exception wins: its suffix is the rule minus one label
            suffix_labels = labels - 1;
            break;
        }
        if (rules_.count(s) && labels > suffix_labels) suffix_labels = labels;
        if (i > 0 && wildcards_.count(s) && labels + 1 > suffix_labels) suffix_labels = labels + 1;
    }
    if (starts.size() <= suffix_labels) return std::nullopt;
    return d.substr(starts[starts.size() - suffix_labels - 1]);
}

std::string SuffixList::organizational_domain(std::string_view domain) const {
    if (auto r = registrable_domain(domain)) return *r;
    return normalize_domain(domain);
}

OrganizationalDomain SuffixList::function() const {
    return [list = *this](std::string_view domain) { return list.organizational_domain(domain); };
}

}  // namespace pigeon::dmarc
