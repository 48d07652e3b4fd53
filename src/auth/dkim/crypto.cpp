// Botan calls for DKIM; see crypto.hpp.
#include "auth/dkim/crypto.hpp"

#include <botan/ed25519.h>
#include <botan/hash.h>
#include <botan/pubkey.h>
#include <botan/rng.h>
#include <botan/rsa.h>
#include <botan/x509_key.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace pigeon::dkim::crypto {

namespace {

std::vector<std::uint8_t> bytes_of(std::string_view s) {
    return std::vector<std::uint8_t>(s.begin(), s.end());
}

const std::uint8_t* octets(std::string_view s) { return reinterpret_cast<const std::uint8_t*>(s.data()); }

const char* hash_name(Algorithm a) { return a == Algorithm::rsa_sha1 ? "SHA-160" : "SHA-256"; }

const char* padding_of(Algorithm a) {
    switch (a) {
        case Algorithm::rsa_sha1: return "EMSA3(SHA-160)";
        case Algorithm::rsa_sha256: return "EMSA3(SHA-256)";
        case Algorithm::ed25519_sha256: return "Pure";
    }
    return "?";
}

std::size_t slot_of(Algorithm a) { return static_cast<std::size_t>(a); }
constexpr std::size_t algorithm_count = 3;

// One hash object per algorithm per thread: HashFunction::create is a registry look-up and an
// allocation, more than hashing a short input costs.
Botan::HashFunction& thread_hash(Algorithm a) {
    thread_local std::unique_ptr<Botan::HashFunction> sha1, sha256;
    auto& slot = a == Algorithm::rsa_sha1 ? sha1 : sha256;
    if (!slot) slot = Botan::HashFunction::create_or_throw(hash_name(a));
    return *slot;
}

// ---- Verification: parsed keys by (type, p= octets), least recently used dropped first.

std::string cache_key(KeyType type, std::string_view bytes) {
    std::string k;
    k.reserve(bytes.size() + 1);
    k += type == KeyType::rsa ? 'r' : 'e';
    k += bytes;
    return k;
}

class PublicKeyCache {
public:
    std::optional<PublicKey> find(const std::string& k) {
        std::lock_guard lock(mutex_);
        auto it = index_.find(k);
        if (it == index_.end()) return std::nullopt;
        order_.splice(order_.begin(), order_, it->second);  // most recently used
        return it->second->second;
    }
    void put(std::string k, const PublicKey& value) {
        std::lock_guard lock(mutex_);
        if (index_.count(k)) return;  // another thread parsed the same octets first
        order_.emplace_front(std::move(k), value);
        index_.emplace(order_.front().first, order_.begin());
        while (order_.size() > public_key_cache_capacity) {
            index_.erase(order_.back().first);
            order_.pop_back();
        }
    }
    std::size_t size() {
        std::lock_guard lock(mutex_);
        return order_.size();
    }
    void clear() {
        std::lock_guard lock(mutex_);
        index_.clear();
        order_.clear();
    }

private:
    using Entry = std::pair<std::string, PublicKey>;
    std::mutex mutex_;
    std::list<Entry> order_;  // most recently used first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // views into order_
};

// The caches are never destroyed: Botan's key objects free into Botan's own static pools,
// which may already be gone when the program's static objects are destroyed at exit.
PublicKeyCache& public_key_cache() {
    static PublicKeyCache* cache = new PublicKeyCache;
    return *cache;
}

// ---- Signing: the caller's RNG behind a stable object a pooled signer can keep.

// Botan's RSA signer keeps a reference to the RNG it was built with (for re-blinding), so a
// pooled signer is built with one of these, which passes each request on to the RNG of the
// sign() call in progress. While a signer is being built it records the sizes of the
// requests (what a fresh signer draws); when a pooled signer is used, exactly that much is
// drawn from the caller's RNG up front and the signer's own requests are served from it.
class RelayRng final : public Botan::RandomNumberGenerator {
public:
    void record_into(Botan::RandomNumberGenerator& target) {
        target_ = &target;
        recording_ = true;
        unusual_ = false;
        draws_.clear();
    }
    void serve_from(Botan::RandomNumberGenerator& target, const std::vector<std::size_t>& draws) {
        target_ = &target;
        recording_ = false;
        std::size_t total = 0;
        for (std::size_t n : draws) total += n;
        buffer_.assign(total, 0);
        std::size_t at = 0;
        for (std::size_t n : draws) {
            target.randomize(buffer_.data() + at, n);
            at += n;
        }
        used_ = 0;
    }
    void detach() {
        target_ = nullptr;
        recording_ = false;
        std::fill(buffer_.begin(), buffer_.end(), 0);
        buffer_.clear();
        used_ = 0;
    }
    const std::vector<std::size_t>& draws() const { return draws_; }
    bool unusual() const { return unusual_; }

    void randomize(std::uint8_t out[], std::size_t n) override {
        if (recording_) {
            draws_.push_back(n);
            target().randomize(out, n);
            return;
        }
        std::size_t from_buffer = std::min(n, buffer_.size() - used_);
        if (from_buffer > 0) std::memcpy(out, buffer_.data() + used_, from_buffer);
        used_ += from_buffer;
        if (from_buffer < n) target().randomize(out + from_buffer, n - from_buffer);
    }
    bool accepts_input() const override { return target_ != nullptr && target_->accepts_input(); }
    void add_entropy(const std::uint8_t in[], std::size_t n) override {
        unusual_ = true;
        target().add_entropy(in, n);
    }
    void randomize_with_input(std::uint8_t out[], std::size_t n, const std::uint8_t in[], std::size_t m) override {
        unusual_ = true;
        target().randomize_with_input(out, n, in, m);
    }
    void randomize_with_ts_input(std::uint8_t out[], std::size_t n) override {
        unusual_ = true;
        target().randomize_with_ts_input(out, n);
    }
    std::string name() const override { return "pigeon-dkim-relay"; }
    void clear() override {}
    bool is_seeded() const override { return target_ != nullptr && target_->is_seeded(); }

private:
    Botan::RandomNumberGenerator& target() {
        if (target_ == nullptr) throw Botan::Invalid_State("DKIM signer used outside sign()");
        return *target_;
    }
    Botan::RandomNumberGenerator* target_ = nullptr;
    bool recording_ = false;
    bool unusual_ = false;  // a request other than randomize(): not replayable
    std::vector<std::size_t> draws_;
    std::vector<std::uint8_t> buffer_;
    std::size_t used_ = 0;
};

struct PooledSigner {
    RelayRng rng;  // declared first: outlives the signer that refers to it
    std::unique_ptr<Botan::PK_Signer> signer;
};

class SignerCache {
public:
    // An idle signer for (key, algorithm) and what a fresh one draws, or null.
    std::unique_ptr<PooledSigner> take(const std::shared_ptr<const Botan::Private_Key>& key, Algorithm a,
                                       std::vector<std::size_t>& draws) {
        std::lock_guard lock(mutex_);
        Entry* e = find(key);
        if (e == nullptr || !e->reusable[slot_of(a)] || e->idle[slot_of(a)].empty()) return nullptr;
        draws = e->draws[slot_of(a)];
        auto s = std::move(e->idle[slot_of(a)].back());
        e->idle[slot_of(a)].pop_back();
        return s;
    }
    // Returns a signer after use; `fresh` when it was just built (its draws were recorded).
    void give_back(const std::shared_ptr<const Botan::Private_Key>& key, Algorithm a,
                   std::unique_ptr<PooledSigner> s, bool fresh) {
        std::unique_ptr<PooledSigner> dropped;  // destroyed after the lock is released
        std::vector<Entry> expired;
        std::lock_guard lock(mutex_);
        Entry* e = find(key);
        if (e == nullptr) {
            // Forget keys no longer owned by anyone; if still full, start over.
            auto gone = std::stable_partition(entries_.begin(), entries_.end(),
                                              [](const Entry& x) { return !x.owner.expired(); });
            std::move(gone, entries_.end(), std::back_inserter(expired));
            entries_.erase(gone, entries_.end());
            if (entries_.size() >= signer_cache_keys) {
                std::move(entries_.begin(), entries_.end(), std::back_inserter(expired));
                entries_.clear();
            }
            entries_.emplace_back();
            e = &entries_.back();
            e->owner = key;
            for (auto& r : e->reusable) r = true;
        }
        const std::size_t i = slot_of(a);
        if (fresh) {
            if (s->rng.unusual()) {
                e->reusable[i] = false;
            } else if (!e->learned[i]) {
                e->draws[i] = s->rng.draws();
                e->learned[i] = true;
            } else if (e->draws[i] != s->rng.draws()) {
                e->reusable[i] = false;  // not a fixed pattern: do not reuse
            }
        }
        if (e->reusable[i] && e->learned[i] && e->idle[i].size() < signers_per_key)
            e->idle[i].push_back(std::move(s));
        else
            dropped = std::move(s);
        if (!e->reusable[i]) e->idle[i].clear();
    }
    std::size_t size() {
        std::lock_guard lock(mutex_);
        return entries_.size();
    }

private:
    struct Entry {
        std::weak_ptr<const Botan::Private_Key> owner;
        bool reusable[algorithm_count] = {};
        bool learned[algorithm_count] = {};
        std::vector<std::size_t> draws[algorithm_count];  // RNG requests of a fresh signer
        std::vector<std::unique_ptr<PooledSigner>> idle[algorithm_count];
    };
    // Owner identity (the control block), not the address: an expired weak_ptr still holds
    // its control block, so no new key can share it.
    Entry* find(const std::shared_ptr<const Botan::Private_Key>& key) {
        for (Entry& e : entries_)
            if (!e.owner.owner_before(key) && !key.owner_before(e.owner) && !e.owner.expired()) return &e;
        return nullptr;
    }
    std::mutex mutex_;
    std::vector<Entry> entries_;
};

SignerCache& signer_cache() {
    static SignerCache* cache = new SignerCache;  // never destroyed: see public_key_cache()
    return *cache;
}

}  // namespace

// ---- Verifier pool of one cached key

struct VerifierPool {
    std::shared_ptr<const Botan::Public_Key> key;  // declared first: outlives the verifiers
    std::mutex mutex;
    std::vector<std::unique_ptr<Botan::PK_Verifier>> idle[algorithm_count];

    std::unique_ptr<Botan::PK_Verifier> take(Algorithm a) {
        {
            std::lock_guard lock(mutex);
            auto& list = idle[slot_of(a)];
            if (!list.empty()) {
                auto v = std::move(list.back());
                list.pop_back();
                return v;
            }
        }
        return std::make_unique<Botan::PK_Verifier>(*key, padding_of(a));
    }
    void give_back(Algorithm a, std::unique_ptr<Botan::PK_Verifier> v) {
        std::lock_guard lock(mutex);
        auto& list = idle[slot_of(a)];
        if (list.size() < signers_per_key) list.push_back(std::move(v));
    }
};

std::string digest(Algorithm algorithm, std::string_view data) {
    Botan::HashFunction& hash = thread_hash(algorithm);
    std::string out(hash.output_length(), '\0');
    hash.update(octets(data), data.size());
    hash.final(reinterpret_cast<std::uint8_t*>(out.data()));
    return out;
}

Digest::Digest(Algorithm algorithm) : hash_(Botan::HashFunction::create_or_throw(hash_name(algorithm))) {}
Digest::~Digest() = default;

void Digest::update(std::string_view data) { hash_->update(octets(data), data.size()); }

std::string Digest::final() {
    std::string out(hash_->output_length(), '\0');
    hash_->final(reinterpret_cast<std::uint8_t*>(out.data()));
    return out;
}

bool acceptable_rsa_exponent(std::uint64_t e) { return e == 3 || e == 5 || e == 17 || e == 257 || e == 65537; }

namespace {

// The key limits of crypto.hpp for a parsed RSA key; empty if it is within them.
std::string rsa_limit_error(const Botan::Public_Key& key) {
    const auto* rsa = dynamic_cast<const Botan::RSA_PublicKey*>(&key);
    if (rsa == nullptr) return "the key record's p= is not an RSA key";
    if (key.key_length() > max_rsa_bits)
        return "RSA key of " + std::to_string(key.key_length()) + " bits is longer than the maximum of " +
               std::to_string(max_rsa_bits);
    const Botan::BigInt& e = rsa->get_e();
    if (e.bits() > 17 || !acceptable_rsa_exponent(e.word_at(0))) {
        const std::string which =
            e.bits() <= 32 ? std::to_string(e.word_at(0)) : "of " + std::to_string(e.bits()) + " bits";
        return "RSA public exponent " + which + " is not one of 3, 5, 17, 257, 65537";
    }
    return {};
}

}  // namespace

PublicKey load_public_key(KeyType type, std::string_view bytes) {
    PublicKey result;
    try {
        if (type == KeyType::ed25519) {
            if (bytes.size() != 32) {
                result.error = "Ed25519 key is " + std::to_string(bytes.size()) + " octets, not 32";
                return result;
            }
            result.key = std::make_shared<Botan::Ed25519_PublicKey>(bytes_of(bytes));
            result.bits = 256;
            return result;
        }
        if (bytes.size() > max_rsa_key_octets) {  // refused before Botan decodes the number
            result.error = "RSA key p= of " + std::to_string(bytes.size()) +
                           " octets is longer than a key of at most " + std::to_string(max_rsa_bits) + " bits";
            return result;
        }
        std::shared_ptr<Botan::Public_Key> key;
        try {
            key.reset(Botan::X509::load_key(bytes_of(bytes)));
        } catch (const std::exception&) {
            // Not SubjectPublicKeyInfo: try a bare PKCS#1 RSAPublicKey.
            key = std::make_shared<Botan::RSA_PublicKey>(Botan::AlgorithmIdentifier("RSA", Botan::AlgorithmIdentifier::USE_NULL_PARAM),
                                                         bytes_of(bytes));
        }
        if (!key || key->algo_name() != "RSA") {
            result.error = "the key record's p= is not an RSA key";
            return result;
        }
        if (std::string limit = rsa_limit_error(*key); !limit.empty()) {
            result.error = std::move(limit);
            return result;
        }
        result.bits = key->key_length();
        result.key = std::move(key);
    } catch (const std::exception& e) {
        result.key.reset();
        result.error = std::string("unusable public key: ") + e.what();
    }
    return result;
}

PublicKey cached_public_key(KeyType type, std::string_view bytes) {
    try {
        std::string k = cache_key(type, bytes);
        if (auto hit = public_key_cache().find(k)) return *hit;
        PublicKey loaded = load_public_key(type, bytes);
        if (!loaded.key) return loaded;  // errors are not kept: the same text gives the same error
        loaded.verifiers = std::make_shared<VerifierPool>();
        loaded.verifiers->key = loaded.key;
        public_key_cache().put(std::move(k), loaded);
        return loaded;
    } catch (const std::exception&) {
        return load_public_key(type, bytes);  // out of memory for the cache: parse as before
    }
}

std::size_t public_key_cache_size() { return public_key_cache().size(); }
void clear_public_key_cache() { public_key_cache().clear(); }

bool verify(Algorithm algorithm, const PublicKey& public_key, std::string_view data, std::string_view signature) {
    if (!public_key.key) return false;
    const Botan::Public_Key& key = *public_key.key;
    try {
        std::string hashed;
        if (algorithm == Algorithm::ed25519_sha256) {
            if (key.algo_name() != "Ed25519") return false;
            // Botan's Ed25519 verifier keeps the message when the signature has the wrong
            // length: such a verifier must not be reused, so that case never reaches it.
            if (signature.size() != 64) return false;
            hashed = digest(algorithm, data);
            data = hashed;
        } else if (key.algo_name() != "RSA") {
            return false;
        }
        std::unique_ptr<Botan::PK_Verifier> verifier =
            public_key.verifiers ? public_key.verifiers->take(algorithm)
                                 : std::make_unique<Botan::PK_Verifier>(key, padding_of(algorithm));
        const bool ok = verifier->verify_message(octets(data), data.size(), octets(signature), signature.size());
        // Only a verifier that just succeeded goes back: its state is known to be clean.
        if (ok && public_key.verifiers) public_key.verifiers->give_back(algorithm, std::move(verifier));
        return ok;
    } catch (const std::exception&) {
        return false;
    }
}

std::optional<std::string> sign(Algorithm algorithm, const std::shared_ptr<const Botan::Private_Key>& key,
                                std::string_view data, Botan::RandomNumberGenerator& rng, std::string& error,
                                bool reuse) {
    try {
        if (!key) {
            error = "no signing key";
            return std::nullopt;
        }
        std::string hashed;
        if (algorithm == Algorithm::ed25519_sha256) {
            if (key->algo_name() != "Ed25519") {
                error = "ed25519-sha256 needs an Ed25519 key, not " + key->algo_name();
                return std::nullopt;
            }
            hashed = digest(algorithm, data);
            data = hashed;
        } else if (key->algo_name() != "RSA") {
            error = std::string(algorithm_name(algorithm)) + " needs an RSA key, not " + key->algo_name();
            return std::nullopt;
        }
        std::vector<std::uint8_t> out;
        if (!reuse) {
            Botan::PK_Signer signer(*key, rng, padding_of(algorithm));
            out = signer.sign_message(octets(data), data.size(), rng);
            return std::string(out.begin(), out.end());
        }
        std::vector<std::size_t> draws;
        std::unique_ptr<PooledSigner> s = signer_cache().take(key, algorithm, draws);
        const bool fresh = !s;
        if (fresh) {
            // Built and used exactly as a one-off signer would be, recording what it draws.
            s = std::make_unique<PooledSigner>();
            s->rng.record_into(rng);
            s->signer = std::make_unique<Botan::PK_Signer>(*key, s->rng, padding_of(algorithm));
        } else {
            s->rng.serve_from(rng, draws);
        }
        try {
            out = s->signer->sign_message(octets(data), data.size(), s->rng);
        } catch (...) {
            s->rng.detach();
            throw;  // the signer is dropped, not reused
        }
        s->rng.detach();  // keeps the record of draws for give_back()
        signer_cache().give_back(key, algorithm, std::move(s), fresh);
        return std::string(out.begin(), out.end());
    } catch (const std::exception& e) {
        error = std::string("signing failed: ") + e.what();
        return std::nullopt;
    }
}

std::size_t signer_cache_size() { return signer_cache().size(); }

}  // namespace pigeon::dkim::crypto
