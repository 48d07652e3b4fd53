// The libpsl adapter: see psl_org_domain.hpp.
#include "auth/dmarc/psl_org_domain.hpp"

#include <libpsl.h>

namespace pigeon::dmarc {

struct PslOrganizationalDomain::Context {
    psl_ctx_t* psl = nullptr;
    bool owned = false;
    ~Context() {
        if (owned) psl_free(psl);
    }
};

PslOrganizationalDomain::PslOrganizationalDomain(const std::string& path)
    : context_(std::make_shared<Context>()) {
    context_->psl = psl_load_file(path.c_str());
    if (context_->psl) {
        context_->owned = true;
        loaded_ = true;
    } else {
        context_->psl = const_cast<psl_ctx_t*>(psl_builtin());
    }
}

std::optional<std::string> PslOrganizationalDomain::registrable_domain(std::string_view domain) const {
    const std::string d = normalize_domain(domain);
    if (d.empty() || d.front() == '.' || !context_->psl) return std::nullopt;
    // libpsl wants lower-case UTF-8; normalize_domain lowered ASCII, and A-labels are ASCII.
    const char* r = psl_registrable_domain(context_->psl, d.c_str());
    if (!r) return std::nullopt;
    return std::string(r);
}

std::string PslOrganizationalDomain::organizational_domain(std::string_view domain) const {
    if (auto r = registrable_domain(domain)) return *r;
    return normalize_domain(domain);
}

OrganizationalDomain PslOrganizationalDomain::function() const {
    return [self = *this](std::string_view domain) { return self.organizational_domain(domain); };
}

}  // namespace pigeon::dmarc
