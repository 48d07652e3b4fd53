// pigeon/config/maildir_template.cpp: `[delivery] maildir` templates (%d %n %u %%).
#include "config/maildir_template.hpp"

#include "core/ascii.hpp"

namespace pigeon::config {
namespace {

core::ParseError error(std::string text) { return core::ParseError{std::move(text), {}}; }

bool is_control(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
}

// Why an expansion of an address cannot go into a path, or nullopt.
std::optional<std::string> unsafe_piece(std::string_view piece) {
    if (piece.empty()) return "is empty";
    if (piece.front() == '.') return "starts with '.'";
    for (char c : piece) {
        if (c == '/') return "holds '/'";
        if (c == '\0') return "holds NUL";
        if (is_control(c)) return "holds a control character";
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> maildir_template_problem(std::string_view t) {
    if (t.empty() || t.front() != '/') return "must be an absolute path (it starts with '/')";
    for (std::size_t i = 0; i < t.size(); ++i) {
        if (t[i] == '\0') return "holds NUL";
        if (t[i] != '%') continue;
        if (i + 1 == t.size()) return "ends in '%' (write %% for a percent sign)";
        const char c = t[++i];
        if (c != 'd' && c != 'n' && c != 'u' && c != '%')
            return std::string("has an unknown expansion %") + c +
                   " (%d domain, %n local part, %u whole address, %% a percent sign)";
    }
    // Components of the template itself: "." and ".." would make the prefix meaningless.
    std::size_t start = 1;
    while (start <= t.size()) {
        std::size_t end = t.find('/', start);
        if (end == std::string_view::npos) end = t.size();
        const std::string_view part = t.substr(start, end - start);
        if (part == "." || part == "..") return "has a \".\" or \"..\" component";
        start = end + 1;
    }
    return std::nullopt;
}

core::Result<std::string> expand_maildir(std::string_view t, std::string_view address) {
    if (auto problem = maildir_template_problem(t)) return error("maildir template " + *problem);
    const auto at = address.rfind('@');
    if (at == std::string_view::npos) return error("\"" + std::string(address) + "\" has no domain");
    const std::string local = core::ascii_lower(address.substr(0, at));
    const std::string domain = core::ascii_lower(address.substr(at + 1));
    const std::string whole = local + "@" + domain;
    std::string out;
    for (std::size_t i = 0; i < t.size(); ++i) {
        if (t[i] != '%') {
            out += t[i];
            continue;
        }
        const char c = t[++i];  // maildir_template_problem() checked there is one
        if (c == '%') {
            out += '%';
            continue;
        }
        const std::string& piece = c == 'd' ? domain : c == 'n' ? local : whole;
        if (auto why = unsafe_piece(piece))
            return error(std::string("%") + c + " of \"" + std::string(address) + "\" " + *why +
                         ": not usable in a Maildir path");
        out += piece;
    }
    return out;
}

std::string fixed_prefix(std::string_view t) {
    std::size_t first = std::string_view::npos;
    for (std::size_t i = 0; i + 1 < t.size(); ++i) {
        if (t[i] != '%') continue;
        if (t[i + 1] != '%') {
            first = i;
            break;
        }
        ++i;  // %%: a literal, part of the prefix
    }
    const std::string_view head = first == std::string_view::npos ? t : t.substr(0, first);
    const auto slash = head.rfind('/');
    std::string prefix(slash == std::string_view::npos ? std::string_view() : head.substr(0, slash + 1));
    // %% in the prefix stands for one '%' in every expansion.
    std::string literal;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        literal += prefix[i];
        if (prefix[i] == '%' && i + 1 < prefix.size() && prefix[i + 1] == '%') ++i;
    }
    return literal;
}

std::string default_maildir_template(std::string_view state_dir) {
    std::string out;
    for (char c : state_dir) {
        out += c;
        if (c == '%') out += '%';
    }
    if (out.empty() || out.back() != '/') out += '/';
    return out + "mail/%d/%n/Maildir";
}

}  // namespace pigeon::config
