// pigeon/auth/dkim/record.hpp: the DKIM-Signature header field (RFC 6376 3.5) and the DNS key
// record (3.6.1) as values.
//
// Contract:
//   - parse_signature() takes the field's value (after the colon, folded as received) and
//     checks everything that can be checked without DNS or the message: required tags
//     (v a b bh d h s), v=1, a known algorithm, c=, q= includes dns/txt, h= includes From,
//     i= within d=, l= and t=/x= are numbers, x= not before t=, base64 of b= and bh=. Any
//     failure is an error whose message becomes the permerror reason. z= is ignored, unknown
//     tags too (3.2). A value longer than max_signature_octets is refused before it is read,
//     and an h= of more than max_signed_fields names is refused: real signers stay far below
//     both, and each costs the verifier work per message.
//   - parse_key_record() takes one TXT record (its strings concatenated): v= if present must be
//     first and "DKIM1"; k= defaults to rsa; h= (acceptable hashes), s= (service types) and t=
//     flags are split; p= must be present; an empty p= means revoked (reported, not an error).
//   - Both are pure and never throw.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base64.hpp"
#include "auth/dkim/canon.hpp"
#include "core/result.hpp"

namespace pigeon::dkim {

enum class Algorithm { rsa_sha1, rsa_sha256, ed25519_sha256 };
const char* algorithm_name(Algorithm a);  // "rsa-sha256", ...
std::optional<Algorithm> algorithm_from_name(std::string_view name);  // case-insensitive

enum class KeyType { rsa, ed25519 };
KeyType key_type_of(Algorithm a);

// Longest t=/x= accepted (RFC 6376 3.5: at least 40 bits; 12 digits covers that).
inline constexpr std::size_t max_time_digits = 12;
// Longest l= accepted (3.5: "MUST NOT be larger than 76 decimal digits"); larger values are
// clamped to the largest std::uint64_t, which no body reaches.
inline constexpr std::size_t max_length_digits = 76;

// Longest DKIM-Signature value read, in octets. Real signatures are under 2 KiB (an 8192-bit
// b= is 1.4 KiB of base64; h= of 40 names about 400 octets); 64 KiB leaves room for any honest
// signer, and bounds what one field can make the verifier parse.
inline constexpr std::size_t max_signature_octets = 64 * 1024;
// Most names accepted in h=. Signers sign 5-40 fields (over-signing doubles a few); 512 is
// ten times the most seen, and bounds the header hash input a signature can ask for.
inline constexpr std::size_t max_signed_fields = 512;

struct Signature {
    Algorithm algorithm = Algorithm::rsa_sha256;
    Canon header_canon = Canon::simple;
    Canon body_canon = Canon::simple;
    std::string domain;                 // d=, lower case
    std::string selector;               // s=, lower case
    std::vector<std::string> headers;   // h=, lower case, in order
    std::string identity;               // i=, or "@" + d= when absent
    std::optional<std::uint64_t> body_length;  // l=
    std::optional<std::int64_t> timestamp;     // t=
    std::optional<std::int64_t> expiration;    // x=
    std::string signature;              // b=, decoded
    std::string body_hash;              // bh=, decoded
    std::string b_text;                 // b= as written (base64 with FWS)
    std::size_t b_begin = 0, b_end = 0; // offsets of the b= value in the parsed text
};

core::Result<Signature> parse_signature(std::string_view value);

// True if `identity` (i=, "local@domain" or "@domain") names `domain` or a subdomain of it.
bool identity_within(std::string_view identity, std::string_view domain);

struct KeyRecord {
    std::string key_type = "rsa";           // k=, lower case
    std::vector<std::string> hashes;        // h=, lower case; empty = all
    std::vector<std::string> services;      // s=, lower case; empty = "*"
    bool testing = false;                   // t=y
    bool strict = false;                    // t=s: i= domain must equal d=
    bool revoked = false;                   // p= empty
    std::string public_key;                 // p=, decoded
};

core::Result<KeyRecord> parse_key_record(std::string_view text);

// Base64 of tag values (RFC 4648, with padding): lenient where core::base64_decode is strict,
// because tag values carry folding white space (RFC 6376 3.2) and other verifiers accept
// non-zero pad bits. nullopt if malformed.
std::optional<std::string> base64_decode(std::string_view text);
using core::base64_encode;  // one encoder for the project (core/base64.hpp)

}  // namespace pigeon::dkim
