// pigeon/policy/srs.hpp: the Sender Rewriting Scheme, so that mail Pigeon forwards to another
// domain still passes SPF there, and a bounce of it finds its way back to the original sender.
//
// The format is libsrs2's (Shevek's "Sender Rewriting Scheme", the one postsrsd, Exim and
// most MTAs speak), so Pigeon's addresses and theirs decode each other with the same secret:
//   forward   alice@origin.example  ->  SRS0=HHHH=TT=origin.example=alice@<domain>
//             SRS0=HHHH=TT=d=l@first.example -> SRS1=HHHH=first.example==HHHH=TT=d=l@<domain>
//             SRS1=XXXX=first.example==...@b  -> SRS1=HHHH=first.example==...@<domain>
//   reverse   SRS0=HHHH=TT=origin.example=alice@<domain>  ->  alice@origin.example
//             SRS1=HHHH=first.example==...@<domain>       ->  SRS0...@first.example
//   TT        the day (days since 1970-01-01, UTC) modulo 1024 in two base32 characters
//             (RFC 4648's alphabet A-Z2-7); an SRS0 address older than max_age_days, or more
//             than a day in the future, is refused on reverse.
//   HHHH      the first hash_length characters of base64(HMAC-SHA1(secret, data)), where data
//             is lower-cased TT, domain and local part (SRS0), or the SRS1 host and the SRS0
//             part after "SRS0" (SRS1). Compared without regard to case on reverse (local
//             parts get case-folded on the way), as libsrs2 does. Every secret is tried on
//             reverse, the first signs: a rotated secret keeps old bounces working.
// The first separator after SRS0/SRS1 may be '=', '+' or '-'; the later ones are '='.
//
// Contract: pure functions of the options and the given day (no clock of its own); never
// throws. A forwarded local part longer than RFC 5321's 64 octets is not made (forward says
// why), since a bounce to it would be refused at RCPT.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pigeon::policy {

struct SrsOptions {
    std::string domain;                // the forwarding domain the addresses are @
    std::vector<std::string> secrets;  // the first signs; every one verifies (rotation)
    unsigned max_age_days = 21;        // libsrs2's default
    unsigned hash_length = 4;          // characters of HHHH made (libsrs2's default)
    unsigned hash_min_length = 4;      // the fewest accepted on reverse
};

struct SrsForward {
    std::string address;  // the rewritten address, or the original when no rewrite applies
    bool rewritten = false;
    std::string error;    // set when the address cannot be rewritten (address stays original)
};

struct SrsReverse {
    enum class Outcome { decoded, not_srs, malformed, bad_hash, expired };
    Outcome outcome = Outcome::not_srs;
    std::string address;  // Outcome::decoded: where the bounce goes
    std::string reason;   // otherwise: why (for the log and the 550 text)
};

// Days since 1970-01-01 UTC for a Unix time in seconds.
std::int64_t srs_day(std::int64_t unix_seconds);

class Srs {
public:
    explicit Srs(SrsOptions options);

    // The envelope sender for a copy forwarded off this host. The null sender and addresses
    // already @domain are left as they are (rewritten = false, no error).
    SrsForward forward(std::string_view address, std::int64_t day) const;
    // An SRS recipient @domain back to the address it stands for.
    SrsReverse reverse(std::string_view address, std::int64_t day) const;
    // True when the local part looks like SRS0/SRS1 (case-insensitive): reverse() decides.
    static bool looks_like_srs(std::string_view local_part);

    const SrsOptions& options() const { return options_; }

private:
    std::string hash(std::string_view secret, std::string_view data) const;  // full base64
    bool hash_matches(std::string_view given, std::string_view data) const;

    SrsOptions options_;
};

}  // namespace pigeon::policy
