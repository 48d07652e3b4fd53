// Canonicalization of RFC 6376 3.4; see canon.hpp.
#include "auth/dkim/canon.hpp"

#include <algorithm>
#include <cstring>

namespace pigeon::dkim {

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// The end of the line starting at `i` (just past its LF), or text.size() if unterminated.
std::size_t line_end(std::string_view text, std::size_t i) {
    std::size_t lf = text.find('\n', i);
    return lf == std::string_view::npos ? text.size() : lf + 1;
}

// `line` without its CRLF or LF.
std::string_view chomp(std::string_view line) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

bool is_name_char(char c) { return c >= 33 && c <= 126 && c != ':'; }

}  // namespace

const char* canon_name(Canon c) { return c == Canon::simple ? "simple" : "relaxed"; }

bool name_equals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

core::Result<Message> parse_message(std::string_view text) {
    Message m;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t end = line_end(text, i);
        std::string_view line = chomp(text.substr(i, end - i));
        if (line.empty()) {  // the empty line ends the header section
            m.body = text.substr(end);
            return m;
        }
        if (is_wsp(line[0])) return core::ParseError{"continuation line before any field"};
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0)
            return core::ParseError{"header line without a field name: " + std::string(line.substr(0, 60))};
        std::string_view name = line.substr(0, colon);
        while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);  // obs-optional
        for (char c : name)
            if (!is_name_char(c)) return core::ParseError{"bad field name: " + std::string(name.substr(0, 60))};
        if (name.empty()) return core::ParseError{"empty field name"};
        // Continuation lines.
        std::size_t field_end = end;
        while (field_end < text.size() && is_wsp(text[field_end])) field_end = line_end(text, field_end);
        if (m.fields.size() >= max_header_fields) return core::ParseError{"too many header fields"};
        std::string_view raw = text.substr(i, field_end - i);
        std::string_view value = raw.substr(colon + 1);
        if (!value.empty() && value.back() == '\n') value.remove_suffix(1);
        if (!value.empty() && value.back() == '\r') value.remove_suffix(1);
        m.fields.push_back(Field{raw, name, value});
        i = field_end;
    }
    m.body = text.substr(text.size());  // no empty line: no body
    return m;
}

void append_canonical_header(std::string& out, const Field& field, Canon canon) {
    if (canon == Canon::simple) {
        // Byte for byte, except that a bare LF line end (tolerated by parse_message) counts as
        // CRLF, as it will on the wire; the result always ends in CRLF, even for a final
        // unterminated line.
        const std::size_t start = out.size();
        out.reserve(start + field.raw.size() * 2 + 2);
        for (std::size_t i = 0; i < field.raw.size(); ++i) {
            if (field.raw[i] == '\n' && (i == 0 || field.raw[i - 1] != '\r')) out += '\r';
            out += field.raw[i];
        }
        if (out.size() == start || out.back() != '\n') out += "\r\n";
        return;
    }
    // 3.4.2: lower-case name, unfold, compress WSP runs to one SP, drop WSP at the end of
    // the value and around the colon. Written through a pointer into room made up front
    // (the result is never longer than name + value + 3).
    const std::size_t start = out.size();
    out.resize(start + field.name.size() + field.value.size() + 3);
    char* p = out.data() + start;
    for (char c : field.name) *p++ = lower(c);
    *p++ = ':';
    bool pending_space = false, at_start = true;
    for (char c : field.value) {
        if (c == '\r' || c == '\n') continue;  // unfolding
        if (is_wsp(c)) {
            pending_space = true;
            continue;
        }
        if (pending_space && !at_start) *p++ = ' ';
        at_start = false;
        pending_space = false;
        *p++ = c;
    }
    *p++ = '\r';
    *p++ = '\n';
    out.resize(static_cast<std::size_t>(p - out.data()));
}

std::string canonicalize_header(const Field& field, Canon canon) {
    std::string out;
    append_canonical_header(out, field, canon);
    return out;
}

std::string canonicalize_body(std::string_view body, Canon canon) {
    // Written through a pointer into room made up front. A line's output is at most its
    // octets without the line break, plus CRLF: only a line ending in a bare LF (or none)
    // grows, so the room is checked per line and grown when such lines need it. A line is
    // written after room for the empty lines still pending; if it turns out empty it is one
    // more pending line, else the pending CRLFs are filled in before it.
    std::string out(body.size() + 64, '\0');
    char* base = out.data();
    char* p = base;                 // end of the output so far
    std::size_t pending_empty = 0;  // empty lines not yet known not to be trailing
    std::size_t i = 0;
    while (i < body.size()) {
        std::size_t end = line_end(body, i);
        std::string_view line = chomp(body.substr(i, end - i));
        i = end;
        const std::size_t used = static_cast<std::size_t>(p - base);
        const std::size_t needed = used + 2 * pending_empty + line.size() + 2;
        if (needed > out.size()) {
            out.resize(std::max(needed, out.size() * 2));
            base = out.data();
            p = base + used;
        }
        char* const start = p + 2 * pending_empty;
        char* q = start;
        if (canon == Canon::simple) {
            if (!line.empty()) std::memcpy(q, line.data(), line.size());
            q += line.size();
        } else {
            bool pending_space = false;
            for (char c : line) {
                if (is_wsp(c)) {
                    pending_space = true;
                    continue;
                }
                if (pending_space) *q++ = ' ';
                pending_space = false;
                *q++ = c;
            }  // trailing WSP dropped: pending_space is never flushed at the end
        }
        if (q == start) {
            ++pending_empty;
            continue;
        }
        for (; pending_empty > 0; --pending_empty) {
            *p++ = '\r';
            *p++ = '\n';
        }
        p = q;
        *p++ = '\r';
        *p++ = '\n';
    }
    out.resize(static_cast<std::size_t>(p - base));
    if (canon == Canon::simple && out.empty()) out = "\r\n";
    return out;
}

// ---- Streaming body canonicalization: canonicalize_body()'s line rules, one octet at a time.
// A line's end is LF, with a CR just before it dropped; a CR elsewhere is content, except at
// the very end of the body (canonicalize_body() chomps it there too). Output for a line is
// written as soon as its first octet that survives canonicalization is seen; until then the
// line may still be empty, and empty lines are only counted: they are written (as CRLF) when a
// later line proves they are not trailing.

BodyCanonicalizer::BodyCanonicalizer(Canon canon, Sink sink) : canon_(canon), sink_(std::move(sink)) {
    out_.reserve(sink_chunk);
}

void BodyCanonicalizer::emit(char c) {
    out_ += c;
    if (out_.size() >= sink_chunk) flush();
}

void BodyCanonicalizer::flush() {
    if (out_.empty()) return;
    sink_(out_);
    out_.clear();
}

void BodyCanonicalizer::content(char c) {
    if (canon_ == Canon::relaxed && is_wsp(c)) {  // 3.4.4: runs of WSP become one SP, or none at the end
        pending_space_ = true;
        return;
    }
    if (!line_open_) {
        for (; pending_empty_ > 0; --pending_empty_) {
            emit('\r');
            emit('\n');
        }
        line_open_ = true;
        wrote_any_ = true;
    }
    if (pending_space_) emit(' ');
    pending_space_ = false;
    emit(c);
}

void BodyCanonicalizer::end_line() {
    if (line_open_) {
        emit('\r');
        emit('\n');
    } else {
        ++pending_empty_;
    }
    line_open_ = false;
    pending_space_ = false;
}

void BodyCanonicalizer::put(std::string_view chunk) {
    for (char c : chunk) {
        if (pending_cr_) {
            pending_cr_ = false;
            if (c == '\n') {
                end_line();
                continue;
            }
            content('\r');  // a bare CR inside a line
        }
        if (c == '\r') {
            pending_cr_ = true;
        } else if (c == '\n') {
            end_line();
        } else {
            content(c);
        }
    }
    flush();
}

void BodyCanonicalizer::finish() {
    // An unterminated last line counts as one (a final CR being its line end); trailing empty
    // lines are never written.
    if (pending_cr_ || line_open_) end_line();
    pending_cr_ = false;
    if (canon_ == Canon::simple && !wrote_any_) {  // 3.4.3: an empty body is one CRLF
        emit('\r');
        emit('\n');
    }
    flush();
}

// ---- h= selection (5.4.2)

FieldIndex::FieldIndex(const Message& message) {
    std::string key;
    for (const Field& f : message.fields) {
        key.assign(f.name);
        for (char& c : key) c = lower(c);
        by_name_[key].push_back(&f);
    }
}

std::vector<const Field*> FieldIndex::select(const std::vector<std::string>& names) const {
    std::vector<const Field*> out;
    out.reserve(names.size());
    // Instances already taken per name, counted from the bottom; keyed by the index's own keys.
    std::unordered_map<const std::vector<const Field*>*, std::size_t> taken;
    std::string key;
    for (const std::string& name : names) {
        key.assign(name);
        for (char& c : key) c = lower(c);
        auto it = by_name_.find(key);
        if (it == by_name_.end()) {
            out.push_back(nullptr);
            continue;
        }
        const std::vector<const Field*>& instances = it->second;
        std::size_t& n = taken[&instances];
        out.push_back(n < instances.size() ? instances[instances.size() - 1 - n] : nullptr);
        ++n;
    }
    return out;
}

}  // namespace pigeon::dkim
