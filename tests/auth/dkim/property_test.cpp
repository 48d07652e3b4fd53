// RapidCheck properties of DKIM canonicalization, signing and verification.
#include <boost/test/unit_test.hpp>
#include <botan/auto_rng.h>
#include <rapidcheck/boost_test.h>

#include <algorithm>

#include "auth/dkim/dkim.hpp"
#include "auth/dkim/dkim_support.hpp"

using namespace pigeon;
using namespace pigeon::dkim;
using pigeon::dkim::test::rng;

namespace {

const GeneratedKey& key_for(Algorithm a) {
    static GeneratedKey rsa = generate_key(KeyType::rsa, rng(), 1024).value();
    static GeneratedKey ed = generate_key(KeyType::ed25519, rng()).value();
    return a == Algorithm::ed25519_sha256 ? ed : rsa;
}

const std::string value_chars = "abcXYZ019 <>@.,;:\t\"()";
const std::string body_chars = "abcXYZ019 .\t-=";

// A header value: visible text, white space and folds (CRLF + WSP).
rc::Gen<std::string> gen_value() {
    return rc::gen::map(rc::gen::container<std::vector<std::string>>(
                            rc::gen::oneOf(rc::gen::container<std::string>(rc::gen::elementOf(value_chars)),
                                           rc::gen::element<std::string>("\r\n ", "\r\n\t"))),
                        [](const std::vector<std::string>& parts) {
                            std::string v = " x";  // never empty, never a bare fold
                            for (const auto& p : parts) v += p;
                            if (v.size() >= 2 && v.substr(v.size() - 2) == "\r\n") v += " ";  // fold, not an end
                            return v;
                        });
}

rc::Gen<std::string> gen_body() {
    return rc::gen::map(rc::gen::container<std::vector<std::string>>(
                            rc::gen::container<std::string>(rc::gen::elementOf(body_chars))),
                        [](const std::vector<std::string>& lines) {
                            std::string b;
                            for (const auto& l : lines) b += l + "\r\n";
                            return b;
                        });
}

struct TestMessage {
    std::string text;
    std::vector<std::string> names;  // header names, in order
};

rc::Gen<TestMessage> gen_message() {
    return rc::gen::exec([] {
        static const std::vector<std::string> pool = {"From", "To", "Subject", "Date", "X-Other", "cc", "SUBJECT", "Received"};
        auto names = *rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(pool));
        names.insert(names.begin() + *rc::gen::inRange<std::size_t>(0, names.size() + 1), "From");
        TestMessage m;
        m.names = names;
        for (const auto& n : names) m.text += n + ":" + *gen_value() + "\r\n";
        m.text += "\r\n" + *gen_body();
        return m;
    });
}

// Bodies with every octet the canonicalizations treat specially: CR and LF alone and paired,
// SP and TAB runs, and ordinary text, in any order (including a CR or WSP at the very end).
rc::Gen<std::string> gen_raw_body() {
    return rc::gen::map(rc::gen::container<std::vector<std::string>>(rc::gen::element<std::string>(
                            "\r\n", "\n", "\r", " ", "\t", "  \t", "a", "Zz", "\r\n\r\n", "x.")),
                        [](const std::vector<std::string>& parts) {
                            std::string b;
                            for (const auto& p : parts) b += p;
                            return b;
                        });
}

// The body fed to a BodyCanonicalizer in the given chunk sizes (cycled), then finish().
std::string streamed(std::string_view body, Canon canon, const std::vector<std::size_t>& sizes) {
    std::string out;
    BodyCanonicalizer c(canon, [&](std::string_view piece) {
        RC_ASSERT(!piece.empty());
        RC_ASSERT(piece.size() <= BodyCanonicalizer::sink_chunk);
        out += piece;
    });
    std::size_t at = 0, k = 0;
    while (at < body.size()) {
        const std::size_t n = sizes.empty() ? body.size() : sizes[k++ % sizes.size()];
        c.put(body.substr(at, n));
        at += n;
    }
    c.finish();
    return out;
}

// RFC 6376 5.4.2 as written, one name at a time: the k-th use of a name in h= selects its
// k-th instance counted from the bottom, or nothing when there are fewer.
std::vector<const Field*> reference_select(const Message& m, const std::vector<std::string>& names) {
    std::vector<const Field*> out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        std::size_t earlier = 0;
        for (std::size_t j = 0; j < i; ++j) earlier += name_equals(names[j], names[i]) ? 1 : 0;
        const Field* found = nullptr;
        for (auto it = m.fields.rbegin(); it != m.fields.rend() && found == nullptr; ++it)
            if (name_equals(it->name, names[i]) && earlier-- == 0) found = &*it;
        out.push_back(found);
    }
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dkim_properties)

RC_BOOST_PROP(streaming_body_canonicalization_equals_whole_body, ()) {
    const std::string body = *gen_raw_body();
    const Canon canon = *rc::gen::element(Canon::simple, Canon::relaxed);
    // Chunk sizes from 0 (an empty put) upwards; an empty list feeds the body in one piece.
    const auto sizes = *rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(0, 9));
    std::vector<std::size_t> usable = sizes;
    if (!usable.empty() && std::all_of(usable.begin(), usable.end(), [](std::size_t n) { return n == 0; }))
        usable.push_back(1);  // some progress
    RC_ASSERT(streamed(body, canon, usable) == canonicalize_body(body, canon));
}

RC_BOOST_PROP(field_selection_equals_rfc_reference, ()) {
    static const std::vector<std::string> pool = {"From", "to", "SUBJECT", "Subject", "x-a", "X-A", "Received", "b"};
    const auto fields = *rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(pool));
    std::string text;
    for (const auto& n : fields) text += n + ": v\r\n";
    text += "\r\n";
    auto m = parse_message(text);
    RC_ASSERT(m.ok());
    std::vector<std::string> names = *rc::gen::container<std::vector<std::string>>(
        rc::gen::oneOf(rc::gen::elementOf(pool), rc::gen::element<std::string>("absent", "from", "x-a")));
    const FieldIndex index(m.value());
    RC_ASSERT(index.select(names) == reference_select(m.value(), names));
}

RC_BOOST_PROP(relaxed_body_is_idempotent, ()) {
    std::string body = *gen_body();
    if (*rc::gen::arbitrary<bool>()) body += *rc::gen::container<std::string>(rc::gen::elementOf(body_chars));
    const std::string once = canonicalize_body(body, Canon::relaxed);
    RC_ASSERT(canonicalize_body(once, Canon::relaxed) == once);
    const std::string simple = canonicalize_body(body, Canon::simple);
    RC_ASSERT(canonicalize_body(simple, Canon::simple) == simple);
}

RC_BOOST_PROP(relaxed_header_is_idempotent, ()) {
    const std::string text = "Name-" + *rc::gen::container<std::string>(rc::gen::elementOf(std::string("aZ9"))) +
                             " :" + *gen_value() + "\r\n\r\n";
    auto m = parse_message(text);
    RC_ASSERT(m.ok());
    const std::string once = canonicalize_header(m.value().fields.at(0), Canon::relaxed);
    const std::string again_text = once + "\r\n";
    auto again = parse_message(again_text);
    RC_ASSERT(again.ok());
    RC_ASSERT(canonicalize_header(again.value().fields.at(0), Canon::relaxed) == once);
}

RC_BOOST_PROP(sign_then_verify_passes_and_tampering_fails, ()) {
    const TestMessage m = *gen_message();
    const Algorithm a = *rc::gen::element(Algorithm::rsa_sha256, Algorithm::ed25519_sha256);
    SignOptions o;
    o.domain = "example.org";
    o.selector = "prop";
    o.private_key = key_for(a).private_key_pem;
    o.algorithm = a;
    o.header_canon = *rc::gen::element(Canon::simple, Canon::relaxed);
    o.body_canon = *rc::gen::element(Canon::simple, Canon::relaxed);
    o.now = 1700000000;
    auto s = sign(m.text, o, rng());
    RC_ASSERT(s.ok());
    const std::string signed_message = s.value() + m.text;
    dns::AnswerCache cache;
    cache.put(key_question("prop", "example.org"),
              test::txt_answer("prop._domainkey.example.org", {key_for(a).dns_record}));
    auto v = test::verify_with(signed_message, cache, o.now);
    RC_ASSERT(v.signatures.size() == 1u);
    RC_ASSERT(v.signatures[0].status == Status::pass);

    // One changed visible byte in a signed field (every field named in the default list is
    // signed; X-Other and Received are not), or in the body.
    auto parsed = parse_message(signed_message);
    RC_ASSERT(parsed.ok());
    std::vector<std::size_t> positions;
    const std::size_t sig_len = s.value().size();
    for (const Field& f : parsed.value().fields) {
        bool signed_field = false;
        for (const auto& n : default_signed_headers()) signed_field |= name_equals(n, f.name);
        if (!signed_field) continue;
        std::size_t start = static_cast<std::size_t>(f.value.data() - signed_message.data());
        for (std::size_t k = 0; k < f.value.size(); ++k)
            if (std::isalnum(static_cast<unsigned char>(f.value[k]))) positions.push_back(start + k);
    }
    const std::size_t body_start = static_cast<std::size_t>(parsed.value().body.data() - signed_message.data());
    for (std::size_t k = body_start; k < signed_message.size(); ++k)
        if (std::isalnum(static_cast<unsigned char>(signed_message[k]))) positions.push_back(k);
    RC_PRE(!positions.empty());
    const std::size_t at = *rc::gen::elementOf(positions);
    RC_ASSERT(at >= sig_len);
    std::string tampered = signed_message;
    tampered[at] = tampered[at] == 'q' ? 'w' : 'q';
    auto t = test::verify_with(tampered, cache, o.now);
    RC_ASSERT(t.signatures.size() == 1u);
    RC_ASSERT(t.signatures[0].status == Status::fail);
}

BOOST_AUTO_TEST_SUITE_END()
