#include "directory/passwd_file.hpp"

#include <algorithm>
#include <array>
#include <unordered_map>

#include "core/address.hpp"
#include "core/ascii.hpp"

namespace pigeon::directory {
namespace {

constexpr std::array<std::string_view, 4> schemes{"ARGON2ID", "BLF-CRYPT", "SHA512-CRYPT", "PLAIN"};

core::ParseError at(std::string_view source, std::size_t line, const std::string& what) {
    return core::ParseError{std::string(source) + ":" + std::to_string(line) + ": " + what};
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

}  // namespace

std::string known_schemes() {
    std::string out;
    for (std::string_view s : schemes) out += (out.empty() ? "" : ", ") + std::string(s);
    return out;
}

bool is_known_scheme(std::string_view upper_name) {
    return std::find(schemes.begin(), schemes.end(), upper_name) != schemes.end();
}

std::string scheme_of(std::string_view stored) {
    if (stored.empty() || stored.front() != '{') return {};
    const auto close = stored.find('}');
    if (close == std::string_view::npos) return {};
    return upper(stored.substr(1, close - 1));
}

const PasswdUser* PasswdFile::find(std::string_view address) const {
    auto it = std::lower_bound(users.begin(), users.end(), address,
                               [](const PasswdUser& u, std::string_view a) { return u.address < a; });
    return it != users.end() && it->address == address ? &*it : nullptr;
}

core::Result<PasswdFile> parse_passwd_file(std::string_view text, std::string_view source) {
    PasswdFile file;
    std::size_t line_no = 0;
    std::unordered_map<std::string, std::size_t> seen;  // address -> its line
    while (!text.empty()) {
        ++line_no;
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (line.size() > max_line_octets)
            return at(source, line_no, "line longer than " + std::to_string(max_line_octets) + " octets");
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string_view::npos || line[first] == '#') continue;
        const auto colon = line.find(':');
        if (colon == std::string_view::npos)
            return at(source, line_no, "no ':' after the user (user@domain:{SCHEME}hash:...)");
        const std::string_view user = line.substr(0, colon);
        std::string_view rest = line.substr(colon + 1);
        const std::string_view password = rest.substr(0, rest.find(':'));
        auto mailbox = core::Mailbox::parse(user);
        if (!mailbox || user.find_first_of(" \t\"") != std::string_view::npos)
            return at(source, line_no, "user \"" + std::string(user) + "\" is not an address (local@domain)");
        if (std::any_of(password.begin(), password.end(),
                        [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
            return at(source, line_no, "the password of " + std::string(user) + " has a control character");
        if (password.empty()) return at(source, line_no, "user " + std::string(user) + " has no password");
        const std::string scheme = scheme_of(password);
        if (scheme.empty())
            return at(source, line_no,
                      "the password of " + std::string(user) + " names no scheme ({" + known_schemes() + "})");
        if (!is_known_scheme(scheme))
            return at(source, line_no,
                      "unknown password scheme {" + scheme + "} for " + std::string(user) + " (known: " +
                          known_schemes() + ")");
        const std::string_view hash = password.substr(password.find('}') + 1);
        if (hash.empty()) return at(source, line_no, "user " + std::string(user) + " has an empty {" + scheme + "} password");
        if (scheme == "PLAIN")
            file.warnings.push_back(std::string(source) + ":" + std::to_string(line_no) + ": " + std::string(user) +
                                    " has a {PLAIN} password: for test set-ups only");
        if (file.users.size() >= max_users)
            return at(source, line_no, "more than " + std::to_string(max_users) + " users");
        std::string address = core::ascii_lower(user);
        if (auto [it, fresh] = seen.emplace(address, line_no); !fresh)
            return at(source, line_no, "user " + address + " appears again (first on line " + std::to_string(it->second) + ")");
        file.users.push_back({std::move(address), "{" + scheme + "}" + std::string(hash)});
    }
    std::sort(file.users.begin(), file.users.end(),
              [](const PasswdUser& a, const PasswdUser& b) { return a.address < b.address; });
    return file;
}

}  // namespace pigeon::directory
