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
std::string header_hash_input(const Message& message, const std::vector<std::string>& names,
                              const Field& signature_field, std::size_t b_begin, std::size_t b_end,
                              Canon canon) {
    std::string data;
    data.reserve(1024);
    // Per name: instances already taken from the bottom (h= is short: a list, not a map).
    std::vector<std::pair<std::string_view, std::size_t>> used;
    used.reserve(names.size());
    for (const std::string& name : names) {
        auto u = std::find_if(used.begin(), used.end(), [&](const auto& x) { return x.first == name; });
        if (u == used.end()) u = used.insert(used.end(), {name, 0});
        std::size_t skip = u->second++;
        for (auto it = message.fields.rbegin(); it != message.fields.rend(); ++it) {
            if (!name_equals(it->name, name)) continue;
            if (skip > 0) {
                --skip;
                continue;
            }
            append_canonical_header(data, *it, canon);
            break;
        }  // none left: a null string (over-signing)
    }
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

SignatureResult verify_one(const Message& message, const Candidate& c, const dns::Answer& answer,
                           const VerifyOptions& options) {
    SignatureResult r;
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
    auto fail = [&](Status status, std::string reason) {
        r.status = status;
        r.reason = std::move(reason);
        return r;
    };

    if (sig.expiration && *sig.expiration < options.now) return fail(Status::permerror, "signature expired (x=)");
    if (sig.timestamp && *sig.timestamp > options.now + options.future_skew)
        return fail(Status::permerror, "signature timestamp t= is in the future");

    const std::string where = sig.selector + "._domainkey." + sig.domain;
    if (answer.rcode != dns::Rcode::noerror && answer.rcode != dns::Rcode::nxdomain)
        return fail(Status::temperror, std::string("key lookup for ") + where + ": " + dns::rcode_name(answer.rcode));
    std::vector<std::string> texts;
    for (const dns::Record& rec : answer.records)
        if (const auto* txt = std::get_if<dns::Txt>(&rec.data)) {
            std::string joined;
            for (const std::string& s : txt->strings) joined += s;
            texts.push_back(std::move(joined));
        }
    if (texts.empty()) return fail(Status::permerror, "no key record at " + where);
    // 3.6.2.2: several records are ambiguous. Use the first that parses and has the key type
    // the signature needs (a selector may publish an RSA and an Ed25519 record), else the
    // first that parses, whose mismatch is then reported.
    const KeyType type = key_type_of(sig.algorithm);
    const char* wanted = type == KeyType::rsa ? "rsa" : "ed25519";
    std::optional<KeyRecord> key;
    std::string key_error;
    for (const std::string& t : texts) {
        auto parsed = parse_key_record(t);
        if (!parsed) {
            if (key_error.empty()) key_error = parsed.error().message;
            continue;
        }
        if (!key || (key->key_type != wanted && parsed.value().key_type == wanted)) key = parsed.value();
    }
    if (!key) return fail(Status::permerror, key_error);
    r.testing = key->testing;
    if (key->revoked) return fail(Status::permerror, "key revoked (empty p=)");
    if (key->key_type != wanted)
        return fail(Status::permerror, "key type k=" + key->key_type + " does not match a=" + algorithm_name(sig.algorithm));
    const char* hash = sig.algorithm == Algorithm::rsa_sha1 ? "sha1" : "sha256";
    if (!key->hashes.empty() && !contains(key->hashes, hash))
        return fail(Status::permerror, std::string("key record h= does not allow ") + hash);
    if (!key->services.empty() && !contains(key->services, "*") && !contains(key->services, "email"))
        return fail(Status::permerror, "key record s= does not include email");
    if (key->strict && domain_of(sig.identity) != sig.domain)
        return fail(Status::permerror, "key record t=s: i= domain must equal d=");

    crypto::PublicKey public_key = crypto::cached_public_key(type, key->public_key);
    if (!public_key.key) return fail(Status::permerror, public_key.error);
    r.key_bits = public_key.bits;
    if (type == KeyType::rsa && public_key.bits < options.min_rsa_bits)
        return fail(Status::permerror, "RSA key of " + std::to_string(public_key.bits) + " bits is too short");

    std::string body = canonicalize_body(message.body, sig.body_canon);
    if (sig.body_length) {
        if (*sig.body_length > body.size()) return fail(Status::fail, "l= is longer than the body");
        body.resize(static_cast<std::size_t>(*sig.body_length));
    }
    if (crypto::digest(sig.algorithm, body) != sig.body_hash) return fail(Status::fail, "body hash did not verify");

    std::string data = header_hash_input(message, sig.headers, *c.field, sig.b_begin, sig.b_end, sig.header_canon);
    if (!crypto::verify(sig.algorithm, public_key, data, sig.signature))
        return fail(Status::fail, "signature did not verify");
    if (sig.algorithm == Algorithm::rsa_sha1 && !options.accept_rsa_sha1)
        return fail(Status::policy, "rsa-sha1 is not accepted (RFC 8301)");
    r.status = Status::pass;
    return r;
}

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

DkimEvaluation::DkimEvaluation(std::string message, VerifyOptions options)
    : message_(std::move(message)), options_(options) {}

DkimEvaluation::Step DkimEvaluation::run(const dns::AnswerCache& cache) const {
    DkimVerification result;
    try {
        auto parsed = parse_message(message_);
        if (!parsed) {
            result.problem = parsed.error().message;
            return result;
        }
        const Message& message = parsed.value();
        std::vector<Candidate> list = candidates(message, options_, result.ignored);
        // Every question first, so the crypto runs once, on the last replay.
        for (const Candidate& c : list) {
            if (!c.signature) continue;
            dns::Question q = key_question(c.signature.value().selector, c.signature.value().domain);
            if (!cache.find(q)) return q;
        }
        for (const Candidate& c : list) {
            if (!c.signature) {
                SignatureResult r;
                r.status = Status::permerror;
                r.reason = c.signature.error().message;
                // Report what can be read, so Authentication-Results can name the signature.
                if (auto tags = parse_tag_list(c.field->value)) {
                    if (const Tag* d = tags.value().find("d")) r.domain = core::ascii_lower(d->value);
                    if (const Tag* s = tags.value().find("s")) r.selector = core::ascii_lower(s->value);
                }
                result.signatures.push_back(std::move(r));
                continue;
            }
            const Signature& sig = c.signature.value();
            result.signatures.push_back(verify_one(message, c, *cache.find(key_question(sig.selector, sig.domain)), options_));
        }
    } catch (const std::exception& e) {
        // Allocation failure or a Botan surprise: report, do not throw through the driver.
        result.problem = std::string("internal error: ") + e.what();
    }
    return result;
}

void check_dkim_async(dns::Resolver& resolver, std::string message, VerifyOptions options,
                      std::function<void(DkimVerification)> done) {
    // One question per signature at most.
    const std::size_t max_rounds = options.max_signatures + 1;
    dns::drive<DkimEvaluation, DkimVerification>(
        resolver, DkimEvaluation(std::move(message), options), max_rounds,
        [](std::size_t rounds) {
            DkimVerification result;
            result.problem = "gave up after " + std::to_string(rounds) + " DNS questions";
            return result;
        },
        std::move(done));
}

}  // namespace pigeon::dkim
