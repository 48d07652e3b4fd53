// pigeon/auth/dkim/dkim.hpp: DKIM verification (RFC 6376 6, RFC 8463, RFC 8301) as a pure,
// restartable evaluation, and signing (RFC 6376 5) and key generation.
//
// Contract:
//   - DkimEvaluation::run(cache) is a pure function of the message, the options and the cache
//     (the design of auth/spf): it returns the first key Question ("<s>._domainkey.<d>" TXT)
//     the cache lacks, or, once every key is cached, the DkimVerification. All DNS questions
//     come before any hashing, so a replay never repeats the crypto. No clock: `now` is input.
//     run() is next_question() (header parsing only, done once when the evaluation is built)
//     followed by verify() (all canonicalization, hashing and public-key work), which callers
//     may run on different threads.
//   - The message is shared, not copied (core::MessageRef: in memory or a mapped file; only its
//     contiguous() octets are read); the std::string constructor and overload are for callers
//     that own a copy anyway.
//   - Every DKIM-Signature field is verified, top first, up to VerifyOptions::max_signatures
//     (the rest are counted in `ignored`), each with its own Status and reason:
//       permerror: unusable signature (syntax, required tags, i= outside d=, expired x=, t= in
//                  the future beyond the allowed skew, a value over max_signature_octets, h=
//                  of more than max_signed_fields names), no/malformed/revoked key, key type
//                  or h=/s=/t=s restrictions violated, RSA key under min_rsa_bits (RFC 8301)
//                  or over crypto::max_rsa_bits, or with an exponent other than 3, 5, 17,
//                  257, 65537 (auth/dkim/crypto.hpp: refused before any RSA operation);
//       temperror: the key lookup failed (SERVFAIL, timeout, REFUSED), or the CPU budget ran
//                  out (below);
//       fail:      body hash or signature does not verify, or l= exceeds the body;
//       policy:    rsa-sha1 when VerifyOptions::accept_rsa_sha1 is false;
//       pass:      verified (rsa-sha1 passes only when accepted, and is flagged weak).
//     `neutral` is never produced by the verifier; it exists for callers' overrides.
//   - Work per message is linear: h= selection indexes the header fields once (canon.hpp
//     FieldIndex); the body is canonicalized and hashed in chunks of body_hash_chunk octets
//     without a canonical copy, once per distinct (body canonicalization, hash, l=) among the
//     message's signatures.
//   - CPU budget: VerifyOptions::over_budget (null = unlimited; src/auth has no clock, the
//     caller measures) is polled before each signature, before each body_hash_chunk of body
//     hashing, and before each public-key operation (loading a key, verifying). Once it has
//     returned true it is not called again, the signature being verified and every one after
//     it get temperror "verification CPU budget exhausted", and no further hashing or
//     public-key work is done.
//   - l= is honoured (only that many canonical body octets are hashed) and reported in the
//     result, so policy can distrust it; sign() never emits l=.
//   - h= names absent from the message sign a null string (over-signing: 5.4.2): the verifier
//     simply finds no instance and hashes nothing.
//   - check_dkim_async() asks every key question first (header parsing may run on the caller's
//     or the resolver's thread), then hands exactly one task to `offload` that does all
//     canonicalization, hashing and public-key work and calls `done` from inside it. A null
//     offload runs that task inline (where the last answer arrived); a message with no
//     parsable signature (nothing to verify) or a driver that gave up calls `done` inline
//     without a task. `done` is called exactly once. `offload` must run the task once.
//   - sign() needs an RNG only because Botan's signer API takes one (RSA blinding); the output
//     does not depend on it (PKCS#1 v1.5 and Ed25519 are deterministic).
//   - Nothing throws out of run(), verify(), sign() or the key functions.
//   - run() and sign() may be called from several threads at once. Parsed public keys,
//     verifiers and signers are reused through bounded, locked caches (auth/dkim/crypto.hpp)
//     with the same results as without them; sign() reuses signers only for SignOptions::key
//     and draws from `rng` exactly what a fresh signer would. A shared `rng` must itself be
//     safe to use from those threads (Botan 2's AutoSeeded_RNG locks internally).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "auth/dkim/canon.hpp"
#include "auth/dkim/record.hpp"
#include "core/message_ref.hpp"
#include "core/result.hpp"
#include "dns/dns.hpp"

namespace Botan {
class Private_Key;
class RandomNumberGenerator;
}  // namespace Botan

namespace pigeon::dkim {

enum class Status { pass, fail, neutral, temperror, permerror, policy };
const char* status_name(Status status);  // RFC 8601 spelling: "pass", "permerror", ...

struct VerifyOptions {
    std::int64_t now = 0;               // seconds since the epoch, for t= and x=
    std::size_t max_signatures = 10;    // DKIM-Signature fields verified per message
    std::int64_t future_skew = 300;     // t= may be this far ahead of `now` (clock drift)
    std::size_t min_rsa_bits = 1024;    // RFC 8301 3.2: smaller keys MUST NOT be valid
    bool accept_rsa_sha1 = true;        // false: rsa-sha1 signatures get `policy`
    std::function<bool()> over_budget;  // true: CPU budget spent (see the contract); null = none
};

// Body octets canonicalized and hashed between two polls of VerifyOptions::over_budget.
inline constexpr std::size_t body_hash_chunk = 64 * 1024;
// The reason given to signatures not verified because the budget ran out.
inline constexpr const char* budget_exhausted_reason = "verification CPU budget exhausted";

struct SignatureResult {
    Status status = Status::permerror;
    std::string reason;                 // empty for pass
    std::string domain;                 // d= (empty if the signature did not parse)
    std::string selector;               // s=
    std::string identity;               // i= (or "@d")
    std::string b_prefix;               // first 8 characters of b=, RFC 6008 header.b
    std::optional<Algorithm> algorithm;
    std::optional<std::uint64_t> body_length;  // l=, when the signature covered only a prefix
    std::size_t key_bits = 0;           // RSA modulus size, 256 for Ed25519
    bool testing = false;               // the key record says t=y
    bool weak_algorithm = false;        // rsa-sha1 (RFC 8301: historic)
};

struct DkimVerification {
    std::vector<SignatureResult> signatures;  // one per DKIM-Signature, top first
    std::size_t ignored = 0;            // DKIM-Signature fields beyond max_signatures
    std::string problem;                // the header section could not be parsed
};

// The key question for a selector and domain.
dns::Question key_question(std::string_view selector, std::string_view domain);

class DkimEvaluation {
public:
    DkimEvaluation(core::MessageRef message, VerifyOptions options);
    DkimEvaluation(std::string message, VerifyOptions options);
    using Step = std::variant<dns::Question, DkimVerification>;
    Step run(const dns::AnswerCache& cache) const;

    // The first key question the cache lacks; nullopt once there is none. Cheap: no hashing.
    std::optional<dns::Question> next_question(const dns::AnswerCache& cache) const;
    // True if some signature parsed, so verify() has hashing and key work to do.
    bool needs_crypto() const;
    // The verification with the answers in `cache` (a key it lacks: temperror). All the work.
    DkimVerification verify(const dns::AnswerCache& cache) const;

private:
    struct Parsed;  // the header section and the signatures, parsed once (dkim.cpp)
    core::MessageRef message_;
    std::shared_ptr<const Parsed> parsed_;
    VerifyOptions options_;
};

// Runs a task (all of one message's verification work) somewhere, once: a worker pool.
using Offload = std::function<void(std::function<void()>)>;

void check_dkim_async(dns::Resolver& resolver, core::MessageRef message, VerifyOptions options,
                      Offload offload, std::function<void(DkimVerification)> done);
// The same with a null offload: the verification runs where the last key answer arrived.
void check_dkim_async(dns::Resolver& resolver, std::string message, VerifyOptions options,
                      std::function<void(DkimVerification)> done);

// ---- Signing

// Signed when present (RFC 6376 5.4.1's list, trimmed of fields that relays rewrite).
const std::vector<std::string>& default_signed_headers();
// Signed once more than they occur, so none can be added later (5.4.2).
const std::vector<std::string>& default_oversigned_headers();

struct SignOptions {
    std::string domain;                 // d=
    std::string selector;               // s=
    std::string private_key;            // PEM (PKCS#8) text; or base64 of a 32-byte Ed25519 seed
    std::shared_ptr<const Botan::Private_Key> key;  // used instead of private_key when set
    Algorithm algorithm = Algorithm::rsa_sha256;     // rsa-sha1 is refused
    std::vector<std::string> headers = default_signed_headers();
    std::vector<std::string> oversign = default_oversigned_headers();
    Canon header_canon = Canon::relaxed;
    Canon body_canon = Canon::relaxed;
    std::int64_t now = 0;               // t=
    std::optional<std::int64_t> expire_after;  // x= = now + this
    std::string identity;               // i=, empty = not emitted
};

// The DKIM-Signature field (folded, ending in CRLF) to prepend to `message` (CRLF lines).
core::Result<std::string> sign(std::string_view message, const SignOptions& options,
                               Botan::RandomNumberGenerator& rng);

// ---- Keys

inline constexpr std::size_t default_rsa_bits = 2048;

struct GeneratedKey {
    std::string private_key_pem;        // PKCS#8 PEM
    std::string dns_record;             // "v=DKIM1; k=rsa; p=..." (one string, may exceed 255)
};
core::Result<GeneratedKey> generate_key(KeyType type, Botan::RandomNumberGenerator& rng,
                                        std::size_t rsa_bits = default_rsa_bits);

// A private key from PEM (PKCS#8) text or from base64 of a raw 32-byte Ed25519 seed (the
// format dkimpy uses).
core::Result<std::shared_ptr<const Botan::Private_Key>> load_private_key(std::string_view text,
                                                                         Botan::RandomNumberGenerator& rng);
// The TXT record text publishing the public half of `key`.
core::Result<std::string> dns_record_for(const Botan::Private_Key& key);

}  // namespace pigeon::dkim
