#include "core/header.hpp"

#include <cctype>

#include "core/ascii.hpp"

namespace pigeon::core {
namespace {

bool is_ftext(unsigned char c) { return c >= 33 && c <= 126 && c != ':'; }

std::string_view trim(std::string_view s) {
    return trim_if(s, [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

Result<std::vector<HeaderField>> parse_header(std::string_view message) {
    std::vector<HeaderField> fields;
    std::size_t pos = 0;
    std::size_t line_number = 0;
    while (pos < message.size()) {
        ++line_number;
        std::size_t end = message.find("\r\n", pos);
        if (end == std::string_view::npos) end = message.size();
        std::string_view line = message.substr(pos, end - pos);
        if (line.empty()) break;  // the blank line: the body follows
        if (is_wsp(line.front())) {
            if (fields.empty())
                return ParseError{"header line 1 starts with white space (a continuation of nothing)"};
            // Extend the previous field's value over this continuation line.
            auto& last = fields.back();
            const char* start = last.value.data();
            last.value = std::string_view(start, static_cast<std::size_t>(message.data() + end - start));
        } else {
            auto colon = line.find(':');
            if (colon == std::string_view::npos || colon == 0)
                return ParseError{"header line " + std::to_string(line_number) +
                                  " is not a field (no name and colon)"};
            for (std::size_t i = 0; i < colon; ++i)
                if (!is_ftext(static_cast<unsigned char>(line[i])))
                    return ParseError{"header line " + std::to_string(line_number) +
                                      " has a character not allowed in a field name"};
            fields.push_back({line.substr(0, colon), line.substr(colon + 1)});
        }
        pos = end + 2;
    }
    return fields;
}

std::string unfold(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '\r' && i + 1 < value.size() && value[i + 1] == '\n') {
            ++i;  // drop CRLF; the WSP after it stays
            continue;
        }
        out += value[i];
    }
    return out;
}

std::vector<std::string> addresses_in(std::string_view value) {
    // One pass over the value, outside quoted strings and comments: "<...>" is an angle-addr;
    // ',' and ';' end a mailbox; ':' ends a group's display name.
    std::vector<std::string> out;
    std::string plain;   // the text of the current element, outside quotes and comments
    std::string angle;   // the angle-addr of the current element, if any
    bool have_angle = false;
    int comment_depth = 0;
    bool in_quotes = false;
    bool in_angle = false;
    auto finish = [&] {
        std::string addr = have_angle ? angle : std::string(trim(plain));
        auto t = std::string(trim(addr));
        if (!t.empty()) out.push_back(t);
        plain.clear();
        angle.clear();
        have_angle = false;
    };
    for (std::size_t i = 0; i < value.size(); ++i) {
        char c = value[i];
        if (in_quotes) {
            if (c == '\\' && i + 1 < value.size()) {
                if (in_angle) angle += value.substr(i, 2);
                ++i;
            } else if (c == '"') {
                in_quotes = false;
                if (in_angle) angle += c;
            } else if (in_angle) {
                angle += c;
            }
            continue;
        }
        if (comment_depth > 0) {
            if (c == '\\') ++i;
            else if (c == '(') ++comment_depth;
            else if (c == ')') --comment_depth;
            continue;
        }
        switch (c) {
            case '"':
                in_quotes = true;
                if (in_angle) angle += c;
                break;
            case '(': comment_depth = 1; break;
            case '<':
                in_angle = true;
                have_angle = true;
                angle.clear();
                break;
            case '>': in_angle = false; break;
            case ',':
            case ';':
                if (in_angle) angle += c;
                else finish();
                break;
            case ':':
                if (in_angle) angle += c;
                else plain.clear();  // a group's display name
                break;
            case '\r':
            case '\n': break;
            default:
                if (in_angle) angle += c;
                else plain += c;
        }
    }
    finish();
    return out;
}

bool field_is(const HeaderField& field, std::string_view name) {
    if (field.name.size() != name.size()) return false;
    for (std::size_t i = 0; i < name.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(field.name[i])) !=
            std::tolower(static_cast<unsigned char>(name[i])))
            return false;
    return true;
}

}  // namespace pigeon::core
