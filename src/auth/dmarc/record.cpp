// The DMARC record parser: see record.hpp for the contract.
#include "auth/dmarc/record.hpp"

#include "core/ascii.hpp"

#include <cctype>
#include <set>

namespace pigeon::dmarc {

const char* policy_name(Policy policy) {
    switch (policy) {
        case Policy::none: return "none";
        case Policy::quarantine: return "quarantine";
        case Policy::reject: return "reject";
    }
    return "none";
}

const char* align_mode_name(AlignMode mode) { return mode == AlignMode::strict ? "strict" : "relaxed"; }

namespace {

using core::trim_wsp;

bool is_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

std::optional<Policy> parse_policy(std::string_view value) {
    const std::string v = core::ascii_lower(value);
    if (v == "none") return Policy::none;
    if (v == "quarantine") return Policy::quarantine;
    if (v == "reject") return Policy::reject;
    return std::nullopt;
}

std::optional<AlignMode> parse_align(std::string_view value) {
    const std::string v = core::ascii_lower(value);
    if (v == "r") return AlignMode::relaxed;
    if (v == "s") return AlignMode::strict;
    return std::nullopt;
}

// Digits without overflow: values beyond `limit` are rejected rather than wrapped.
std::optional<std::uint64_t> parse_number(std::string_view s, std::uint64_t limit) {
    if (!is_digits(s)) return std::nullopt;
    std::uint64_t n = 0;
    for (char c : s) {
        const unsigned d = static_cast<unsigned>(c - '0');
        if (n > (limit - d) / 10) return std::nullopt;
        n = n * 10 + d;
    }
    return n;
}

// URI (RFC 3986) kept loosely: scheme ":" followed by at least one visible character, no
// WSP, no "," or "!" (6.2: those must be encoded in DMARC URIs).
bool is_uri(std::string_view uri) {
    const auto colon = uri.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == uri.size()) return false;
    if (!std::isalpha(static_cast<unsigned char>(uri[0]))) return false;
    for (std::size_t i = 1; i < colon; ++i) {
        const char c = uri[i];
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return false;
    }
    for (char c : uri.substr(colon + 1)) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f || c == ',' || c == '!') return false;
    }
    return true;
}

// dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]
std::optional<ReportUri> parse_uri(std::string_view text) {
    text = trim_wsp(text);
    ReportUri out;
    std::string_view uri = text;
    if (const auto bang = text.find('!'); bang != std::string_view::npos) {
        uri = text.substr(0, bang);
        std::string_view size = text.substr(bang + 1);
        unsigned shift = 0;
        if (!size.empty()) {
            switch (std::tolower(static_cast<unsigned char>(size.back()))) {
                case 'k': shift = 10; break;
                case 'm': shift = 20; break;
                case 'g': shift = 30; break;
                case 't': shift = 40; break;
                default: break;
            }
            if (shift) size.remove_suffix(1);
        }
        const auto n = parse_number(size, max_report_bytes >> shift);
        if (!n || *n == 0) return std::nullopt;
        out.max_bytes = *n << shift;
    }
    if (!is_uri(uri)) return std::nullopt;
    out.uri = std::string(uri);
    out.mailto = core::ascii_lower(uri.substr(0, 7)) == "mailto:";
    return out;
}

// A comma-separated list of URIs; invalid ones are dropped with a warning (6.3: syntax errors
// are ignored), valid ones kept.
std::vector<ReportUri> parse_uris(std::string_view name, std::string_view value,
                                  std::vector<std::string>& warnings) {
    std::vector<ReportUri> out;
    std::size_t start = 0;
    while (start <= value.size()) {
        auto comma = value.find(',', start);
        if (comma == std::string_view::npos) comma = value.size();
        const auto item = value.substr(start, comma - start);
        if (auto uri = parse_uri(item))
            out.push_back(std::move(*uri));
        else
            warnings.push_back(std::string(name) + ": ignored invalid URI \"" + std::string(trim_wsp(item)) + "\"");
        start = comma + 1;
    }
    return out;
}

// Keyword (RFC 5321) = Let-dig [Ldh-str], used by rf=.
bool is_keyword(std::string_view s) {
    if (s.empty() || s.back() == '-' || s.front() == '-') return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    return true;
}

std::vector<std::string_view> split_colon(std::string_view value) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (true) {
        const auto colon = value.find(':', start);
        out.push_back(trim_wsp(value.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start)));
        if (colon == std::string_view::npos) break;
        start = colon + 1;
    }
    return out;
}

// The version tag's value is exact ("DMARC1", RFC 7489 6.4 gives it as %x values).
bool version_ok(std::string_view tag) {
    const auto eq = tag.find('=');
    if (eq == std::string_view::npos) return false;
    return core::ascii_lower(trim_wsp(tag.substr(0, eq))) == "v" && trim_wsp(tag.substr(eq + 1)) == "DMARC1";
}

}  // namespace

bool is_dmarc_record(std::string_view text) {
    return version_ok(text.substr(0, text.find(';')));
}

core::Result<Record> parse_record(std::string_view text) {
    // Split on ';'. The first piece must be the version.
    std::vector<std::string_view> tags;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto semi = text.find(';', start);
        if (semi == std::string_view::npos) semi = text.size();
        tags.push_back(text.substr(start, semi - start));
        start = semi + 1;
    }
    if (tags.empty() || !version_ok(tags.front()))
        return core::ParseError{"the record does not start with v=DMARC1"};

    Record r;
    std::set<std::string> seen;
    std::optional<std::string> p_problem, sp_problem;
    bool have_p = false;
    for (std::size_t i = 1; i < tags.size(); ++i) {
        const std::string_view tag = trim_wsp(tags[i]);
        if (tag.empty()) {
            // Only a trailing ";" (possibly followed by WSP) is an empty tag by the ABNF.
            if (i + 1 != tags.size()) r.warnings.push_back("ignored an empty tag");
            continue;
        }
        const auto eq = tag.find('=');
        if (eq == std::string_view::npos) {
            r.warnings.push_back("ignored \"" + std::string(tag) + "\": no '='");
            continue;
        }
        const std::string name = core::ascii_lower(trim_wsp(tag.substr(0, eq)));
        const std::string_view value = trim_wsp(tag.substr(eq + 1));
        if (!seen.insert(name).second) {
            r.warnings.push_back("ignored repeated tag " + name);
            continue;
        }
        if (name == "v") {
            r.warnings.push_back("ignored v= after the first tag");
        } else if (name == "p") {
            if (auto p = parse_policy(value)) {
                r.p = *p;
                have_p = true;
                // 6.3: "p" must follow "v" directly; a receiver that finds it later still has a
                // policy, so this is a warning rather than a rejected record.
                if (i != 1) r.warnings.push_back("p= is not the second tag");
            } else {
                p_problem = "invalid p=" + std::string(value);
            }
        } else if (name == "sp") {
            if (auto sp = parse_policy(value)) r.sp = *sp;
            else sp_problem = "invalid sp=" + std::string(value);
        } else if (name == "np") {
            if (auto np = parse_policy(value)) r.np = *np;
            else r.warnings.push_back("ignored invalid np=" + std::string(value));
        } else if (name == "adkim" || name == "aspf") {
            auto& field = name == "adkim" ? r.adkim : r.aspf;
            if (auto mode = parse_align(value)) field = *mode;
            else r.warnings.push_back("ignored invalid " + name + "=" + std::string(value));
        } else if (name == "pct") {
            if (auto n = parse_number(value, max_pct)) r.pct = static_cast<unsigned>(*n);
            else r.warnings.push_back("ignored invalid pct=" + std::string(value) + " (0-100)");
        } else if (name == "fo") {
            bool ok = true;
            std::string fo;
            for (auto opt : split_colon(value)) {
                const std::string o = core::ascii_lower(opt);
                if (o != "0" && o != "1" && o != "d" && o != "s") ok = false;
                fo += (fo.empty() ? "" : ":") + o;
            }
            if (ok) r.fo = fo;
            else r.warnings.push_back("ignored invalid fo=" + std::string(value));
        } else if (name == "rua") {
            r.rua = parse_uris(name, value, r.warnings);
        } else if (name == "ruf") {
            r.ruf = parse_uris(name, value, r.warnings);
        } else if (name == "ri") {
            if (auto n = parse_number(value, UINT32_MAX)) r.ri = static_cast<std::uint32_t>(*n);
            else r.warnings.push_back("ignored invalid ri=" + std::string(value));
        } else if (name == "rf") {
            std::vector<std::string> rf;
            bool ok = true;
            for (auto k : split_colon(value)) {
                if (!is_keyword(k)) ok = false;
                rf.push_back(core::ascii_lower(k));
            }
            if (ok) r.rf = std::move(rf);
            else r.warnings.push_back("ignored invalid rf=" + std::string(value));
        } else {
            // 6.3: unknown tags MUST be ignored.
        }
    }

    if (!have_p && !p_problem) p_problem = "no p= tag";
    if (p_problem || sp_problem) {
        const std::string why = p_problem ? *p_problem : *sp_problem;
        // 6.6.3 step 6: with a usable rua, act as if the record were "v=DMARC1; p=none".
        if (r.rua.empty()) return core::ParseError{why + " and no valid rua="};
        r.p = Policy::none;
        r.sp.reset();
        r.np.reset();
        r.p_fallback = true;
        r.warnings.push_back(why + ": acting as p=none because rua= is valid (RFC 7489 6.6.3)");
    }
    return r;
}

}  // namespace pigeon::dmarc
