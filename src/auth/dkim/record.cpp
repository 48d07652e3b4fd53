// DKIM-Signature and key record parsing; see record.hpp.
#include "auth/dkim/record.hpp"

#include "core/ascii.hpp"

#include <cctype>
#include <limits>

#include "auth/dkim/tag_list.hpp"

namespace pigeon::dkim {

namespace {

core::ParseError error(std::string message) { return core::ParseError{std::move(message)}; }

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

std::optional<std::uint64_t> parse_number(std::string_view s, std::size_t max_digits, bool clamp) {
    if (!all_digits(s) || s.size() > max_digits) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        std::uint64_t d = static_cast<std::uint64_t>(c - '0');
        if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
            if (!clamp) return std::nullopt;
            return std::numeric_limits<std::uint64_t>::max();
        }
        v = v * 10 + d;
    }
    return v;
}

// A domain name as DKIM uses it: labels of letters, digits, "-" and "_" (selectors and
// some d= use underscores), separated by single dots.
bool valid_domain(std::string_view d) {
    if (d.empty() || d.front() == '.' || d.back() == '.') return false;
    char prev = '.';
    for (char c : d) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok || (c == '.' && prev == '.')) return false;
        prev = c;
    }
    return true;
}

// Base64 alphabet value of each octet; -1 for anything else, -2 for FWS (skipped).
struct Base64Table {
    signed char value[256];
    constexpr Base64Table() : value() {
        for (int c = 0; c < 256; ++c) value[c] = -1;
        for (int c = 'A'; c <= 'Z'; ++c) value[c] = static_cast<signed char>(c - 'A');
        for (int c = 'a'; c <= 'z'; ++c) value[c] = static_cast<signed char>(c - 'a' + 26);
        for (int c = '0'; c <= '9'; ++c) value[c] = static_cast<signed char>(c - '0' + 52);
        value[static_cast<int>('+')] = 62;
        value[static_cast<int>('/')] = 63;
        for (char c : {' ', '\t', '\r', '\n'}) value[static_cast<unsigned char>(c)] = -2;
    }
};
constexpr Base64Table base64_table;

}  // namespace

const char* algorithm_name(Algorithm a) {
    switch (a) {
        case Algorithm::rsa_sha1: return "rsa-sha1";
        case Algorithm::rsa_sha256: return "rsa-sha256";
        case Algorithm::ed25519_sha256: return "ed25519-sha256";
    }
    return "?";
}

std::optional<Algorithm> algorithm_from_name(std::string_view name) {
    std::string n = core::ascii_lower(name);
    if (n == "rsa-sha1") return Algorithm::rsa_sha1;
    if (n == "rsa-sha256") return Algorithm::rsa_sha256;
    if (n == "ed25519-sha256") return Algorithm::ed25519_sha256;
    return std::nullopt;
}

KeyType key_type_of(Algorithm a) { return a == Algorithm::ed25519_sha256 ? KeyType::ed25519 : KeyType::rsa; }

std::optional<std::string> base64_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size() / 4 * 3 + 3);
    std::uint32_t acc = 0;
    int bits = 0, pad = 0, count = 0;
    // Fast path: whole groups of four alphabet characters, three octets each, and FWS between
    // groups. It stops at the first group with anything else (FWS inside a group, "=", a bad
    // character), which the general loop below then handles from a group boundary (bits = 0,
    // count a multiple of 4), exactly as if it had read everything before.
    std::size_t i = 0;
    const auto* table = base64_table.value;
    while (i + 4 <= text.size()) {
        if (table[static_cast<unsigned char>(text[i])] == -2) {  // FWS between groups
            ++i;
            continue;
        }
        const int a = table[static_cast<unsigned char>(text[i])], b = table[static_cast<unsigned char>(text[i + 1])],
                  c = table[static_cast<unsigned char>(text[i + 2])], d = table[static_cast<unsigned char>(text[i + 3])];
        if ((a | b | c | d) < 0) break;
        const std::uint32_t group = (static_cast<std::uint32_t>(a) << 18) | (static_cast<std::uint32_t>(b) << 12) |
                                    (static_cast<std::uint32_t>(c) << 6) | static_cast<std::uint32_t>(d);
        const char three[3] = {static_cast<char>(group >> 16), static_cast<char>((group >> 8) & 0xFF),
                               static_cast<char>(group & 0xFF)};
        out.append(three, 3);
        count += 4;
        i += 4;
    }
    for (char c : text.substr(i)) {
        int v = table[static_cast<unsigned char>(c)];
        if (v == -2) continue;  // FWS
        if (c == '=') {
            ++pad;
            ++count;
            continue;
        }
        if (pad > 0) return std::nullopt;  // data after padding
        if (v < 0) return std::nullopt;
        ++count;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    if (pad > 2 || count % 4 != 0) return std::nullopt;
    return out;
}

bool identity_within(std::string_view identity, std::string_view domain) {
    std::size_t at = identity.rfind('@');
    if (at == std::string_view::npos) return false;
    std::string id = core::ascii_lower(identity.substr(at + 1));
    std::string d = core::ascii_lower(domain);
    if (id == d) return true;
    return id.size() > d.size() && id.compare(id.size() - d.size(), d.size(), d) == 0 &&
           id[id.size() - d.size() - 1] == '.';
}

core::Result<Signature> parse_signature(std::string_view value) {
    if (value.size() > max_signature_octets)
        return error("DKIM-Signature of " + std::to_string(value.size()) + " octets is longer than " +
                     std::to_string(max_signature_octets));
    auto parsed = parse_tag_list(value);
    if (!parsed) return error("signature tag-list: " + parsed.error().message);
    const TagList& tags = parsed.value();
    for (const char* required : {"v", "a", "b", "bh", "d", "h", "s"})
        if (!tags.find(required)) return error(std::string("signature lacks the required tag ") + required + "=");
    Signature sig;
    if (tags.find("v")->value != "1") return error("unsupported signature version v=" + std::string(tags.find("v")->value));

    auto algorithm = algorithm_from_name(tags.find("a")->value);
    if (!algorithm) return error("unknown signing algorithm a=" + std::string(tags.find("a")->value));
    sig.algorithm = *algorithm;

    if (const Tag* c = tags.find("c")) {
        std::string text = core::ascii_lower(c->value);
        std::size_t slash = text.find('/');
        std::string h = text.substr(0, slash), b = slash == std::string::npos ? "simple" : text.substr(slash + 1);
        auto canon = [](const std::string& s) -> std::optional<Canon> {
            if (s == "simple") return Canon::simple;
            if (s == "relaxed") return Canon::relaxed;
            return std::nullopt;
        };
        auto hc = canon(h), bc = canon(b);
        if (!hc || !bc) return error("unknown canonicalization c=" + std::string(c->value));
        sig.header_canon = *hc;
        sig.body_canon = *bc;
    }

    sig.domain = core::ascii_lower(tags.find("d")->value);
    if (!valid_domain(sig.domain)) return error("bad signing domain d=" + sig.domain);
    sig.selector = core::ascii_lower(tags.find("s")->value);
    if (!valid_domain(sig.selector)) return error("bad selector s=" + sig.selector);

    bool has_from = false;
    std::vector<std::string> names = split_list(tags.find("h")->value);
    if (names.size() > max_signed_fields)
        return error("h= names " + std::to_string(names.size()) + " header fields, more than " +
                     std::to_string(max_signed_fields));
    sig.headers.reserve(names.size());
    for (const std::string& h : names) {
        if (h.empty()) return error("empty header name in h=");
        for (char c : h)
            if (c < 33 || c > 126 || c == ':') return error("bad header name in h=");
        std::string name = core::ascii_lower(h);
        if (name == "from") has_from = true;
        sig.headers.push_back(std::move(name));
    }
    if (!has_from) return error("h= does not include From");

    if (const Tag* i = tags.find("i")) {
        // i= is dkim-quoted-printable (2.11, 3.5): "=XX" hex escapes, FWS ignored.
        std::string raw = strip_fws(i->value);
        for (std::size_t k = 0; k < raw.size(); ++k) {
            if (raw[k] == '=' && k + 2 < raw.size() && std::isxdigit(static_cast<unsigned char>(raw[k + 1])) &&
                std::isxdigit(static_cast<unsigned char>(raw[k + 2]))) {
                sig.identity += static_cast<char>(std::stoi(raw.substr(k + 1, 2), nullptr, 16));
                k += 2;
            } else if (raw[k] == '=') {
                return error("bad quoted-printable in i=");
            } else {
                sig.identity += raw[k];
            }
        }
        if (sig.identity.find('@') == std::string::npos) return error("i= has no \"@\"");
        if (!identity_within(sig.identity, sig.domain))
            return error("i= " + sig.identity + " is not within d=" + sig.domain);
    } else {
        sig.identity = "@" + sig.domain;
    }

    if (const Tag* q = tags.find("q")) {
        bool dns = false;
        for (const std::string& m : split_list(q->value))
            if (core::ascii_lower(m) == "dns/txt" || core::ascii_lower(m) == "dns") dns = true;
        if (!dns) return error("q= does not offer dns/txt");
    }

    if (const Tag* l = tags.find("l")) {
        auto n = parse_number(l->value, max_length_digits, true);
        if (!n) return error("bad body length l=" + std::string(l->value));
        sig.body_length = *n;
    }
    if (const Tag* t = tags.find("t")) {
        auto n = parse_number(t->value, max_time_digits, false);
        if (!n) return error("bad timestamp t=" + std::string(t->value));
        sig.timestamp = static_cast<std::int64_t>(*n);
    }
    if (const Tag* x = tags.find("x")) {
        auto n = parse_number(x->value, max_time_digits, false);
        if (!n) return error("bad expiration x=" + std::string(x->value));
        sig.expiration = static_cast<std::int64_t>(*n);
    }
    if (sig.timestamp && sig.expiration && *sig.expiration < *sig.timestamp)
        return error("x= is before t=");

    const Tag* b = tags.find("b");
    auto signature = base64_decode(b->value);
    if (!signature || signature->empty()) return error("bad base64 in b=");
    sig.signature = std::move(*signature);
    sig.b_text = std::string(b->value);
    sig.b_begin = b->value_begin;
    sig.b_end = b->value_end;
    auto body_hash = base64_decode(tags.find("bh")->value);
    if (!body_hash || body_hash->empty()) return error("bad base64 in bh=");
    sig.body_hash = std::move(*body_hash);
    return sig;
}

core::Result<KeyRecord> parse_key_record(std::string_view text) {
    auto parsed = parse_tag_list(text);
    if (!parsed) return error("key record tag-list: " + parsed.error().message);
    const TagList& tags = parsed.value();
    KeyRecord key;
    if (const Tag* v = tags.find("v")) {
        if (&tags.tags.front() != v) return error("v= is not the first tag of the key record");
        if (v->value != "DKIM1") return error("key record version v=" + std::string(v->value));
    }
    if (const Tag* k = tags.find("k")) key.key_type = core::ascii_lower(k->value);
    if (const Tag* h = tags.find("h"))
        for (const std::string& s : split_list(h->value)) key.hashes.push_back(core::ascii_lower(s));
    if (const Tag* s = tags.find("s"))
        for (const std::string& t : split_list(s->value)) key.services.push_back(core::ascii_lower(t));
    if (const Tag* t = tags.find("t"))
        for (const std::string& f : split_list(t->value)) {
            if (f == "y") key.testing = true;
            if (f == "s") key.strict = true;
        }
    const Tag* p = tags.find("p");
    if (!p) return error("key record has no p=");
    if (p->value.empty()) {
        key.revoked = true;
        return key;
    }
    auto decoded = base64_decode(p->value);
    if (!decoded || decoded->empty()) return error("bad base64 in the key record's p=");
    key.public_key = std::move(*decoded);
    return key;
}

}  // namespace pigeon::dkim
