// pigeon/auth/dmarc/psl_org_domain.hpp: the Organizational Domain from libpsl over Debian's
// public suffix list (package publicsuffix).
//
// Contract: the constructor loads the list once (the only file access in auth/dmarc; this is
// the adapter, kept out of the pure evaluator). If loading fails, loaded() is false and
// libpsl's built-in list is used instead (psl_builtin(), which may be empty on some builds:
// then every domain is its own Organizational Domain). Lookups are thread-safe (libpsl's
// context is read-only after loading) and never throw. Input may be ASCII of any case, with
// an optional trailing dot; IDN labels in A-label (xn--) or UTF-8 form.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/dmarc/org_domain.hpp"

namespace pigeon::dmarc {

inline constexpr const char* debian_psl_dafsa = "/usr/share/publicsuffix/public_suffix_list.dafsa";

class PslOrganizationalDomain {
public:
    explicit PslOrganizationalDomain(const std::string& path = debian_psl_dafsa);
    bool loaded() const noexcept { return loaded_; }
    // The registrable domain (public suffix + 1 label), lower case; nullopt when the domain is
    // a public suffix itself, empty, or starts with a dot.
    std::optional<std::string> registrable_domain(std::string_view domain) const;
    // registrable_domain(), else the normalised domain itself (RFC 7489 3.2).
    std::string organizational_domain(std::string_view domain) const;
    // A function sharing this list (it keeps the list alive).
    OrganizationalDomain function() const;

private:
    struct Context;
    std::shared_ptr<Context> context_;
    bool loaded_ = false;
};

}  // namespace pigeon::dmarc
