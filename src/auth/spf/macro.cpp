// Macro expansion (RFC 7208 section 7); see macro.hpp.
#include "auth/spf/macro.hpp"

#include <algorithm>
#include <vector>

namespace pigeon::spf {
namespace {

// More right-hand parts than any domain has; larger DIGIT values mean "all parts" anyway,
// so capping keeps the arithmetic in range without changing the result.
constexpr unsigned max_digit_transformer = 1000;

bool is_delimiter(char c) {
    return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '=';
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }

// One walk over the text for both checking and expanding: with context == nullptr only
// the syntax is checked, so the two can never disagree about what is valid.
core::Result<std::string> walk(std::string_view text, MacroMode mode, const MacroContext* context) {
    std::string out;
    std::size_t i = 0;
    auto error = [&](const std::string& what) {
        return core::ParseError{what + " at offset " + std::to_string(i) + " in \"" +
                                std::string(text) + "\""};
    };
    while (i < text.size()) {
        const char c = text[i];
        if (c != '%') {
            const auto u = static_cast<unsigned char>(c);
            const bool visible = u >= 0x21 && u <= 0x7e;
            if (!visible && !(mode == MacroMode::explanation && c == ' '))
                return error("invalid character in macro-string");
            out += c;
            ++i;
            continue;
        }
        if (i + 1 >= text.size()) return error("'%' at the end of a macro-string");
        const char next = text[i + 1];
        if (next == '%') { out += '%'; i += 2; continue; }
        if (next == '_') { out += ' '; i += 2; continue; }
        if (next == '-') { out += "%20"; i += 2; continue; }
        if (next != '{') return error("'%' not followed by '{', '%', '_' or '-'");
        const std::size_t close = text.find('}', i + 2);
        if (close == std::string_view::npos) return error("unterminated macro");
        std::string_view body = text.substr(i + 2, close - i - 2);
        if (body.empty()) return error("empty macro");

        const char letter = body[0];
        const char l = lower(letter);
        const bool known = l == 's' || l == 'l' || l == 'o' || l == 'd' || l == 'i' || l == 'p' ||
                           l == 'h' || l == 'v' || l == 'c' || l == 'r' || l == 't';
        if (!known) return error(std::string("unknown macro letter '") + letter + "'");
        if ((l == 'c' || l == 'r' || l == 't') && mode != MacroMode::explanation)
            return error(std::string("macro letter '") + letter + "' is allowed only in exp text");

        std::size_t pos = 1;
        unsigned digits = 0;
        bool have_digits = false;
        while (pos < body.size() && body[pos] >= '0' && body[pos] <= '9') {
            digits = std::min(max_digit_transformer, digits * 10 + static_cast<unsigned>(body[pos] - '0'));
            have_digits = true;
            ++pos;
        }
        if (have_digits && digits == 0) return error("zero DIGIT transformer");
        bool reverse = false;
        if (pos < body.size() && lower(body[pos]) == 'r') { reverse = true; ++pos; }
        std::string delimiters;
        for (; pos < body.size(); ++pos) {
            if (!is_delimiter(body[pos])) return error("invalid macro delimiter");
            delimiters += body[pos];
        }
        i = close + 1;
        if (context == nullptr) continue;

        std::string value;
        switch (l) {
        case 's': value = context->sender; break;
        case 'l': value = context->local_part; break;
        case 'o': value = context->sender_domain; break;
        case 'd': value = context->domain; break;
        case 'i': value = ip_dotted(context->ip); break;
        case 'p': value = context->validated_name ? context->validated_name() : "unknown"; break;
        case 'h': value = context->helo; break;
        case 'v': value = is_ipv4(context->ip) ? "in-addr" : "ip6"; break;
        case 'c': value = ip_text(context->ip); break;
        case 'r': value = context->receiver; break;
        case 't': value = std::to_string(context->timestamp); break;
        default: break;
        }

        if (have_digits || reverse || !delimiters.empty()) {
            if (delimiters.empty()) delimiters = ".";
            std::vector<std::string> parts(1);
            for (char v : value) {
                if (delimiters.find(v) != std::string::npos) parts.emplace_back();
                else parts.back() += v;
            }
            if (reverse) std::reverse(parts.begin(), parts.end());
            std::size_t first = 0;
            if (have_digits && digits < parts.size()) first = parts.size() - digits;
            value.clear();
            for (std::size_t p = first; p < parts.size(); ++p) {
                if (p > first) value += '.';
                value += parts[p];
            }
        }
        out += is_upper(letter) ? url_escape(value) : value;
    }
    return out;
}

}  // namespace

std::optional<core::ParseError> check_macro_string(std::string_view text, MacroMode mode) {
    auto r = walk(text, mode, nullptr);
    if (r.ok()) return std::nullopt;
    return r.error();
}

bool asks_for_validated_name(std::string_view text, MacroMode mode) {
    bool asked = false;
    MacroContext probe;
    probe.validated_name = [&asked] {
        asked = true;
        return std::string();
    };
    (void)walk(text, mode, &probe);
    return asked;
}

core::Result<std::string> expand_macros(std::string_view text, MacroMode mode,
                                        const MacroContext& context) {
    return walk(text, mode, &context);
}

std::string truncate_domain(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    while (name.size() > max_domain_octets) {
        const std::size_t dot = name.find('.');
        if (dot == std::string_view::npos) break;  // one huge label: left for the caller to reject
        name.remove_prefix(dot + 1);
    }
    return std::string(name);
}

std::string url_escape(std::string_view text) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
            out += c;
        } else {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 0xf];
        }
    }
    return out;
}

}  // namespace pigeon::spf
