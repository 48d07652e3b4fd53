// DKIM verification and its DNS driver; see dkim.hpp.
#include "auth/dkim/dkim.hpp"

#include "core/ascii.hpp"

#include "dns/drive.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "auth/dkim/crypto.hpp"
#include "auth/dkim/tag_list.hpp"

namespace pigeon::dkim {

namespace {

bool is_signature_field(const Field& f) { return name_equals(f.name, "DKIM-Signature"); }

std::string domain_of(std::string_view identity) {
    std::size_t at = identity.rfind('@');
    return core::ascii_lower(at == std::string_view::npos ? identity : identity.substr(at + 1));
}

bool contains(const std::vector<std::string>& list, std::string_view item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

// The header hash input of RFC 6376 3.7 step 2: the fields named by h=, each instance taken
// from the bottom up, then the signature field itself without its b= value and final CRLF.
std::string header_hash_input(const FieldIndex& index, const std::vector<std::string>& names,
                              const Field& signature_field, std::size_t b_begin, std::size_t b_end,
                              Canon canon) {
    std::string data;
    data.reserve(1024);
    for (const Field* f : index.select(names))
        if (f != nullptr) append_canonical_header(data, *f, canon);  // null: over-signing, nothing
    std::size_t value_offset = static_cast<std::size_t>(signature_field.value.data() - signature_field.raw.data());
    std::string raw(signature_field.raw);
    raw.erase(value_offset + b_begin, b_end - b_begin);
    Field stripped{raw, signature_field.name,
                   std::string_view(raw).substr(value_offset, signature_field.value.size() - (b_end - b_begin))};
    append_canonical_header(data, stripped, canon);
    data.resize(data.size() - 2);  // no CRLF after the signature field (3.7)
    return data;
}

struct Candidate {
    const Field* field;
    core::Result<Signature> signature;
};

std::vector<Candidate> candidates(const Message& message, const VerifyOptions& options, std::size_t& ignored) {
    std::vector<Candidate> out;
    ignored = 0;
    for (const Field& f : message.fields) {
        if (!is_signature_field(f)) continue;
        if (out.size() >= options.max_signatures) {
            ++ignored;
            continue;
        }
        out.push_back(Candidate{&f, parse_signature(f.value)});
    }
    return out;
}

// VerifyOptions::over_budget, latched: once it said true it is not asked again.
class Budget {
public:
    explicit Budget(const std::function<bool()>& check) : check_(check) {}
    bool exhausted() {
        if (!exhausted_ && check_ && check_()) exhausted_ = true;
        return exhausted_;
    }

private:
    const std::function<bool()>& check_;
    bool exhausted_ = false;
};

// The body hash of one (canonicalization, hash, l=), computed in chunks.
struct BodyHash {
    enum class Outcome { hashed, too_short, over_budget } outcome = Outcome::hashed;
    std::string digest;
};

BodyHash hash_body(std::string_view body, Canon canon, Algorithm algorithm, std::optional<std::uint64_t> length,
                   Budget& budget) {
    crypto::Digest digest(algorithm);
    std::uint64_t left = length.value_or(0);  // octets of l= still to hash
    BodyCanonicalizer canonicalizer(canon, [&](std::string_view out) {
        if (!length) {
            digest.update(out);
            return;
        }
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, out.size()));
        digest.update(out.substr(0, n));
        left -= n;
    });
    bool covered = false;  // l= octets all hashed: the rest of the body is not signed
    for (std::size_t at = 0; !covered; at += body_hash_chunk) {
        if (budget.exhausted()) return {BodyHash::Outcome::over_budget, {}};
        covered = length && left == 0;
        if (covered) break;
        if (at >= body.size()) {
            canonicalizer.finish();
            break;
        }
        canonicalizer.put(body.substr(at, body_hash_chunk));
    }
    if (length && left > 0) return {BodyHash::Outcome::too_short, {}};
    return {BodyHash::Outcome::hashed, digest.final()};
}

// What verifying one message's signatures shares: the field index, the body hashes, the
// budget. Lives for one verify() call.
class Verifier {
public:
    Verifier(const Message& message, const VerifyOptions& options)
        : message_(message), options_(options), budget_(options.over_budget), index_(message) {}

    SignatureResult verify(const Candidate& c, const dns::AnswerCache& cache);

private:
    SignatureResult check_key(const Candidate& c, const dns::Answer& answer, std::optional<KeyRecord>& key);
    SignatureResult crypto_checks(const Candidate& c, SignatureResult r, const KeyRecord& key);
    const BodyHash& body_hash(const Signature& sig);

    const Message& message_;
    const VerifyOptions& options_;
    Budget budget_;
    FieldIndex index_;
    struct Memo {
        Canon canon;
        bool sha1;
        std::optional<std::uint64_t> length;
        BodyHash hash;
    };
    std::vector<Memo> body_hashes_;  // one per distinct (canonicalization, hash, l=)
};

SignatureResult failed(SignatureResult r, Status status, std::string reason) {
    r.status = status;
    r.reason = std::move(reason);
    return r;
}

// What can be reported of a signature before anything is checked.
SignatureResult describe(const Candidate& c) {
    SignatureResult r;
    if (!c.signature) {
        // Report what can be read, so Authentication-Results can name the signature.
        if (c.field->value.size() <= max_signature_octets)
            if (auto tags = parse_tag_list(c.field->value)) {
                if (const Tag* d = tags.value().find("d")) r.domain = core::ascii_lower(d->value);
                if (const Tag* s = tags.value().find("s")) r.selector = core::ascii_lower(s->value);
            }
        return r;
    }
    const Signature& sig = c.signature.value();
    r.domain = sig.domain;
    r.selector = sig.selector;
    r.identity = sig.identity;
    r.algorithm = sig.algorithm;
    r.body_length = sig.body_length;
    for (char ch : sig.b_text) {  // strip_fws(b_text).substr(0, 8), without the copy
        if (r.b_prefix.size() == 8) break;
        if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') r.b_prefix += ch;
    }
    r.weak_algorithm = sig.algorithm == Algorithm::rsa_sha1;
    return r;
}

SignatureResult Verifier::verify(const Candidate& c, const dns::AnswerCache& cache) {
    SignatureResult r = describe(c);
    if (budget_.exhausted()) return failed(std::move(r), Status::temperror, budget_exhausted_reason);
    if (!c.signature) return failed(std::move(r), Status::permerror, c.signature.error().message);
    const Signature& sig = c.signature.value();
    if (sig.expiration && *sig.expiration < options_.now)
        return failed(std::move(r), Status::permerror, "signature expired (x=)");
    if (sig.timestamp && *sig.timestamp > options_.now + options_.future_skew)
        return failed(std::move(r), Status::permerror, "signature timestamp t= is in the future");
    const dns::Answer* answer = cache.find(key_question(sig.selector, sig.domain));
    if (answer == nullptr)
        return failed(std::move(r), Status::temperror,
                      "key lookup for " + sig.selector + "._domainkey." + sig.domain + ": not answered");
    std::optional<KeyRecord> key;
    SignatureResult checked = check_key(c, *answer, key);
    if (!key) {  // check_key's verdict, on top of the description
        r.testing = checked.testing;
        return failed(std::move(r), checked.status, std::move(checked.reason));
    }
    r.testing = key->testing;
    return crypto_checks(c, std::move(r), *key);
}

// The key record and its restrictions (3.6.1, 6.1.2). `key` is set only if it may be used;
// otherwise the returned result carries the status and reason.
SignatureResult Verifier::check_key(const Candidate& c, const dns::Answer& answer, std::optional<KeyRecord>& key) {
    SignatureResult r;
    const Signature& sig = c.signature.value();
    const std::string where = sig.selector + "._domainkey." + sig.domain;
    if (answer.rcode != dns::Rcode::noerror && answer.rcode != dns::Rcode::nxdomain)
        return failed(r, Status::temperror, std::string("key lookup for ") + where + ": " + dns::rcode_name(answer.rcode));
    std::vector<std::string> texts;
    for (const dns::Record& rec : answer.records)
        if (const auto* txt = std::get_if<dns::Txt>(&rec.data)) {
            std::string joined;
            for (const std::string& s : txt->strings) joined += s;
            texts.push_back(std::move(joined));
        }
    if (texts.empty()) return failed(r, Status::permerror, "no key record at " + where);
    // 3.6.2.2: several records are ambiguous. Use the first that parses and has the key type
    // the signature needs (a selector may publish an RSA and an Ed25519 record), else the
    // first that parses, whose mismatch is then reported.
    const KeyType type = key_type_of(sig.algorithm);
    const char* wanted = type == KeyType::rsa ? "rsa" : "ed25519";
    std::optional<KeyRecord> found;
    std::string key_error;
    for (const std::string& t : texts) {
        auto parsed = parse_key_record(t);
        if (!parsed) {
            if (key_error.empty()) key_error = parsed.error().message;
            continue;
        }
        if (!found || (found->key_type != wanted && parsed.value().key_type == wanted)) found = parsed.value();
    }
    if (!found) return failed(r, Status::permerror, key_error);
    r.testing = found->testing;
    if (found->revoked) return failed(r, Status::permerror, "key revoked (empty p=)");
    if (found->key_type != wanted)
        return failed(r, Status::permerror,
                      "key type k=" + found->key_type + " does not match a=" + algorithm_name(sig.algorithm));
    const char* hash = sig.algorithm == Algorithm::rsa_sha1 ? "sha1" : "sha256";
    if (!found->hashes.empty() && !contains(found->hashes, hash))
        return failed(r, Status::permerror, std::string("key record h= does not allow ") + hash);
    if (!found->services.empty() && !contains(found->services, "*") && !contains(found->services, "email"))
        return failed(r, Status::permerror, "key record s= does not include email");
    if (found->strict && domain_of(sig.identity) != sig.domain)
        return failed(r, Status::permerror, "key record t=s: i= domain must equal d=");
    key = std::move(found);
    return r;
}

// The key's own limits, then the body hash, then the signature: the dear steps, each after
// a budget check.
SignatureResult Verifier::crypto_checks(const Candidate& c, SignatureResult r, const KeyRecord& key) {
    const Signature& sig = c.signature.value();
    const KeyType type = key_type_of(sig.algorithm);
    if (budget_.exhausted()) return failed(std::move(r), Status::temperror, budget_exhausted_reason);
    crypto::PublicKey public_key = crypto::cached_public_key(type, key.public_key);
    if (!public_key.key) return failed(std::move(r), Status::permerror, public_key.error);
    r.key_bits = public_key.bits;
    if (type == KeyType::rsa && public_key.bits < options_.min_rsa_bits)
        return failed(std::move(r), Status::permerror,
                      "RSA key of " + std::to_string(public_key.bits) + " bits is too short");

    const BodyHash& body = body_hash(sig);
    if (body.outcome == BodyHash::Outcome::over_budget)
        return failed(std::move(r), Status::temperror, budget_exhausted_reason);
    if (body.outcome == BodyHash::Outcome::too_short)
        return failed(std::move(r), Status::fail, "l= is longer than the body");
    if (body.digest != sig.body_hash) return failed(std::move(r), Status::fail, "body hash did not verify");

    std::string data = header_hash_input(index_, sig.headers, *c.field, sig.b_begin, sig.b_end, sig.header_canon);
    if (budget_.exhausted()) return failed(std::move(r), Status::temperror, budget_exhausted_reason);
    if (!crypto::verify(sig.algorithm, public_key, data, sig.signature))
        return failed(std::move(r), Status::fail, "signature did not verify");
    if (sig.algorithm == Algorithm::rsa_sha1 && !options_.accept_rsa_sha1)
        return failed(std::move(r), Status::policy, "rsa-sha1 is not accepted (RFC 8301)");
    r.status = Status::pass;
    return r;
}

const BodyHash& Verifier::body_hash(const Signature& sig) {
    const bool sha1 = sig.algorithm == Algorithm::rsa_sha1;  // rsa-sha256 and ed25519-sha256 share SHA-256
    for (const Memo& m : body_hashes_)
        if (m.canon == sig.body_canon && m.sha1 == sha1 && m.length == sig.body_length) return m.hash;
    BodyHash hash = hash_body(message_.body, sig.body_canon, sig.algorithm, sig.body_length, budget_);
    body_hashes_.push_back(Memo{sig.body_canon, sha1, sig.body_length, std::move(hash)});
    return body_hashes_.back().hash;
}

// The key questions of one evaluation, for dns::drive: the answers gathered, or nothing when
// the driver gave up.
struct KeysGathered {
    std::optional<dns::AnswerCache> cache;
};

struct KeyQuestions {
    std::shared_ptr<const DkimEvaluation> evaluation;
    std::variant<dns::Question, KeysGathered> run(const dns::AnswerCache& cache) const {
        if (auto q = evaluation->next_question(cache)) return *q;
        return KeysGathered{cache};
    }
};

}  // namespace

const char* status_name(Status status) {
    switch (status) {
        case Status::pass: return "pass";
        case Status::fail: return "fail";
        case Status::neutral: return "neutral";
        case Status::temperror: return "temperror";
        case Status::permerror: return "permerror";
        case Status::policy: return "policy";
    }
    return "?";
}

dns::Question key_question(std::string_view selector, std::string_view domain) {
    return dns::make_question(std::string(selector) + "._domainkey." + std::string(domain), dns::RrType::txt);
}

struct DkimEvaluation::Parsed {
    Message message;                  // views into message_
    std::vector<Candidate> candidates;
    std::size_t ignored = 0;
    std::string problem;              // the header section could not be parsed
};

DkimEvaluation::DkimEvaluation(core::MessageRef message, VerifyOptions options)
    : message_(std::move(message)), options_(std::move(options)) {
    auto parsed = std::make_shared<Parsed>();
    try {
        auto m = parse_message(message_.contiguous());
        if (!m) {
            parsed->problem = m.error().message;
        } else {
            parsed->message = std::move(m).value();
            parsed->candidates = candidates(parsed->message, options_, parsed->ignored);
        }
    } catch (const std::exception& e) {
        parsed->candidates.clear();
        parsed->problem = std::string("internal error: ") + e.what();
    }
    parsed_ = std::move(parsed);
}

DkimEvaluation::DkimEvaluation(std::string message, VerifyOptions options)
    : DkimEvaluation(std::make_shared<const std::string>(std::move(message)), std::move(options)) {}

std::optional<dns::Question> DkimEvaluation::next_question(const dns::AnswerCache& cache) const {
    for (const Candidate& c : parsed_->candidates) {
        if (!c.signature) continue;
        dns::Question q = key_question(c.signature.value().selector, c.signature.value().domain);
        if (!cache.find(q)) return q;
    }
    return std::nullopt;
}

bool DkimEvaluation::needs_crypto() const {
    return std::any_of(parsed_->candidates.begin(), parsed_->candidates.end(),
                       [](const Candidate& c) { return c.signature.ok(); });
}

DkimVerification DkimEvaluation::verify(const dns::AnswerCache& cache) const {
    DkimVerification result;
    if (!parsed_->problem.empty()) {
        result.problem = parsed_->problem;
        return result;
    }
    result.ignored = parsed_->ignored;
    try {
        Verifier verifier(parsed_->message, options_);
        for (const Candidate& c : parsed_->candidates) result.signatures.push_back(verifier.verify(c, cache));
    } catch (const std::exception& e) {
        // Allocation failure or a Botan surprise: report, do not throw through the driver.
        result.problem = std::string("internal error: ") + e.what();
    }
    return result;
}

DkimEvaluation::Step DkimEvaluation::run(const dns::AnswerCache& cache) const {
    try {
        // Every question first, so the crypto runs once, on the last replay.
        if (auto q = next_question(cache)) return *q;
    } catch (const std::exception& e) {
        DkimVerification result;
        result.problem = std::string("internal error: ") + e.what();
        return result;
    }
    return verify(cache);
}

void check_dkim_async(dns::Resolver& resolver, core::MessageRef message, VerifyOptions options,
                      Offload offload, std::function<void(DkimVerification)> done) {
    // One question per signature at most.
    const std::size_t max_rounds = options.max_signatures + 1;
    auto evaluation = std::make_shared<const DkimEvaluation>(std::move(message), std::move(options));
    dns::drive<KeyQuestions, KeysGathered>(
        resolver, KeyQuestions{evaluation}, max_rounds, [](std::size_t) { return KeysGathered{}; },
        [evaluation, max_rounds, offload = std::move(offload), done = std::move(done)](KeysGathered keys) {
            if (!keys.cache) {
                DkimVerification result;
                result.problem = "gave up after " + std::to_string(max_rounds) + " DNS questions";
                done(std::move(result));
                return;
            }
            if (!offload || !evaluation->needs_crypto()) {
                done(evaluation->verify(*keys.cache));
                return;
            }
            offload([evaluation, cache = std::move(*keys.cache), done] { done(evaluation->verify(cache)); });
        });
}

void check_dkim_async(dns::Resolver& resolver, std::string message, VerifyOptions options,
                      std::function<void(DkimVerification)> done) {
    check_dkim_async(resolver, std::make_shared<const std::string>(std::move(message)), std::move(options),
                     nullptr, std::move(done));
}

}  // namespace pigeon::dkim
