// RFC 6376 3.2 tag-list parsing; see tag_list.hpp.
#include "auth/dkim/tag_list.hpp"

namespace pigeon::dkim {

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }
bool is_fws_char(char c) { return is_wsp(c) || c == '\r' || c == '\n'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_valchar(char c) { return (c >= 0x21 && c <= 0x3A) || (c >= 0x3C && c <= 0x7E); }

core::ParseError error(std::string message) { return core::ParseError{std::move(message)}; }

// Skips FWS. A CR or LF must be a CRLF followed by WSP (a fold): anything else is not FWS
// and is reported by returning false.
bool skip_fws(std::string_view text, std::size_t& i) {
    while (i < text.size()) {
        char c = text[i];
        if (is_wsp(c)) {
            ++i;
        } else if (c == '\r' || c == '\n') {
            std::size_t j = i;
            if (text[j] == '\r') ++j;
            if (j >= text.size() || text[j] != '\n') return false;
            ++j;
            // A fold must continue with WSP, except at the very end of the text (the tolerant
            // reading of a record that ends in a line break).
            if (j < text.size() && !is_wsp(text[j])) return false;
            i = j;
        } else {
            break;
        }
    }
    return true;
}

}  // namespace

const Tag* TagList::find(std::string_view name) const {
    for (const Tag& t : tags)
        if (t.name.size() == name.size() && !name.empty() && t.name[0] == name[0] && t.name == name) return &t;
    return nullptr;
}

core::Result<TagList> parse_tag_list(std::string_view text) {
    TagList list;
    list.tags.reserve(16);  // a signature has about a dozen tags: one allocation
    std::size_t i = 0;
    while (true) {
        if (!skip_fws(text, i)) return error("bad line break in tag-list");
        if (i >= text.size()) {
            return list;  // empty input, or white space after a final ";"
        }
        std::size_t name_begin = i;
        if (!is_alpha(text[i])) return error("bad tag name at offset " + std::to_string(i));
        while (i < text.size() && (is_alpha(text[i]) || is_digit(text[i]) || text[i] == '_')) ++i;
        std::string_view name = text.substr(name_begin, i - name_begin);
        if (!skip_fws(text, i)) return error("bad line break in tag-list");
        if (i >= text.size() || text[i] != '=')
            return error("tag \"" + std::string(name) + "\" has no \"=\"");
        ++i;
        if (!skip_fws(text, i)) return error("bad line break in tag-list");
        std::size_t value_begin = i, value_end = i;
        while (i < text.size() && text[i] != ';') {
            const std::size_t run = i;
            while (i < text.size() && is_valchar(text[i])) ++i;  // ';' is not a VALCHAR
            if (i > run) {
                value_end = i;
            } else if (is_fws_char(text[i])) {
                if (!skip_fws(text, i)) return error("bad line break in tag-list");
            } else {
                return error("bad character in the value of tag \"" + std::string(name) + "\"");
            }
        }
        if (list.find(name)) return error("duplicate tag \"" + std::string(name) + "\"");
        if (list.tags.size() >= max_tags) return error("too many tags");
        list.tags.push_back(Tag{name, text.substr(value_begin, value_end - value_begin),
                                value_begin, value_end});
        if (i >= text.size()) return list;
        ++i;  // ';'
    }
}

std::string strip_fws(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value)
        if (!is_fws_char(c)) out += c;
    return out;
}

std::vector<std::string> split_list(std::string_view value, char separator) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
        std::size_t end = value.find(separator, start);
        std::string_view part = value.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        std::size_t b = 0, e = part.size();
        while (b < e && is_fws_char(part[b])) ++b;
        while (e > b && is_fws_char(part[e - 1])) --e;
        out.emplace_back(part.substr(b, e - b));
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    return out;
}

}  // namespace pigeon::dkim
