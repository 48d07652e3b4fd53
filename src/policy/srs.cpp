#include "policy/srs.hpp"

#include <botan/mac.h>

#include "core/ascii.hpp"
#include "core/base64.hpp"

namespace pigeon::policy {
namespace {

constexpr std::string_view base32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::size_t max_local_part = 64;  // RFC 5321 4.5.3.1.1

char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

bool is_separator(char c) { return c == '=' || c == '+' || c == '-'; }

// "SRS0" or "SRS1" (any case) and a separator: 0 or 1, or -1.
int srs_kind(std::string_view local) {
    if (local.size() < 5 || !is_separator(local[4])) return -1;
    if (!core::iequals(local.substr(0, 3), "SRS")) return -1;
    if (local[3] == '0') return 0;
    if (local[3] == '1') return 1;
    return -1;
}

std::string stamp(std::int64_t day) {
    const auto t = static_cast<unsigned>(((day % 1024) + 1024) % 1024);
    return {base32[(t >> 5) & 31u], base32[t & 31u]};
}

std::optional<unsigned> unstamp(std::string_view tt) {
    if (tt.size() != 2) return std::nullopt;
    unsigned t = 0;
    for (char c : tt) {
        const auto i = base32.find(upper(c));
        if (i == std::string_view::npos) return std::nullopt;
        t = (t << 5) | static_cast<unsigned>(i);
    }
    return t;
}

struct Split {
    std::string_view local, domain;
};
std::optional<Split> split(std::string_view address) {
    const auto at = address.rfind('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) return std::nullopt;
    return Split{address.substr(0, at), address.substr(at + 1)};
}

}  // namespace

std::int64_t srs_day(std::int64_t unix_seconds) {
    std::int64_t d = unix_seconds / 86400;
    if (unix_seconds % 86400 < 0) --d;
    return d;
}

Srs::Srs(SrsOptions options) : options_(std::move(options)) {
    if (options_.hash_length < 1) options_.hash_length = 1;
    if (options_.hash_length > 27) options_.hash_length = 27;  // base64 of 20 octets, no padding
    if (options_.hash_min_length < 1) options_.hash_min_length = 1;
    if (options_.hash_min_length > options_.hash_length) options_.hash_min_length = options_.hash_length;
}

bool Srs::looks_like_srs(std::string_view local_part) { return srs_kind(local_part) >= 0; }

std::string Srs::hash(std::string_view secret, std::string_view data) const {
    auto mac = Botan::MessageAuthenticationCode::create_or_throw("HMAC(SHA-1)");
    mac->set_key(reinterpret_cast<const std::uint8_t*>(secret.data()), secret.size());
    const std::string folded = core::ascii_lower(data);
    mac->update(reinterpret_cast<const std::uint8_t*>(folded.data()), folded.size());
    const auto digest = mac->final();
    return core::base64_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

bool Srs::hash_matches(std::string_view given, std::string_view data) const {
    if (given.size() < options_.hash_min_length || given.size() > 27) return false;
    for (const std::string& secret : options_.secrets) {
        if (core::iequals(hash(secret, data).substr(0, given.size()), given)) return true;
    }
    return false;
}

SrsForward Srs::forward(std::string_view address, std::int64_t day) const {
    SrsForward out{std::string(address), false, {}};
    if (address.empty()) return out;  // the null sender: nothing to return a bounce to
    const auto parts = split(address);
    if (!parts) {
        out.error = "not an address with a domain";
        return out;
    }
    if (core::iequals(parts->domain, options_.domain)) return out;  // already ours
    if (parts->domain.find_first_of("=@") != std::string_view::npos) {  // reverse could not split it
        out.error = "not a domain: " + std::string(parts->domain);
        return out;
    }
    if (options_.secrets.empty()) {
        out.error = "no SRS secret";
        return out;
    }
    const std::string_view local = parts->local;
    std::string host, user, data;  // SRS1: the first forwarder and the SRS0 part after "SRS0"
    std::string rewritten;
    switch (srs_kind(local)) {
        case 0:  // someone's SRS0: we become the second hop
            host = std::string(parts->domain);
            user = std::string(local.substr(4));
            break;
        case 1: {  // SRS1 already: keep its first forwarder and SRS0 part, sign anew
            const std::string_view rest = local.substr(5);
            const auto h = rest.find('=');
            const auto e = h == std::string_view::npos ? h : rest.find('=', h + 1);
            // The SRS0 part after the host keeps its own separator ("==HHHH=..."), as reverse needs.
            if (e == std::string_view::npos || e == h + 1 || e + 1 >= rest.size() || !is_separator(rest[e + 1])) {
                out.error = "a malformed SRS1 address";
                return out;
            }
            host = std::string(rest.substr(h + 1, e - h - 1));
            user = std::string(rest.substr(e + 1));
            break;
        }
        default: {
            const std::string tt = stamp(day);
            data = tt + std::string(parts->domain) + std::string(local);
            const std::string hh = hash(options_.secrets.front(), data).substr(0, options_.hash_length);
            rewritten = "SRS0=" + hh + "=" + tt + "=" + std::string(parts->domain) + "=" + std::string(local);
        }
    }
    if (rewritten.empty()) {
        const std::string hh = hash(options_.secrets.front(), host + user).substr(0, options_.hash_length);
        rewritten = "SRS1=" + hh + "=" + host + "=" + user;
    }
    if (rewritten.size() > max_local_part) {
        out.error = "the SRS local part would be " + std::to_string(rewritten.size()) + " octets (RFC 5321: at most 64)";
        return out;
    }
    out.address = rewritten + "@" + options_.domain;
    out.rewritten = true;
    return out;
}

SrsReverse Srs::reverse(std::string_view address, std::int64_t day) const {
    using O = SrsReverse::Outcome;
    const auto parts = split(address);
    if (!parts || !core::iequals(parts->domain, options_.domain)) return {O::not_srs, {}, "not @" + options_.domain};
    const std::string_view local = parts->local;
    const int kind = srs_kind(local);
    if (kind < 0) return {O::not_srs, {}, "not an SRS address"};
    const std::string_view rest = local.substr(5);  // HHHH=...
    const auto h = rest.find('=');
    if (h == std::string_view::npos || h == 0) return {O::malformed, {}, "no SRS hash"};
    const std::string_view given = rest.substr(0, h);
    const std::string_view body = rest.substr(h + 1);
    if (kind == 1) {  // HHHH=host=<SRS0 part after "SRS0">
        const auto e = body.find('=');
        if (e == std::string_view::npos || e == 0 || e + 1 >= body.size())
            return {O::malformed, {}, "a malformed SRS1 address"};
        const std::string_view host = body.substr(0, e), user = body.substr(e + 1);
        if (!is_separator(user.front())) return {O::malformed, {}, "a malformed SRS1 address"};
        if (!hash_matches(given, std::string(host) + std::string(user)))
            return {O::bad_hash, {}, "the SRS1 hash does not match"};
        return {O::decoded, "SRS0" + std::string(user) + "@" + std::string(host), {}};
    }
    // HHHH=TT=domain=local
    if (body.size() < 3 || body[2] != '=') return {O::malformed, {}, "no SRS0 time stamp"};
    const auto then = unstamp(body.substr(0, 2));
    if (!then) return {O::malformed, {}, "a malformed SRS0 time stamp"};
    const std::string_view tail = body.substr(3);
    const auto d = tail.find('=');
    if (d == std::string_view::npos || d == 0 || d + 1 >= tail.size())
        return {O::malformed, {}, "a malformed SRS0 address"};
    const std::string_view domain = tail.substr(0, d), user = tail.substr(d + 1);
    if (!hash_matches(given, std::string(body.substr(0, 2)) + std::string(domain) + std::string(user)))
        return {O::bad_hash, {}, "the SRS0 hash does not match"};
    const auto now = static_cast<unsigned>(((day % 1024) + 1024) % 1024);
    const unsigned age = (now + 1024 - *then) % 1024;  // 1023: stamped tomorrow (a clock ahead)
    if (age > options_.max_age_days && age != 1023)
        return {O::expired, {}, "the SRS0 address is " + std::to_string(age) + " days old (at most " +
                                    std::to_string(options_.max_age_days) + ")"};
    return {O::decoded, std::string(user) + "@" + std::string(domain), {}};
}

}  // namespace pigeon::policy
