// pigeon/dns/zone_file.cpp: RFC 1035 master-file text -> the records of a ZoneResolver (the
// lexer, the field parsers and the parser), and records back to zone-file lines
// (see dns/zone_resolver.hpp).
#include "dns/zone_resolver.hpp"


#include "core/ascii.hpp"

#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <optional>
#include <sstream>
#include <type_traits>
#include <utility>
#include <variant>

#include "dns/zone_state.hpp"

namespace pigeon::dns {

namespace {

using core::ascii_lower;
using core::iequals;
using core::ParseError;

constexpr std::size_t tlsa_fixed_octets = 3;  // usage, selector, matching type
constexpr std::size_t soa_rdata_fields = 7;   // MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM
constexpr std::string_view directive_prefix = "pigeon:";

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// ---- lexer: text -> entries (one RR or control line each) and directive comments -----------

struct Token {
    std::string text;  // raw: escapes kept, quotes removed
    bool quoted = false;
};

struct Entry {
    std::vector<Token> tokens;
    std::size_t line = 0;
    bool blank_owner = false;  // the line began with blank space
};

struct Directive {
    std::string text;  // after "pigeon:"
    std::size_t line = 0;
};

using Item = std::variant<Entry, Directive>;

std::string line_error(std::size_t line, std::string_view what) {
    return "line " + std::to_string(line) + ": " + std::string(what);
}

std::string_view trim(std::string_view s) { return core::trim_if(s, is_blank); }

core::Result<std::vector<Item>> lex(std::string_view text) {
    std::vector<Item> items;
    Entry entry;
    std::size_t depth = 0, paren_line = 0;

    auto flush_entry = [&] {
        if (!entry.tokens.empty()) items.emplace_back(std::move(entry));
        entry = Entry{};
    };

    std::size_t line_no = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = text.substr(pos, end - pos);
        ++line_no;

        if (depth == 0) {
            flush_entry();
            entry.line = line_no;
            entry.blank_owner = !line.empty() && is_blank(line.front());
        }

        Token token;
        bool in_token = false;
        auto flush_token = [&] {
            if (in_token) entry.tokens.push_back(std::move(token));
            token = Token{};
            in_token = false;
        };

        std::size_t i = 0;
        while (i < line.size()) {
            const char c = line[i];
            if (is_blank(c)) {
                flush_token();
                ++i;
            } else if (c == ';') {
                flush_token();
                const std::string_view comment = trim(line.substr(i + 1));
                if (comment.substr(0, directive_prefix.size()) == directive_prefix) {
                    // The record on this line (if any) comes first, so a directive may follow it.
                    if (depth == 0) flush_entry();
                    items.emplace_back(Directive{std::string(trim(comment.substr(directive_prefix.size()))), line_no});
                }
                break;
            } else if (c == '"') {
                flush_token();
                in_token = true;
                token.quoted = true;
                ++i;
                bool closed = false;
                while (i < line.size()) {
                    if (line[i] == '\\') {
                        if (i + 1 >= line.size()) break;
                        token.text += line.substr(i, 2);
                        i += 2;
                    } else if (line[i] == '"') {
                        closed = true;
                        ++i;
                        break;
                    } else {
                        token.text += line[i++];
                    }
                }
                if (!closed) return ParseError{line_error(line_no, "unterminated quoted string")};
                flush_token();
            } else if (c == '(') {
                flush_token();
                if (depth++ == 0) paren_line = line_no;
                ++i;
            } else if (c == ')') {
                flush_token();
                if (depth == 0) return ParseError{line_error(line_no, "')' without '('")};
                --depth;
                ++i;
            } else if (c == '\\') {
                if (i + 1 >= line.size()) return ParseError{line_error(line_no, "backslash at end of line")};
                in_token = true;
                token.text += line.substr(i, 2);
                i += 2;
            } else {
                in_token = true;
                token.text += c;
                ++i;
            }
        }
        flush_token();
        pos = end + 1;
    }
    if (depth != 0) return ParseError{line_error(paren_line, "'(' not closed")};
    flush_entry();
    return items;
}

// ---- field parsers --------------------------------------------------------------------------

// A name token -> normalised name (lower case, no trailing dot, root = ""), or an error text.
std::variant<std::string, std::string> parse_name(std::string_view text, const std::string& origin) {
    using R = std::variant<std::string, std::string>;
    auto fail = [](std::string what) { return R(std::in_place_index<1>, std::move(what)); };
    if (text.empty()) return fail("empty name");
    // A line starting with '$' is a control entry, so such a name could never be an owner.
    if (text.front() == '$') return fail("name may not begin with '$'");
    if (text == "@") return R(std::in_place_index<0>, origin);
    if (text == ".") return R(std::in_place_index<0>, std::string());
    std::string name;
    if (text.back() == '.') {
        name = std::string(text.substr(0, text.size() - 1));
    } else {
        name = std::string(text);
        if (!origin.empty()) name += "." + origin;
    }
    for (char& c : name) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '\\') return fail("escapes are not supported in names: '" + std::string(text) + "'");
        if (u < 0x21 || u == 0x7f) return fail("control character in name");
        c = ascii_lower(c);
    }
    if (name.size() > max_name_text_octets) return fail("name longer than 253 octets");
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = name.find('.', start);
        const std::size_t len = (dot == std::string::npos ? name.size() : dot) - start;
        if (len == 0) return fail("empty label in name '" + std::string(text) + "'");
        if (len > max_label_octets) return fail("label longer than 63 octets");
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return R(std::in_place_index<0>, std::move(name));
}

std::optional<std::uint64_t> parse_number(std::string_view text, std::uint64_t max) {
    if (text.empty()) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : text) {
        if (!is_digit(c)) return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
        if (v > max) return std::nullopt;
    }
    return v;
}

// Seconds: digits, or BIND-style units ("1h30m", "2d").
std::optional<std::uint32_t> parse_ttl(std::string_view text) {
    if (auto plain = parse_number(text, max_ttl_seconds)) return static_cast<std::uint32_t>(*plain);
    std::uint64_t total = 0, current = 0;
    bool have_digits = false;
    for (char c : text) {
        if (is_digit(c)) {
            current = current * 10 + static_cast<std::uint64_t>(c - '0');
            if (current > max_ttl_seconds) return std::nullopt;
            have_digits = true;
            continue;
        }
        std::uint64_t unit = 0;
        switch (ascii_lower(c)) {
            case 's': unit = 1; break;
            case 'm': unit = 60; break;
            case 'h': unit = 3600; break;
            case 'd': unit = 86400; break;
            case 'w': unit = 604800; break;
            default: return std::nullopt;
        }
        if (!have_digits) return std::nullopt;
        total += current * unit;
        if (total > max_ttl_seconds) return std::nullopt;
        current = 0;
        have_digits = false;
    }
    if (have_digits) return std::nullopt;  // "1h30": a number without a unit after units
    return static_cast<std::uint32_t>(total);
}

// A character-string token (escapes \X and \DDD) -> octets, or an error text.
std::optional<std::string> decode_string(std::string_view raw, std::string& error) {
    std::string out;
    for (std::size_t i = 0; i < raw.size();) {
        if (raw[i] != '\\') {
            out += raw[i++];
            continue;
        }
        if (i + 1 >= raw.size()) {
            error = "backslash at end of string";
            return std::nullopt;
        }
        if (is_digit(raw[i + 1])) {
            if (i + 3 >= raw.size() || !is_digit(raw[i + 2]) || !is_digit(raw[i + 3])) {
                error = "\\DDD escape needs three digits";
                return std::nullopt;
            }
            const int v = (raw[i + 1] - '0') * 100 + (raw[i + 2] - '0') * 10 + (raw[i + 3] - '0');
            if (v > 255) {
                error = "\\DDD escape above 255";
                return std::nullopt;
            }
            out += static_cast<char>(v);
            i += 4;
        } else {
            out += raw[i + 1];
            i += 2;
        }
    }
    return out;
}

}  // namespace

// ---- parser -----------------------------------------------------------------------------------

namespace {

class Parser {
public:
    explicit Parser(ZoneResolver::State& state, std::string origin) : st_(state), origin_(std::move(origin)) {}

    std::optional<ParseError> run(std::string_view text) {
        auto items = lex(text);
        if (!items) return items.error();
        for (const auto& item : items.value()) {
            std::optional<std::string> err;
            if (const auto* e = std::get_if<Entry>(&item)) {
                line_ = e->line;
                err = entry(*e);
            } else {
                const auto& d = std::get<Directive>(item);
                line_ = d.line;
                err = directive(d.text);
            }
            if (err) return ParseError{line_error(line_, *err)};
        }
        return std::nullopt;
    }

private:
    using Error = std::optional<std::string>;

    Error name(std::string_view text, std::string& out) const {
        auto r = parse_name(text, origin_);
        if (r.index() == 1) return std::get<1>(r);
        out = std::move(std::get<0>(r));
        return std::nullopt;
    }

    Error directive(std::string_view text) {
        std::vector<std::string> words;
        std::istringstream in{std::string(text)};
        for (std::string w; in >> w;) words.push_back(w);
        if (words.empty()) return "empty pigeon: directive";
        const std::string& verb = words[0];

        std::optional<Rcode> rcode;
        if (iequals(verb, "timeout")) rcode = Rcode::timeout;
        else if (iequals(verb, "servfail")) rcode = Rcode::servfail;
        else if (iequals(verb, "refused")) rcode = Rcode::refused;
        if (rcode) {
            if (words.size() < 2 || words.size() > 3) return "usage: ; pigeon: " + verb + " NAME [TYPE]";
            std::string n;
            if (auto e = name(words[1], n)) return e;
            if (words.size() == 3) {
                auto type = type_from_name(words[2]);
                if (!type) return "unknown type '" + words[2] + "' in directive";
                st_.question_failures[Question{n, *type}] = *rcode;
            } else {
                st_.name_failures[n] = *rcode;
            }
            return std::nullopt;
        }

        std::optional<Security> security;
        if (iequals(verb, "secure")) security = Security::secure;
        else if (iequals(verb, "bogus")) security = Security::bogus;
        else if (iequals(verb, "insecure")) security = Security::insecure;
        else if (iequals(verb, "indeterminate")) security = Security::indeterminate;
        if (security) {
            if (words.size() != 2) return "usage: ; pigeon: " + verb + " ZONE";
            std::string n;
            if (auto e = name(words[1], n)) return e;
            st_.security[n] = *security;
            return std::nullopt;
        }
        return "unknown pigeon: directive '" + verb + "'";
    }

    Error control(const Entry& e) {
        const std::string& word = e.tokens[0].text;
        if (iequals(word, "$ORIGIN")) {
            if (e.tokens.size() != 2 || e.tokens[1].quoted) return "usage: $ORIGIN name";
            std::string n;
            if (auto err = name(e.tokens[1].text, n)) return err;
            origin_ = std::move(n);
            return std::nullopt;
        }
        if (iequals(word, "$TTL")) {
            if (e.tokens.size() != 2) return "usage: $TTL ttl";
            auto ttl = parse_ttl(e.tokens[1].text);
            if (!ttl) return "bad TTL '" + e.tokens[1].text + "'";
            default_ttl_ = *ttl;
            return std::nullopt;
        }
        if (iequals(word, "$INCLUDE")) return "$INCLUDE is not supported";
        return "unknown control entry '" + word + "'";
    }

    Error entry(const Entry& e) {
        const auto& t = e.tokens;
        if (!e.blank_owner && !t[0].quoted && t[0].text.front() == '$') return control(e);

        std::size_t i = 0;
        std::string owner;
        if (e.blank_owner) {
            if (!last_owner_) return "no owner name, and no previous record to take it from";
            owner = *last_owner_;
        } else {
            if (t[0].quoted) return "owner name may not be quoted";
            if (auto err = name(t[0].text, owner)) return err;
            i = 1;
        }

        std::optional<std::uint32_t> ttl;
        bool have_class = false;
        for (int k = 0; k < 2 && i < t.size() && !t[i].quoted; ++k) {
            const std::string& w = t[i].text;
            if (is_digit(w.front())) {
                if (ttl) return "two TTLs";
                ttl = parse_ttl(w);
                if (!ttl) return "bad TTL '" + w + "'";
            } else if (iequals(w, "IN")) {
                if (have_class) return "two classes";
                have_class = true;
            } else if (iequals(w, "CH") || iequals(w, "HS") || iequals(w, "CS") || iequals(w, "ANY")) {
                return "only class IN is supported";
            } else {
                break;
            }
            ++i;
        }
        if (i >= t.size()) return "missing type";
        if (t[i].quoted) return "type may not be quoted";
        const auto type = type_from_name(t[i].text);
        if (!type) return "unsupported type '" + t[i].text + "'";
        ++i;
        const std::vector<Token> rdata(t.begin() + static_cast<std::ptrdiff_t>(i), t.end());

        if (ttl) last_ttl_ = ttl;
        const std::uint32_t record_ttl = ttl ? *ttl
                                       : default_ttl_ ? *default_ttl_
                                       : last_ttl_ ? *last_ttl_
                                                   : default_zone_ttl_seconds;
        last_owner_ = owner;

        Record record;
        record.name = owner;
        record.type = *type;
        record.ttl = record_ttl;
        if (auto err = fill(*type, rdata, record)) return err;
        if (*type == RrType::soa) {
            soa_owners_.insert(owner);
            st_.note_exists(owner);
            return std::nullopt;
        }
        return store(std::move(record));
    }

    Error store(Record record) {
        const Record* cname = st_.find_type(record.name, RrType::cname);
        if (record.type == RrType::cname) {
            if (cname) {
                if (cname->data == record.data) return std::nullopt;
                return "second CNAME at '" + record.name + "'";
            }
            auto node = st_.by_name.find(record.name);
            if ((node != st_.by_name.end() && !node->second.empty()) || soa_owners_.count(record.name))
                return "CNAME at '" + record.name + "' alongside other records";
        } else if (cname) {
            return "record at '" + record.name + "' alongside its CNAME";
        }
        st_.add(std::move(record));
        return std::nullopt;
    }

    Error one_token(RrType type, const std::vector<Token>& rdata) const {
        if (rdata.size() != 1) return std::string(type_name(type)) + " takes exactly one field";
        if (rdata[0].quoted) return std::string(type_name(type)) + " data may not be quoted";
        return std::nullopt;
    }

    Error fill(RrType type, const std::vector<Token>& rdata, Record& r) const {
        const std::string tname = type_name(type);
        switch (type) {
            case RrType::a: {
                if (auto e = one_token(type, rdata)) return e;
                auto v = parse_ipv4(rdata[0].text);
                if (!v) return "bad IPv4 address '" + rdata[0].text + "'";
                r.data = *v;
                return std::nullopt;
            }
            case RrType::aaaa: {
                if (auto e = one_token(type, rdata)) return e;
                auto v = parse_ipv6(rdata[0].text);
                if (!v) return "bad IPv6 address '" + rdata[0].text + "'";
                r.data = *v;
                return std::nullopt;
            }
            case RrType::ns:
            case RrType::cname:
            case RrType::ptr: {
                if (auto e = one_token(type, rdata)) return e;
                Name n;
                if (auto e = name(rdata[0].text, n.name)) return e;
                r.data = std::move(n);
                return std::nullopt;
            }
            case RrType::mx: {
                if (rdata.size() != 2 || rdata[0].quoted || rdata[1].quoted)
                    return std::string("MX takes a preference and an exchange");
                auto pref = parse_number(rdata[0].text, 65535);
                if (!pref) return "bad MX preference '" + rdata[0].text + "'";
                Mx mx;
                mx.preference = static_cast<std::uint16_t>(*pref);
                if (auto e = name(rdata[1].text, mx.exchange)) return e;
                r.data = std::move(mx);
                return std::nullopt;
            }
            case RrType::txt:
            case RrType::spf: {
                if (rdata.empty()) return tname + " needs at least one character-string";
                Txt txt;
                std::size_t octets = 0;
                for (const auto& tok : rdata) {
                    std::string err;
                    auto s = decode_string(tok.text, err);
                    if (!s) return err;
                    // A long string as written becomes several 255-octet character-strings.
                    std::size_t at = 0;
                    do {
                        const std::string piece = s->substr(at, max_character_string_octets);
                        octets += 1 + piece.size();
                        txt.strings.push_back(piece);
                        at += max_character_string_octets;
                    } while (at < s->size());
                    if (octets > max_rdata_octets) return tname + " data longer than 65535 octets";
                }
                r.data = std::move(txt);
                return std::nullopt;
            }
            case RrType::tlsa: {
                if (rdata.size() < tlsa_fixed_octets + 1)
                    return std::string("TLSA takes usage, selector, matching type and hex data");
                std::uint64_t fields[tlsa_fixed_octets];
                for (std::size_t k = 0; k < tlsa_fixed_octets; ++k) {
                    auto v = rdata[k].quoted ? std::nullopt : parse_number(rdata[k].text, 255);
                    if (!v) return "bad TLSA field '" + rdata[k].text + "'";
                    fields[k] = *v;
                }
                std::string hex;
                for (std::size_t k = tlsa_fixed_octets; k < rdata.size(); ++k) {
                    if (rdata[k].quoted) return std::string("TLSA data may not be quoted");
                    hex += rdata[k].text;
                }
                if (hex.size() % 2 != 0) return std::string("TLSA data has an odd number of hex digits");
                if (hex.size() / 2 + tlsa_fixed_octets > max_rdata_octets)
                    return std::string("TLSA data longer than 65535 octets");
                Tlsa tlsa;
                tlsa.usage = static_cast<std::uint8_t>(fields[0]);
                tlsa.selector = static_cast<std::uint8_t>(fields[1]);
                tlsa.matching = static_cast<std::uint8_t>(fields[2]);
                for (std::size_t k = 0; k < hex.size(); k += 2) {
                    const int hi = hex_digit(hex[k]), lo = hex_digit(hex[k + 1]);
                    if (hi < 0 || lo < 0) return std::string("TLSA data is not hex");
                    tlsa.data += static_cast<char>(hi << 4 | lo);
                }
                r.data = std::move(tlsa);
                return std::nullopt;
            }
            case RrType::soa: {
                if (rdata.size() != soa_rdata_fields)
                    return std::string("SOA takes MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM");
                std::string ignored;
                for (std::size_t k = 0; k < 2; ++k) {
                    if (rdata[k].quoted) return std::string("SOA names may not be quoted");
                    if (auto e = name(rdata[k].text, ignored)) return e;
                }
                if (rdata[2].quoted || !parse_number(rdata[2].text, 0xffffffffu))
                    return "bad SOA serial '" + rdata[2].text + "'";
                for (std::size_t k = 3; k < soa_rdata_fields; ++k)
                    if (rdata[k].quoted || !parse_ttl(rdata[k].text)) return "bad SOA time '" + rdata[k].text + "'";
                return std::nullopt;
            }
        }
        return "unsupported type '" + tname + "'";
    }

    ZoneResolver::State& st_;
    std::string origin_;
    std::size_t line_ = 0;
    std::optional<std::uint32_t> default_ttl_, last_ttl_;
    std::optional<std::string> last_owner_;
    std::set<std::string> soa_owners_;
};

std::string name_text(const std::string& name) { return name.empty() ? "." : name + "."; }

}  // namespace

core::Result<ZoneResolver> ZoneResolver::parse(std::string_view text, std::string_view origin) {
    ZoneResolver zone;
    std::string start;
    if (!origin.empty()) {
        auto r = parse_name(origin.back() == '.' ? origin : std::string(origin) + ".", "");
        if (r.index() == 1) return ParseError{"origin: " + std::get<1>(r)};
        start = std::move(std::get<0>(r));
    }
    Parser parser(*zone.state_, std::move(start));
    if (auto err = parser.run(text)) return *err;
    return zone;
}

core::Result<ZoneResolver> ZoneResolver::load(const std::string& path, std::string_view origin) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return ParseError{path + ": cannot read"};
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return ParseError{path + ": cannot read"};
    auto r = parse(text, origin);
    if (!r) return ParseError{path + ": " + r.error().message};
    return r;
}

std::string to_zone_line(const Record& record) {
    std::string out = name_text(record.name) + " " + std::to_string(record.ttl) + " IN " +
                      type_name(record.type) + " ";
    static constexpr char hex[] = "0123456789abcdef";
    std::visit(
        [&](const auto& d) {
            using T = std::decay_t<decltype(d)>;
            if constexpr (std::is_same_v<T, Ipv4> || std::is_same_v<T, Ipv6>) {
                out += to_string(d);
            } else if constexpr (std::is_same_v<T, Mx>) {
                out += std::to_string(d.preference) + " " + name_text(d.exchange);
            } else if constexpr (std::is_same_v<T, Name>) {
                out += name_text(d.name);
            } else if constexpr (std::is_same_v<T, Txt>) {
                if (d.strings.empty()) out += "\"\"";
                for (std::size_t i = 0; i < d.strings.size(); ++i) {
                    if (i) out += ' ';
                    out += '"';
                    for (char c : d.strings[i]) {
                        const auto u = static_cast<unsigned char>(c);
                        if (c == '"' || c == '\\') {
                            out += '\\';
                            out += c;
                        } else if (u < 0x20 || u >= 0x7f) {
                            out += '\\';
                            out += static_cast<char>('0' + u / 100);
                            out += static_cast<char>('0' + u / 10 % 10);
                            out += static_cast<char>('0' + u % 10);
                        } else {
                            out += c;
                        }
                    }
                    out += '"';
                }
            } else if constexpr (std::is_same_v<T, Tlsa>) {
                out += std::to_string(d.usage) + " " + std::to_string(d.selector) + " " +
                       std::to_string(d.matching) + " ";
                for (char c : d.data) {
                    const auto u = static_cast<unsigned char>(c);
                    out += hex[u >> 4];
                    out += hex[u & 0xf];
                }
            }
        },
        record.data);
    return out;
}

}  // namespace pigeon::dns
