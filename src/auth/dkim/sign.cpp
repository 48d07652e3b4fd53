// DKIM signing and keys; see dkim.hpp.
#include <botan/data_src.h>
#include <botan/ed25519.h>
#include <botan/pem.h>
#include <botan/pkcs8.h>
#include <botan/rsa.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <map>

#include "auth/dkim/crypto.hpp"

#include "core/ascii.hpp"
#include "auth/dkim/dkim.hpp"

namespace pigeon::dkim {

namespace {

core::ParseError error(std::string message) { return core::ParseError{std::move(message)}; }

// Folded lines of a generated field stay under this many characters (RFC 5322 2.1.1: 78).
constexpr std::size_t fold_width = 72;

// Appends `items` joined by `separator`, starting a new "\r\n\t" line when the current one
// would grow past fold_width. `column` tracks the current line length.
void append_folded(std::string& out, std::size_t& column, std::string_view text) {
    if (column + text.size() > fold_width && column > 1) {
        out += "\r\n\t";
        column = 1;
    }
    out += text;
    column += text.size();
}

}  // namespace

const std::vector<std::string>& default_signed_headers() {
    static const std::vector<std::string> names = {
        "from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc",
        "mime-version", "content-type", "content-transfer-encoding", "content-id",
        "content-description", "resent-date", "resent-from", "resent-sender", "resent-to",
        "resent-cc", "resent-message-id", "in-reply-to", "references", "list-id", "list-help",
        "list-unsubscribe", "list-subscribe", "list-post", "list-owner", "list-archive"};
    return names;
}

const std::vector<std::string>& default_oversigned_headers() {
    static const std::vector<std::string> names = {
        "from", "sender", "reply-to", "subject", "date", "to", "cc", "message-id",
        "mime-version", "content-type", "content-transfer-encoding"};
    return names;
}

core::Result<std::string> sign(std::string_view message, const SignOptions& options,
                               Botan::RandomNumberGenerator& rng) {
    try {
        if (options.algorithm == Algorithm::rsa_sha1) return error("rsa-sha1 must not be used for signing (RFC 8301)");
        // Everything that goes into the field is checked, so no option can inject a tag or a line.
        auto dns_name = [](const std::string& n) {
            if (n.empty() || n.front() == '.' || n.back() == '.') return false;
            for (char c : n)
                if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
            return true;
        };
        if (!dns_name(options.domain)) return error("bad signing domain \"" + options.domain + "\"");
        if (!dns_name(options.selector)) return error("bad selector \"" + options.selector + "\"");
        if (!options.identity.empty()) {
            for (char c : options.identity)
                if (c <= ' ' || c > '~' || c == ';' || c == '=') return error("bad identity (i=)");
            if (!identity_within(options.identity, options.domain)) return error("i= must be within d=");
        }
        for (const std::string& h : options.headers) {
            if (h.empty()) return error("empty header field name");
            for (char c : h)
                if (c <= ' ' || c > '~' || c == ':' || c == ';') return error("bad header field name \"" + h + "\"");
        }
        std::shared_ptr<const Botan::Private_Key> key = options.key;
        if (!key) {
            auto loaded = load_private_key(options.private_key, rng);
            if (!loaded) return loaded.error();
            key = loaded.value();
        }
        auto parsed = parse_message(message);
        if (!parsed) return error("cannot sign: " + parsed.error().message);
        const Message& m = parsed.value();

        // h=: each listed name once per instance present, plus once more if over-signed.
        std::vector<std::string> names;
        std::vector<std::string> seen;
        for (const std::string& raw_name : options.headers) {
            std::string name = core::ascii_lower(raw_name);
            if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
            seen.push_back(name);
            std::size_t count = 0;
            for (const Field& f : m.fields)
                if (name_equals(f.name, name)) ++count;
            bool over = false;
            for (const std::string& o : options.oversign)
                if (name_equals(o, name)) over = true;
            for (std::size_t i = 0; i < count + (over ? 1 : 0); ++i) names.push_back(name);
            if (name == "from" && count == 0) return error("cannot sign: the message has no From field");
        }
        if (std::find(names.begin(), names.end(), "from") == names.end())
            return error("cannot sign: From must be among the signed header fields");

        const std::string body = canonicalize_body(m.body, options.body_canon);
        const std::string body_hash = base64_encode(crypto::digest(options.algorithm, body));

        std::string value = " v=1; a=";
        value += algorithm_name(options.algorithm);
        value += "; c=";
        value += canon_name(options.header_canon);
        value += '/';
        value += canon_name(options.body_canon);
        value += ";";
        std::size_t column = std::string("DKIM-Signature:").size() + value.size();
        append_folded(value, column, " d=" + core::ascii_lower(options.domain) + ";");
        append_folded(value, column, " s=" + core::ascii_lower(options.selector) + ";");
        if (!options.identity.empty()) append_folded(value, column, " i=" + options.identity + ";");
        append_folded(value, column, " t=" + std::to_string(options.now) + ";");
        if (options.expire_after)
            append_folded(value, column, " x=" + std::to_string(options.now + *options.expire_after) + ";");
        append_folded(value, column, " h=");
        for (std::size_t i = 0; i < names.size(); ++i)
            append_folded(value, column, names[i] + (i + 1 < names.size() ? ":" : ";"));
        append_folded(value, column, " bh=" + body_hash + ";");
        append_folded(value, column, " b=");
        // The value as signed: b= empty (3.7). The verifier deletes exactly what follows b=.
        const std::string field_text = "DKIM-Signature:" + value;
        Field field{field_text, std::string_view(field_text).substr(0, 14),
                    std::string_view(field_text).substr(15)};

        std::string data;
        std::map<std::string, std::size_t> used;
        for (const std::string& name : names) {
            std::size_t skip = used[name]++;
            for (auto it = m.fields.rbegin(); it != m.fields.rend(); ++it) {
                if (!name_equals(it->name, name)) continue;
                if (skip > 0) {
                    --skip;
                    continue;
                }
                append_canonical_header(data, *it, options.header_canon);
                break;
            }
        }
        append_canonical_header(data, field, options.header_canon);
        data.resize(data.size() - 2);  // no CRLF after the signature field (3.7)

        std::string problem;
        // Signers are reused for a key object the caller keeps (options.key), not for one read
        // from text for this call only.
        auto signature = crypto::sign(options.algorithm, key, data, rng, problem, options.key != nullptr);
        if (!signature) return error(problem);
        std::string b = base64_encode(*signature);
        std::string out = field_text;
        for (std::size_t i = 0; i < b.size(); i += 64) {
            if (i > 0) out += "\r\n\t";
            out += b.substr(i, 64);
        }
        out += "\r\n";
        return out;
    } catch (const std::exception& e) {
        return error(std::string("signing failed: ") + e.what());
    }
}

core::Result<std::shared_ptr<const Botan::Private_Key>> load_private_key(std::string_view text,
                                                                         Botan::RandomNumberGenerator& rng) {
    try {
        if (text.find("-----BEGIN RSA PRIVATE KEY-----") != std::string_view::npos) {
            // PKCS#1 (OpenSSL's traditional format, what dkimpy and opendkim-genkey write).
            Botan::DataSource_Memory source(std::string{text});
            std::string label;
            auto der = Botan::PEM_Code::decode(source, label);
            return std::shared_ptr<const Botan::Private_Key>(std::make_shared<Botan::RSA_PrivateKey>(
                Botan::AlgorithmIdentifier("RSA", Botan::AlgorithmIdentifier::USE_NULL_PARAM), der));
        }
        if (text.find("-----BEGIN") != std::string_view::npos) {
            Botan::DataSource_Memory source(std::string{text});
            std::shared_ptr<const Botan::Private_Key> key(Botan::PKCS8::load_key(source, rng));
            if (!key) return error("cannot read the private key");
            return key;
        }
        auto seed = base64_decode(text);
        if (!seed || seed->size() != 32) return error("private key is neither PEM nor a base64 Ed25519 seed");
        Botan::secure_vector<std::uint8_t> bytes(seed->begin(), seed->end());
        return std::shared_ptr<const Botan::Private_Key>(std::make_shared<Botan::Ed25519_PrivateKey>(bytes));
    } catch (const std::exception& e) {
        return error(std::string("cannot read the private key: ") + e.what());
    }
}

core::Result<std::string> dns_record_for(const Botan::Private_Key& key) {
    try {
        if (key.algo_name() == "Ed25519") {
            const auto& ed = dynamic_cast<const Botan::Ed25519_PublicKey&>(key);
            const auto& raw = ed.get_public_key();
            return "v=DKIM1; k=ed25519; p=" + base64_encode(std::string(raw.begin(), raw.end()));
        }
        if (key.algo_name() == "RSA") {
            auto spki = key.subject_public_key();
            return "v=DKIM1; k=rsa; p=" + base64_encode(std::string(spki.begin(), spki.end()));
        }
        return error("unsupported key type " + key.algo_name());
    } catch (const std::exception& e) {
        return error(std::string("cannot export the public key: ") + e.what());
    }
}

core::Result<GeneratedKey> generate_key(KeyType type, Botan::RandomNumberGenerator& rng, std::size_t rsa_bits) {
    try {
        std::unique_ptr<Botan::Private_Key> key;
        if (type == KeyType::ed25519) {
            key = std::make_unique<Botan::Ed25519_PrivateKey>(rng);
        } else {
            if (rsa_bits < 1024 || rsa_bits > 8192) return error("RSA key size must be 1024..8192 bits");
            key = std::make_unique<Botan::RSA_PrivateKey>(rng, rsa_bits);
        }
        auto record = dns_record_for(*key);
        if (!record) return record.error();
        return GeneratedKey{Botan::PKCS8::PEM_encode(*key), record.value()};
    } catch (const std::exception& e) {
        return error(std::string("key generation failed: ") + e.what());
    }
}

}  // namespace pigeon::dkim
