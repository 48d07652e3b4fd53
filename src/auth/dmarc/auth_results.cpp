// Authentication-Results: see auth_results.hpp for the contract.
#include "auth/dmarc/auth_results.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "core/ascii.hpp"

namespace pigeon::dmarc {

namespace {

bool is_ctl(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
}

std::string without_controls(std::string_view s) {
    std::string out;
    for (char c : s)
        if (!is_ctl(c)) out += c;
    return out;
}

bool is_tspecial(char c) { return std::strchr("()<>@,;:\\\"/[]?=", c) != nullptr && c != '\0'; }

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f || is_tspecial(c)) return false;
    }
    return true;
}

std::string quoted(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

// RFC 5322 dot-atom text: atext runs separated by single dots.
bool is_dot_atom(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    char prev = 0;
    for (char c : s) {
        if (c == '.') {
            if (prev == '.') return false;
        } else if (!std::isalnum(static_cast<unsigned char>(c)) && !std::strchr("!#$%&'*+-/=?^_`{|}~", c)) {
            return false;
        }
        prev = c;
    }
    return true;
}

bool is_domain_name(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') return false;
    return s.find("..") == std::string_view::npos;
}

std::string comment(std::string_view s) {
    std::string out = "(";
    for (char c : without_controls(s)) {
        if (c == '(' || c == ')' || c == '\\') out += '\\';
        out += c;
    }
    return out + ")";
}

// A property value: token, [local-part] "@" domain-name, else quoted-string.
std::string pvalue(std::string_view raw) {
    const std::string v = without_controls(raw);
    if (is_token(v)) return v;
    if (const auto at = v.rfind('@'); at != std::string::npos && is_domain_name(std::string_view(v).substr(at + 1))) {
        const std::string_view local = std::string_view(v).substr(0, at);
        if (local.empty() || is_dot_atom(local)) return v;
        return quoted(local) + v.substr(at);
    }
    return quoted(v);
}

std::string render(const ResInfo& r) {
    std::string out = without_controls(r.method) + "=" + without_controls(r.result);
    if (!r.comment.empty()) out += " " + comment(r.comment);
    for (const auto& p : r.properties)
        out += " " + without_controls(p.ptype) + "." + without_controls(p.property) + "=" + pvalue(p.value);
    return out;
}

}  // namespace

std::string quote_value(std::string_view value) {
    const std::string v = without_controls(value);
    return is_token(v) ? v : quoted(v);
}

ResInfo spf_resinfo(const SpfInput& spf) {
    ResInfo r{"spf", spf::verdict_name(spf.verdict), "", {}};
    r.properties.push_back({"smtp", spf.helo ? "helo" : "mailfrom", spf.domain});
    return r;
}

ResInfo dkim_resinfo(const DkimInput& dkim) {
    ResInfo r{"dkim", dkim_result_name(dkim.result), "", {}};
    r.properties.push_back({"header", "d", dkim.domain});
    if (!dkim.selector.empty()) r.properties.push_back({"header", "s", dkim.selector});
    if (!dkim.header_b.empty()) r.properties.push_back({"header", "b", dkim.header_b});
    return r;
}

ResInfo dmarc_resinfo(const DmarcResult& dmarc) {
    ResInfo r{"dmarc", verdict_name(dmarc.verdict), "", {}};
    if (dmarc.record) {
        r.comment = std::string("p=") + policy_name(dmarc.record->p);
        if (dmarc.policy_source != PolicySource::p)
            r.comment += std::string(" ") + policy_source_name(dmarc.policy_source) + "=" + policy_name(dmarc.policy);
        // The disposition only when it is not what the policy says (pct sampling).
        if (dmarc.verdict == Verdict::fail && dmarc.reason == DispositionReason::sampled_out)
            r.comment += std::string(" dis=") + disposition_name(dmarc.disposition);
    } else if (!dmarc.problem.empty() && dmarc.verdict != Verdict::none) {
        r.comment = dmarc.problem;
    }
    if (!dmarc.from_domain.empty()) r.properties.push_back({"header", "from", dmarc.from_domain});
    return r;
}

std::string build_authentication_results(std::string_view authserv_id, const std::vector<ResInfo>& results) {
    static constexpr std::string_view name = "Authentication-Results: ";
    const std::string id = quote_value(authserv_id);
    std::vector<std::string> parts;
    for (const auto& r : results) parts.push_back(render(r));
    if (parts.empty()) parts.push_back("none");

    std::string one_line = std::string(name) + id;
    for (const auto& p : parts) one_line += "; " + p;
    if (one_line.size() <= fold_width) return one_line + "\r\n";

    // Each resinfo on its own line; an overlong one is broken between its words (outside
    // quoted strings and comments, which never contain a fold point here).
    std::string out = std::string(name) + id + ";";
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const std::string& p = parts[i];
        const bool last = i + 1 == parts.size();
        std::size_t pos = 0;
        int depth = 0;
        bool in_quote = false;
        std::size_t word_start = 0;
        // Split p at spaces outside quotes/comments into words.
        std::vector<std::string> words;
        for (; pos < p.size(); ++pos) {
            const char c = p[pos];
            if (in_quote) {
                if (c == '\\') ++pos;
                else if (c == '"') in_quote = false;
            } else if (depth > 0) {
                if (c == '\\') ++pos;
                else if (c == '(') ++depth;
                else if (c == ')') --depth;
            } else if (c == '"') {
                in_quote = true;
            } else if (c == '(') {
                depth = 1;
            } else if (c == ' ') {
                words.push_back(p.substr(word_start, pos - word_start));
                word_start = pos + 1;
            }
        }
        words.push_back(p.substr(word_start));
        out += "\r\n\t" + words.front();
        std::size_t width = 1 + words.front().size();
        for (std::size_t w = 1; w < words.size(); ++w) {
            if (width + 1 + words[w].size() + (last ? 0 : 1) > fold_width) {
                out += "\r\n\t\t" + words[w];
                width = 2 + words[w].size();
            } else {
                out += " " + words[w];
                width += 1 + words[w].size();
            }
        }
        if (!last) out += ";";
    }
    return out + "\r\n";
}

std::string authserv_id_of(std::string_view value) {
    std::size_t i = 0;
    // CFWS: whitespace, line breaks of a folded value, nested comments.
    while (i < value.size()) {
        const char c = value[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            ++i;
        } else if (c == '(') {
            int depth = 0;
            for (; i < value.size(); ++i) {
                if (value[i] == '\\') ++i;
                else if (value[i] == '(') ++depth;
                else if (value[i] == ')' && --depth == 0) break;
            }
            ++i;
        } else {
            break;
        }
    }
    if (i >= value.size()) return "";
    std::string id;
    if (value[i] == '"') {
        for (++i; i < value.size() && value[i] != '"'; ++i) {
            if (value[i] == '\\' && i + 1 < value.size()) ++i;
            if (value[i] != '\r' && value[i] != '\n') id += value[i];
        }
        return id;
    }
    for (; i < value.size(); ++i) {
        const char c = value[i];
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f || is_tspecial(c)) break;
        id += c;
    }
    return id;
}

// RFC 8601 5 asks for the removal always, so this scan does not give up on a header that
// does not parse (core::parse_header refuses it whole): it reads the header section line by
// line, a field being a line with a name and a colon plus its continuation lines. A line that
// is neither (no colon, a bad name character, a continuation of nothing) is skipped, and the
// fields around it are still found. White space between the name and the colon (RFC 5322
// 4.5.3's obsolete syntax, which some readers accept) still names the field.
core::Result<std::vector<FieldSpan>> find_our_results(std::string_view header, std::string_view authserv_id) {
    std::vector<FieldSpan> out;
    std::size_t pos = 0, index = 0;
    while (pos < header.size()) {
        std::size_t end = header.find("\r\n", pos);
        if (end == std::string_view::npos) end = header.size();
        const std::string_view line = header.substr(pos, end - pos);
        if (line.empty()) break;  // the blank line: the body follows
        std::size_t next = std::min(header.size(), end + 2);
        if (line.front() == ' ' || line.front() == '\t') {  // a continuation of nothing
            pos = next;
            continue;
        }
        // The field's continuation lines.
        std::size_t field_end = end;
        while (next < header.size() && (header[next] == ' ' || header[next] == '\t')) {
            field_end = header.find("\r\n", next);
            if (field_end == std::string_view::npos) field_end = header.size();
            next = std::min(header.size(), field_end + 2);
        }
        const std::size_t colon = line.find(':');
        std::string_view name = colon == std::string_view::npos ? std::string_view() : line.substr(0, colon);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        bool valid_name = !name.empty();
        for (char c : name) {
            const auto u = static_cast<unsigned char>(c);
            if (u < 33 || u > 126) valid_name = false;
        }
        if (valid_name) {
            const std::string_view value = header.substr(pos + colon + 1, field_end - (pos + colon + 1));
            if (core::iequals(name, "Authentication-Results") && core::iequals(authserv_id_of(value), authserv_id))
                out.push_back(FieldSpan{index, pos, next - pos});
            ++index;
        }
        pos = next;
    }
    return out;
}

core::Result<std::optional<ResultsPatch>> patch_our_results(std::string_view message,
                                                            std::string_view authserv_id,
                                                            std::string_view rename_to) {
    auto spans = find_our_results(message, authserv_id);
    if (!spans.ok()) return spans.error();
    if (spans.value().empty()) return std::optional<ResultsPatch>();
    ResultsPatch patch;
    std::size_t at = 0;
    for (const auto& s : spans.value()) {
        patch.text.append(message.substr(at, s.offset - at));
        if (!rename_to.empty()) {
            // Keep the value and its folding; only the name changes.
            const auto colon = message.find(':', s.offset);
            patch.text.append(rename_to);
            patch.text.append(message.substr(colon, s.offset + s.length - colon));
        }
        at = s.offset + s.length;
    }
    patch.replaced_octets = at;
    return std::optional<ResultsPatch>(std::move(patch));
}

core::Result<std::string> strip_our_results(std::string_view message, std::string_view authserv_id,
                                            std::string_view rename_to) {
    auto patch = patch_our_results(message, authserv_id, rename_to);
    if (!patch.ok()) return patch.error();
    if (!patch.value()) return std::string(message);
    std::string out = std::move(patch.value()->text);
    out.append(message.substr(patch.value()->replaced_octets));
    return out;
}

}  // namespace pigeon::dmarc
