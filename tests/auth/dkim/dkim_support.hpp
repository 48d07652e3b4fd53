// Helpers shared by the DKIM tests: one RNG and one Ed25519 key, vector files, a cache of key
// records, one-shot verify.
#pragma once
#include <botan/auto_rng.h>

#include <fstream>
#include <ostream>
#include <sstream>
#include <string>

#include "auth/dkim/dkim.hpp"

namespace pigeon::dkim {
// Boost.Test printers.
inline std::ostream& operator<<(std::ostream& os, Status s) { return os << status_name(s); }
inline std::ostream& operator<<(std::ostream& os, Algorithm a) { return os << algorithm_name(a); }
inline std::ostream& operator<<(std::ostream& os, Canon c) { return os << canon_name(c); }
}  // namespace pigeon::dkim

namespace pigeon::dkim::test {

// Made once, lazily, for every test in the executable that needs them.
inline Botan::RandomNumberGenerator& rng() {
    static Botan::AutoSeeded_RNG r;
    return r;
}
inline const GeneratedKey& ed25519_key() {
    static const GeneratedKey k = generate_key(KeyType::ed25519, rng()).value();
    return k;
}

inline std::string read_vector(const std::string& relative) {
    std::ifstream in(std::string(PIGEON_SOURCE_DIR) + "/conformance/dkim/vectors/" + relative, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline dns::Answer txt_answer(const std::string& name, std::vector<std::string> strings) {
    dns::Answer a;
    a.records.push_back(dns::Record{name, dns::RrType::txt, 300, dns::Txt{std::move(strings)}});
    a.canonical_name = name;
    return a;
}

// "<name> <TXT value>" lines.
inline dns::AnswerCache cache_from_lines(const std::string& text) {
    dns::AnswerCache cache;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto space = line.find(' ');
        if (line.empty() || space == std::string::npos) continue;
        std::string name = line.substr(0, space);
        cache.put(dns::make_question(name, dns::RrType::txt), txt_answer(name, {line.substr(space + 1)}));
    }
    return cache;
}

// Runs the evaluation to the end; a question the cache lacks is answered NXDOMAIN.
inline DkimVerification verify_with(const std::string& message, dns::AnswerCache cache, std::int64_t now) {
    VerifyOptions options;
    options.now = now;
    DkimEvaluation evaluation(message, options);
    for (int i = 0; i < 100; ++i) {
        auto step = evaluation.run(cache);
        if (auto* done = std::get_if<DkimVerification>(&step)) return *done;
        dns::Answer nx;
        nx.rcode = dns::Rcode::nxdomain;
        cache.put(std::get<dns::Question>(step), nx);
    }
    return {};
}

}  // namespace pigeon::dkim::test
