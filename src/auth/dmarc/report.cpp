#include "auth/dmarc/report.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <utility>

namespace pigeon::dmarc {

namespace {

constexpr std::string_view line_tag = "dmarc1";
// The tag, 17 fields, the DKIM count; then three fields per DKIM signature.
constexpr std::size_t fixed_fields = 19;
// A bound so a corrupt count cannot make us reserve a huge vector.
constexpr std::size_t max_dkim = 1000;

const char hex_digits[] = "0123456789ABCDEF";

void append_escaped(std::string& out, std::string_view field) {
    for (unsigned char c : field) {
        switch (c) {
            case '\\': out += "\\\\"; break;
            case '\t': out += "\\t"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    out += "\\x";
                    out += hex_digits[c >> 4];
                    out += hex_digits[c & 0xf];
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

std::optional<std::string> unescape(std::string_view field) {
    std::string out;
    out.reserve(field.size());
    for (std::size_t i = 0; i < field.size(); ++i) {
        char c = field[i];
        // The encoder never writes a raw control byte: one here means the line is damaged.
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
        if (c != '\\') {
            out += c;
            continue;
        }
        if (++i == field.size()) return std::nullopt;
        switch (field[i]) {
            case '\\': out += '\\'; break;
            case 't': out += '\t'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 'x': {
                if (field.size() - i < 3) return std::nullopt;  // "x" and two digits
                int hi = hex_value(field[i + 1]), lo = hex_value(field[i + 2]);
                if (hi < 0 || lo < 0) return std::nullopt;
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                break;
            }
            default: return std::nullopt;
        }
    }
    return out;
}

template <class T>
std::optional<T> parse_number(std::string_view text) {
    T value{};
    if (text.empty()) return std::nullopt;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

std::string normalise_domain(std::string_view domain) {
    if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
    std::string out(domain);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// The length of the valid UTF-8 sequence at text[i], or 0 (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
std::size_t utf8_length(std::string_view text, std::size_t i) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    unsigned char c = byte(i);
    std::size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c == 0xe0) { n = 3; lo = 0xa0; }
    else if (c == 0xed) { n = 3; hi = 0x9f; }
    else if (c >= 0xe1 && c <= 0xef) n = 3;
    else if (c == 0xf0) { n = 4; lo = 0x90; }
    else if (c >= 0xf1 && c <= 0xf3) n = 4;
    else if (c == 0xf4) { n = 4; hi = 0x8f; }
    else return 0;
    if (i + n > text.size()) return 0;
    if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k) {
        if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
    }
    return n;
}

// Everything that makes two records the same <record> row.
using RowKey = std::vector<std::string>;

RowKey row_key(const EvaluationRecord& r) {
    RowKey key = {r.source_ip,   r.disposition,   r.dkim_aligned_result, r.spf_aligned_result,
                  r.reason_type, r.header_from,   r.envelope_from,       r.spf_domain,
                  r.spf_scope,   r.spf_result};
    for (const auto& d : r.dkim) {
        key.push_back(d.domain);
        key.push_back(d.selector);
        key.push_back(d.result);
    }
    return key;
}

void element(std::string& out, int indent, std::string_view name, std::string_view text) {
    out.append(static_cast<std::size_t>(indent) * 2, ' ');
    out += '<';
    out += name;
    out += '>';
    out += xml_escape(text);
    out += "</";
    out += name;
    out += ">\n";
}

void open(std::string& out, int indent, std::string_view name) {
    out.append(static_cast<std::size_t>(indent) * 2, ' ');
    out += '<';
    out += name;
    out += ">\n";
}

void close(std::string& out, int indent, std::string_view name) {
    out.append(static_cast<std::size_t>(indent) * 2, ' ');
    out += "</";
    out += name;
    out += ">\n";
}

}  // namespace

std::string encode_record_line(const EvaluationRecord& r) {
    std::string out(line_tag);
    auto field = [&](std::string_view value) {
        out += '\t';
        append_escaped(out, value);
    };
    field(std::to_string(r.time));
    field(r.source_ip);
    field(r.header_from);
    field(r.envelope_from);
    field(r.policy_domain);
    field(r.p);
    field(r.sp);
    field(r.adkim);
    field(r.aspf);
    field(std::to_string(r.pct));
    field(r.disposition);
    field(r.dkim_aligned_result);
    field(r.spf_aligned_result);
    field(r.reason_type);
    field(r.spf_domain);
    field(r.spf_scope);
    field(r.spf_result);
    field(std::to_string(r.dkim.size()));
    for (const auto& d : r.dkim) {
        field(d.domain);
        field(d.selector);
        field(d.result);
    }
    return out;
}

core::Result<EvaluationRecord> decode_record_line(std::string_view line) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    std::vector<std::string_view> raw;
    for (std::size_t start = 0;;) {
        std::size_t tab = line.find('\t', start);
        raw.push_back(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
        if (tab == std::string_view::npos) break;
        start = tab + 1;
    }
    if (raw[0] != line_tag) return core::ParseError{"not a dmarc1 record line"};
    if (raw.size() < fixed_fields) {
        return core::ParseError{"too few fields: " + std::to_string(raw.size())};
    }
    std::vector<std::string> f;
    f.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
        auto value = unescape(raw[i]);
        if (!value) return core::ParseError{"bad escape in field " + std::to_string(i)};
        f.push_back(std::move(*value));
    }
    EvaluationRecord r;
    auto time = parse_number<std::int64_t>(f[1]);
    if (!time) return core::ParseError{"bad time: " + f[1]};
    r.time = *time;
    r.source_ip = f[2];
    r.header_from = f[3];
    r.envelope_from = f[4];
    r.policy_domain = f[5];
    r.p = f[6];
    r.sp = f[7];
    r.adkim = f[8];
    r.aspf = f[9];
    auto pct = parse_number<unsigned>(f[10]);
    if (!pct || *pct > max_pct) return core::ParseError{"bad pct: " + f[10]};
    r.pct = *pct;
    r.disposition = f[11];
    r.dkim_aligned_result = f[12];
    r.spf_aligned_result = f[13];
    r.reason_type = f[14];
    r.spf_domain = f[15];
    r.spf_scope = f[16];
    r.spf_result = f[17];
    auto count = parse_number<std::size_t>(f[18]);
    if (!count || *count > max_dkim || raw.size() != fixed_fields + 3 * *count) {
        return core::ParseError{"DKIM count " + f[18] + " does not match " +
                                std::to_string(raw.size()) + " fields"};
    }
    r.dkim.reserve(*count);
    for (std::size_t k = 0; k < *count; ++k) {
        std::size_t at = fixed_fields + 3 * k;
        r.dkim.push_back({f[at], f[at + 1], f[at + 2]});
    }
    return r;
}

EvaluationRecord record_from(const DmarcResult& result, const SpfInput& spf,
                             const std::vector<DkimInput>& dkim, std::string source_ip,
                             std::string envelope_from, std::int64_t time) {
    EvaluationRecord r;
    r.time = time;
    r.source_ip = std::move(source_ip);
    r.header_from = result.from_domain;
    r.envelope_from = std::move(envelope_from);
    r.policy_domain = result.policy_domain;
    if (result.record) {
        const Record& rec = *result.record;
        r.p = policy_name(rec.p);
        r.sp = policy_name(rec.sp.value_or(rec.p));
        // The report's AlignmentType is "r"/"s", not the long names align_mode_name gives.
        r.adkim = rec.adkim == AlignMode::strict ? "s" : "r";
        r.aspf = rec.aspf == AlignMode::strict ? "s" : "r";
        r.pct = std::min(rec.pct, max_pct);
    }
    r.disposition = disposition_name(result.disposition);
    r.dkim_aligned_result = result.dkim_aligned ? "pass" : "fail";
    r.spf_aligned_result = result.spf_aligned ? "pass" : "fail";
    if (result.reason == DispositionReason::sampled_out) r.reason_type = "sampled_out";
    for (const auto& d : dkim) r.dkim.push_back({d.domain, d.selector, dkim_result_name(d.result)});
    r.spf_domain = spf.domain;
    r.spf_scope = spf.helo ? "helo" : "mfrom";
    r.spf_result = spf::verdict_name(spf.verdict);
    return r;
}

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            std::size_t n = utf8_length(text, i);
            if (n == 0) {
                out += '?';
                ++i;
            } else {
                out.append(text.substr(i, n));
                i += n;
            }
            continue;
        }
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default:
                // XML 1.0 allows TAB, LF and CR only among the C0 controls; none belongs in a
                // report value, so all become '?'.
                out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
        }
        ++i;
    }
    return out;
}

std::vector<EvaluationRecord> records_for(const std::vector<EvaluationRecord>& records,
                                          std::string_view domain, std::int64_t begin,
                                          std::int64_t end) {
    std::string wanted = normalise_domain(domain);
    std::vector<EvaluationRecord> kept;
    for (const auto& r : records) {
        if (r.time < begin || r.time >= end) continue;
        const std::string& owner = r.policy_domain.empty() ? r.header_from : r.policy_domain;
        if (owner.empty() || normalise_domain(owner) != wanted) continue;
        kept.push_back(r);
    }
    return kept;
}

std::string aggregate_report_xml(const std::vector<EvaluationRecord>& records,
                                 std::string_view domain, const ReportMetadata& meta) {
    std::vector<EvaluationRecord> kept = records_for(records, domain, meta.begin, meta.end);

    // The policy as last seen: a report covers one published policy, and the latest one is
    // what the domain owner has now.
    const EvaluationRecord* policy = nullptr;
    for (const auto& r : kept) {
        if (!r.p.empty() && (policy == nullptr || r.time >= policy->time)) policy = &r;
    }

    std::map<RowKey, std::pair<std::size_t, const EvaluationRecord*>> rows;
    for (const auto& r : kept) {
        auto [it, inserted] = rows.try_emplace(row_key(r), 0, &r);
        ++it->second.first;
    }

    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    open(out, 0, "feedback");
    element(out, 1, "version", "1.0");
    open(out, 1, "report_metadata");
    element(out, 2, "org_name", meta.org_name);
    element(out, 2, "email", meta.email);
    element(out, 2, "report_id", meta.report_id);
    open(out, 2, "date_range");
    element(out, 3, "begin", std::to_string(meta.begin));
    element(out, 3, "end", std::to_string(meta.end));
    close(out, 2, "date_range");
    close(out, 1, "report_metadata");
    open(out, 1, "policy_published");
    element(out, 2, "domain", normalise_domain(domain));
    if (policy != nullptr) {
        element(out, 2, "adkim", policy->adkim);
        element(out, 2, "aspf", policy->aspf);
        element(out, 2, "p", policy->p);
        element(out, 2, "sp", policy->sp.empty() ? policy->p : policy->sp);
        element(out, 2, "pct", std::to_string(policy->pct));
    } else {
        // No policy record was seen in the range (every evaluation was "none"): RFC 7489's
        // schema still requires p, sp and pct, and "none" is what was applied.
        element(out, 2, "p", "none");
        element(out, 2, "sp", "none");
        element(out, 2, "pct", "100");
    }
    close(out, 1, "policy_published");
    for (const auto& [key, value] : rows) {
        const auto& [count, r] = value;
        open(out, 1, "record");
        open(out, 2, "row");
        element(out, 3, "source_ip", r->source_ip);
        element(out, 3, "count", std::to_string(count));
        open(out, 3, "policy_evaluated");
        element(out, 4, "disposition", r->disposition);
        element(out, 4, "dkim", r->dkim_aligned_result);
        element(out, 4, "spf", r->spf_aligned_result);
        if (!r->reason_type.empty()) {
            open(out, 4, "reason");
            element(out, 5, "type", r->reason_type);
            close(out, 4, "reason");
        }
        close(out, 3, "policy_evaluated");
        close(out, 2, "row");
        open(out, 2, "identifiers");
        element(out, 3, "header_from", r->header_from);
        element(out, 3, "envelope_from", r->envelope_from);
        close(out, 2, "identifiers");
        open(out, 2, "auth_results");
        for (const auto& d : r->dkim) {
            open(out, 3, "dkim");
            element(out, 4, "domain", d.domain);
            element(out, 4, "selector", d.selector);
            element(out, 4, "result", d.result);
            close(out, 3, "dkim");
        }
        open(out, 3, "spf");
        element(out, 4, "domain", r->spf_domain);
        element(out, 4, "scope", r->spf_scope);
        element(out, 4, "result", r->spf_result);
        close(out, 3, "spf");
        close(out, 2, "auth_results");
        close(out, 1, "record");
    }
    close(out, 0, "feedback");
    return out;
}

}  // namespace pigeon::dmarc
