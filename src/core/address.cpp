// pigeon/core/address.cpp: Mailbox, Path, Reverse-path and Forward-path (RFC 5321 4.1.2),
// with the RFC 6531 UTF-8 extensions of atext and qtextSMTP.
#include "core/address.hpp"

#include <cstddef>

#include "core/limits.hpp"

namespace pigeon::core {
namespace {

ParseError error(std::string message) { return ParseError{std::move(message)}; }

bool is_ascii_text(std::string_view s) {
    for (unsigned char c : s) {
        if (c >= 0x80) return false;
    }
    return true;
}

// atext of RFC 5322 3.2.3, as RFC 5321 4.1.2 uses it.
bool is_atext(unsigned char c) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
        case '-': case '/': case '=': case '?': case '^': case '_': case '`': case '{':
        case '|': case '}': case '~':
            return true;
        default:
            return false;
    }
}

// Dot-string = Atom *("." Atom); Atom = 1*atext (UTF-8 octets too when utf8).
bool is_dot_string(std::string_view s, bool utf8) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    char prev = 0;
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (ch == '.') {
            if (prev == '.') return false;
        } else if (!is_atext(c) && !(utf8 && c >= 0x80)) {
            return false;
        }
        prev = ch;
    }
    return true;
}

// Length of the Quoted-string at the start of s, or 0 if s does not start with one.
// QcontentSMTP = qtextSMTP / quoted-pairSMTP
// qtextSMTP    = %d32-33 / %d35-91 / %d93-126   (and UTF-8 octets when utf8)
// quoted-pairSMTP = "\" %d32-126
std::size_t quoted_string_length(std::string_view s, bool utf8) {
    if (s.empty() || s.front() != '"') return 0;
    for (std::size_t i = 1; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '"') return i + 1;
        if (c == '\\') {
            if (i + 1 >= s.size()) return 0;
            const auto q = static_cast<unsigned char>(s[i + 1]);
            if (q < 32 || q > 126) return 0;
            ++i;
        } else if (c < 32 || c == 127 || (c >= 0x80 && !utf8)) {
            return 0;
        }
    }
    return 0;  // no closing quote
}

}  // namespace

Mailbox::Mailbox(std::string local_part, Domain domain)
    : local_(std::move(local_part)), domain_(std::move(domain)) {}

Result<Mailbox> Mailbox::parse(std::string_view text, AddressSyntax syntax) {
    if (syntax.allow_utf8 && !is_well_formed_utf8(text)) return error("malformed UTF-8 in mailbox");

    // The local part ends at the "@" after it: the first "@" for a Dot-string (atext has no
    // "@"), the one after the closing quote for a Quoted-string (which may contain "@").
    std::size_t local_len = 0;
    if (!text.empty() && text.front() == '"') {
        local_len = quoted_string_length(text, syntax.allow_utf8);
        if (local_len == 0) return error("bad quoted local part");
    } else {
        local_len = text.find('@');
        if (local_len == std::string_view::npos) return error("mailbox without \"@\"");
        if (!is_dot_string(text.substr(0, local_len), syntax.allow_utf8)) {
            return error("bad local part");
        }
    }
    if (local_len > local_part_max_octets) return error("local part longer than 64 octets");
    if (local_len >= text.size() || text[local_len] != '@') return error("mailbox without \"@\"");

    const std::string_view domain_text = text.substr(local_len + 1);
    auto domain = Domain::parse(domain_text, DomainSyntax{true, syntax.allow_utf8});
    if (!domain) return domain.error();
    return Mailbox(std::string(text.substr(0, local_len)), std::move(domain).value());
}

std::string Mailbox::to_string() const { return local_ + "@" + domain_.text(); }

bool Mailbox::is_ascii() const { return is_ascii_text(local_) && is_ascii_text(domain_.text()); }

bool operator==(const Mailbox& a, const Mailbox& b) {
    return a.local_ == b.local_ && a.domain_ == b.domain_;
}

std::string Path::to_string() const {
    switch (kind) {
        case Kind::null: return "<>";
        case Kind::postmaster: return "<Postmaster>";
        case Kind::mailbox: break;
    }
    return "<" + mailbox.to_string() + ">";
}

bool operator==(const Path& a, const Path& b) {
    if (a.kind != b.kind) return false;
    return a.kind != Path::Kind::mailbox || a.mailbox == b.mailbox;
}

namespace {

// Path = "<" [ A-d-l ":" ] Mailbox ">"
// A-d-l = At-domain *( "," At-domain ); At-domain = "@" Domain
Result<Path> parse_path(std::string_view text, AddressSyntax syntax) {
    if (text.size() > path_max_octets) return error("path longer than 256 octets");
    if (text.size() < 2 || text.front() != '<' || text.back() != '>') {
        return error("path not enclosed in \"<\" \">\"");
    }
    std::string_view inner = text.substr(1, text.size() - 2);

    Path path;
    path.kind = Path::Kind::mailbox;
    if (!inner.empty() && inner.front() == '@') {
        // The route ends at the first ":"; domains (the route's only content) never hold one.
        const std::size_t colon = inner.find(':');
        if (colon == std::string_view::npos) return error("source route without \":\"");
        std::string_view adl = inner.substr(0, colon);
        for (;;) {
            if (adl.empty() || adl.front() != '@') return error("bad source route");
            const std::size_t comma = adl.find(',');
            // At-domain is "@" Domain: a name, never an address literal.
            auto d = Domain::parse(adl.substr(1, comma == std::string_view::npos ? comma : comma - 1),
                                   DomainSyntax{false, syntax.allow_utf8});
            if (!d) return error("bad source route: " + d.error().message);
            path.route.push_back(std::move(d).value());
            if (comma == std::string_view::npos) break;
            adl.remove_prefix(comma + 1);
        }
        inner.remove_prefix(colon + 1);
    }
    auto mailbox = Mailbox::parse(inner, syntax);
    if (!mailbox) return mailbox.error();
    path.mailbox = std::move(mailbox).value();
    return path;
}

bool is_postmaster(std::string_view text) {
    constexpr std::string_view pm = "<postmaster>";
    if (text.size() != pm.size()) return false;
    for (std::size_t i = 0; i < pm.size(); ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != pm[i]) return false;
    }
    return true;
}

}  // namespace

Result<Path> parse_reverse_path(std::string_view text, AddressSyntax syntax) {
    if (text == "<>") return Path::null_path();
    return parse_path(text, syntax);
}

Result<Path> parse_forward_path(std::string_view text, AddressSyntax syntax) {
    if (text == "<>") return error("null path is not a forward path");
    if (is_postmaster(text)) return Path::postmaster();
    return parse_path(text, syntax);
}

}  // namespace pigeon::core
