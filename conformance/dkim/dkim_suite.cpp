// pigeon-dkim-suite: runs the DKIM verifier over the vectors in conformance/dkim/vectors/ and
// compares with each source's expected results.
//
// Usage: pigeon-dkim-suite --suite rfc|chasquid|mail-auth|perl-mail-dkim|dkimpy
//                          [--known-differences FILE] VECTORS_DIR
// Each source has its own layout and fake-DNS format, read by a small loader below. A case is
// "expected" when our outcome matches the source's; a case listed in the known-differences file
// ("<suite> <case> <reason>") must differ (a listed case that starts matching is reported too,
// so the list stays true). Exit status 1 on any unexpected outcome.
#include <botan/auto_rng.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "auth/dkim/dkim.hpp"

using namespace pigeon;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// LF -> CRLF where the vector stores lines with LF (as its upstream harness converts them).
std::string to_crlf(const std::string& text) {
    std::string out;
    out.reserve(text.size() + text.size() / 20);
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
        out += text[i];
    }
    return out;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.pop_back();
    std::size_t b = 0;
    while (b < s.size() && (s[b] == ' ' || s[b] == '\t')) ++b;
    return s.substr(b);
}

// A fake DNS: TXT records by name, or an rcode.
struct FakeDns {
    std::map<std::string, dns::Answer> answers;
    void add_txt(const std::string& name, const std::string& value) {
        auto q = dns::make_question(name, dns::RrType::txt);
        auto& a = answers[q.name];
        a.canonical_name = q.name;
        a.records.push_back(dns::Record{q.name, dns::RrType::txt, 300, dns::Txt{{value}}});
    }
    void add_rcode(const std::string& name, dns::Rcode rcode) {
        auto q = dns::make_question(name, dns::RrType::txt);
        answers[q.name].rcode = rcode;
    }
    dns::Answer lookup(const dns::Question& q) const {
        auto it = answers.find(q.name);
        if (it != answers.end()) return it->second;
        dns::Answer nx;
        nx.rcode = dns::Rcode::nxdomain;
        return nx;
    }
};

// "<name> <TXT value>" lines (rfc-examples, mail-auth head, Mail::DKIM's FAKE_DNS.dat).
void load_name_value(FakeDns& dns, const std::string& text) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        line = trim(line);
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        std::size_t sp = line.find_first_of(" \t");
        if (sp == std::string::npos) continue;
        std::string name = line.substr(0, sp), value = trim(line.substr(sp));
        if (value == "NXDOMAIN") dns.add_rcode(name, dns::Rcode::nxdomain);
        else if (value == "~~Query timed out~~") dns.add_rcode(name, dns::Rcode::timeout);
        else if (value == "~~SERVFAIL~~") dns.add_rcode(name, dns::Rcode::servfail);
        else if (value == "\"\"") dns.add_txt(name, "");
        else dns.add_txt(name, value);
    }
}

// chasquid: "name: value" with "\" continuations; TEMPERROR / PERMERROR / NOTFOUND.
void load_chasquid_dns(FakeDns& dns, const std::string& text) {
    std::string joined;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '\n') {
            ++i;
            continue;
        }
        joined += text[i];
    }
    std::istringstream in(joined);
    std::string line;
    while (std::getline(in, line)) {
        if (trim(line).empty() || line[0] == '#') continue;
        std::size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
        if (value == "TEMPERROR") dns.add_rcode(name, dns::Rcode::servfail);
        else if (value == "PERMERROR" || value == "NOTFOUND") dns.add_rcode(name, dns::Rcode::nxdomain);
        else dns.add_txt(name, value);
    }
}

dkim::DkimVerification verify(const std::string& message, const FakeDns& dns, std::int64_t now,
                              std::size_t max_signatures = 10) {
    dkim::VerifyOptions options;
    options.now = now;
    options.max_signatures = max_signatures;
    dkim::DkimEvaluation evaluation(message, options);
    dns::AnswerCache cache;
    while (true) {
        auto step = evaluation.run(cache);
        if (auto* v = std::get_if<dkim::DkimVerification>(&step)) return *v;
        auto q = std::get<dns::Question>(step);
        cache.put(q, dns.lookup(q));
    }
}

std::string statuses(const dkim::DkimVerification& v) {
    if (!v.problem.empty()) return "error";
    if (v.signatures.empty()) return "none";
    std::string out;
    for (const auto& s : v.signatures) out += std::string(out.empty() ? "" : ",") + dkim::status_name(s.status);
    return out;
}

std::string reasons(const dkim::DkimVerification& v) {
    if (!v.problem.empty()) return v.problem;
    std::string out;
    for (const auto& s : v.signatures)
        if (!s.reason.empty()) out += (out.empty() ? "" : "; ") + s.reason;
    return out;
}

struct Case {
    std::string name, expected, got, detail;
};

// ---- Suites

std::vector<Case> rfc_suite(const fs::path& dir) {
    std::vector<Case> cases;
    auto run = [&](std::string name, std::string eml, std::string zone, std::int64_t now, std::string expected) {
        FakeDns dns;
        load_name_value(dns, read_file(dir / zone));
        auto v = verify(read_file(dir / eml), dns, now);
        cases.push_back({name, expected, statuses(v), reasons(v)});
    };
    run("rfc8463-A3", "rfc8463-A3-signed.eml", "rfc8463-A2.dns", 1528637909, "pass,pass");
    run("rfc6376-A2-reconstructed", "rfc6376-A2-signed.reconstructed.eml", "rfc6376-C.dns", 1117574938, "pass");
    run("rfc6376-A2-as-printed", "rfc6376-A2-signed.eml", "rfc6376-C.dns", 1117574938, "fail");
    run("rfc6376-A3-as-printed", "rfc6376-A3-verified.eml", "rfc6376-C.dns", 1117574938, "fail");
    return cases;
}

std::vector<Case> chasquid_suite(const fs::path& dir) {
    std::vector<Case> cases;
    std::vector<fs::path> msgs;
    for (const auto& e : fs::directory_iterator(dir / "testdata"))
        if (e.path().extension() == ".msg") msgs.push_back(e.path());
    std::sort(msgs.begin(), msgs.end());
    for (const fs::path& msg : msgs) {
        fs::path base = msg;
        base.replace_extension();
        FakeDns dns;
        if (fs::exists(base.string() + ".dns")) load_chasquid_dns(dns, read_file(base.string() + ".dns"));
        std::string expected;
        std::string error = fs::exists(base.string() + ".error") ? trim(read_file(base.string() + ".error")) : "<nil>";
        if (error != "<nil>") {
            expected = "error";
        } else {
            std::string result = read_file(base.string() + ".result");
            std::regex state("\"State\": \"([A-Z]+)\"");
            for (auto it = std::sregex_iterator(result.begin(), result.end(), state); it != std::sregex_iterator(); ++it) {
                std::string s = (*it)[1];
                // chasquid's PERMFAIL covers both RFC 8601 fail and permerror.
                std::string mapped = s == "SUCCESS" ? "pass" : s == "TEMPFAIL" ? "temperror" : "fail|permerror";
                expected += (expected.empty() ? "" : ",") + mapped;
            }
            if (expected.empty()) expected = "none";
        }
        // chasquid evaluates at most 5 signatures (its policy; 02-too_many_headers checks it).
        auto v = verify(to_crlf(read_file(msg)), dns, 1709500000, 5);
        cases.push_back({base.filename().string(), expected, statuses(v), reasons(v)});
    }
    return cases;
}

std::vector<Case> mail_auth_suite(const fs::path& dir) {
    std::vector<Case> cases;
    for (int i = 1; i <= 6; ++i) {
        char name[16];
        std::snprintf(name, sizeof name, "%03d.txt", i);
        std::string text = read_file(dir / name);
        std::size_t split = text.find("\n\n");
        FakeDns dns;
        load_name_value(dns, text.substr(0, split));
        auto v = verify(to_crlf(text.substr(split + 2)), dns, 1667843664);
        std::string expected;
        for (std::size_t k = 0; k < v.signatures.size(); ++k) expected += (k ? "," : "") + std::string("pass");
        if (expected.empty()) expected = "pass";
        cases.push_back({name, expected, statuses(v), reasons(v)});
    }
    return cases;
}

std::vector<Case> perl_suite(const fs::path& dir) {
    std::vector<Case> cases;
    FakeDns dns;
    load_name_value(dns, read_file(dir / "FAKE_DNS.dat"));
    std::istringstream in(read_file(dir / "EXPECTED.tsv"));
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::string file = line.substr(0, line.find('\t'));
        std::string rest = line.substr(line.find('\t') + 1);
        std::string expected = rest.substr(0, rest.find('\t'));
        auto v = verify(read_file(dir / "corpus" / file), dns, 1700000000);
        // Mail::DKIM's message result: the best signature's. invalid = unusable signature or key.
        std::string got = "none";
        if (!v.problem.empty()) got = "invalid";
        for (const auto& s : v.signatures) {
            std::string r = s.status == dkim::Status::pass ? "pass" : s.status == dkim::Status::fail ? "fail" : "invalid";
            if (r == "pass" || (r == "fail" && got != "pass") || (r == "invalid" && got == "none")) got = r;
        }
        cases.push_back({file, expected, got, reasons(v)});
    }
    return cases;
}

std::vector<Case> dkimpy_suite(const fs::path& dir) {
    std::vector<Case> cases;
    fs::path data = dir / "data";
    const std::string ed_a2 = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
    auto verify_case = [&](std::string name, std::string msg, FakeDns dns, std::int64_t now, std::string expected) {
        auto v = verify(to_crlf(read_file(data / msg)), dns, now);  // stored with LF
        cases.push_back({name, expected, statuses(v), reasons(v)});
    };
    {
        FakeDns dns;
        dns.add_txt("brisbane._domainkey.football.example.com", ed_a2);
        dns.add_txt("test._domainkey.football.example.com", trim(read_file(data / "test.txt")));
        verify_case("rfc6376.signed.msg", "rfc6376.signed.msg", dns, 1700000000, "pass,pass");
    }
    {
        FakeDns dns;
        dns.add_txt("sed._domainkey.test.ex", trim(read_file(data / "eximtest.dns")));
        verify_case("ed25519test2.msg", "ed25519test2.msg", dns, 1700000000, "pass");
    }
    {
        FakeDns dns;
        dns.add_txt("20120113._domainkey.gmail.com",
                    "k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1Kd87/UeJjenpabgbFwh+eBCsSTrqmwIYYvywlbhbqoo2DymndFkbjOVIPIldNs/m40KF+yzMn1skyoxcTUGCQs8g3FgD2Ap3ZB5DekAo5wMmk4wimDO+U8QzI3SD07y2+07wlNWwIt8svnxgdxGkVbbhzY8i+RQ9DpSVpPbF7ykQxtKXkv/ahW3KjViiAH+ghvvIhkx4xYSIc9oSwVmAl5OctMEeWUwg8Istjqz8BZeTWbf41fbNhte7Y+YqZOwq1Sd0DbvYAD9NOZK9vlfuac0598HY+vtSBczUiKERHv1yRbcaQtZFh5wtiRrN04BLUTD21MycBX5jYchHjPY/wIDAQAB");
        verify_case("test2.message", "test2.message", dns, 1700000000, "pass");
    }
    // Sign with dkimpy's keys, verify against its key-record variants.
    Botan::AutoSeeded_RNG rng;
    auto sign_case = [&](std::string name, std::string msg, std::string key, dkim::Algorithm a,
                         std::string domain, std::string record, std::string expected) {
        dkim::SignOptions o;
        o.domain = domain;
        o.selector = "test";
        o.private_key = read_file(data / key);
        o.algorithm = a;
        o.now = 1700000000;
        std::string message = to_crlf(read_file(data / msg));
        auto s = dkim::sign(message, o, rng);
        if (!s) {
            cases.push_back({name, expected, "sign-error", s.error().message});
            return;
        }
        FakeDns dns;
        dns.add_txt("test._domainkey." + domain, record);
        auto v = verify(s.value() + message, dns, 1700000000);
        cases.push_back({name, expected, statuses(v), reasons(v)});
    };
    auto rec = [&](const char* f) { return trim(read_file(data / f)); };
    sign_case("sign-rsa/test.txt", "test.message", "test.private", dkim::Algorithm::rsa_sha256, "example.com", rec("test.txt"), "pass");
    sign_case("sign-rsa/test2.txt (no k=)", "test.message", "test2.private", dkim::Algorithm::rsa_sha256, "example.com", rec("test2.txt"), "pass");
    sign_case("sign-rsa/badversion.txt", "test.message", "test.private", dkim::Algorithm::rsa_sha256, "example.com", rec("badversion.txt"), "permerror");
    sign_case("sign-rsa/badk.txt", "test.message", "test.private", dkim::Algorithm::rsa_sha256, "example.com", rec("badk.txt"), "permerror");
    sign_case("sign-rsa/test_bad.txt", "test.message", "test.private", dkim::Algorithm::rsa_sha256, "example.com", rec("test_bad.txt"), "permerror");
    sign_case("sign-rsa/test_tlsrpt.txt", "test.message", "test.private", dkim::Algorithm::rsa_sha256, "example.com", rec("test_tlsrpt.txt"), "permerror");
    sign_case("sign-rsa/test_extra.message", "test_extra.message", "test.private", dkim::Algorithm::rsa_sha256, "example.com", rec("test.txt"), "pass");
    sign_case("sign-ed25519/ed25519test.msg", "ed25519test.msg", "ed25519test.key", dkim::Algorithm::ed25519_sha256, "example.net", rec("ed25519test.dns"), "pass");
    sign_case("sign-ed25519/rfc8032_7_1.key", "rfc6376.msg", "rfc8032_7_1.key", dkim::Algorithm::ed25519_sha256, "football.example.com", ed_a2, "pass");
    sign_case("sign/test_nofrom.message", "test_nofrom.message", "test.private", dkim::Algorithm::rsa_sha256, "example.com", rec("test.txt"), "sign-error");
    return cases;
}

bool matches(const std::string& expected, const std::string& got) {
    // expected: per-signature alternatives "a|b" separated by ","
    std::istringstream e(expected), g(got);
    std::string ep, gp;
    while (true) {
        bool more_e = static_cast<bool>(std::getline(e, ep, ',')), more_g = static_cast<bool>(std::getline(g, gp, ','));
        if (more_e != more_g) return false;
        if (!more_e) return true;
        std::istringstream alts(ep);
        std::string alt;
        bool any = false;
        while (std::getline(alts, alt, '|'))
            if (alt == gp) any = true;
        if (!any) return false;
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string suite, known_path, dir;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--suite" && i + 1 < argc) suite = argv[++i];
        else if (a == "--known-differences" && i + 1 < argc) known_path = argv[++i];
        else dir = a;
    }
    if (suite.empty() || dir.empty()) {
        std::cerr << "usage: pigeon-dkim-suite --suite NAME [--known-differences FILE] DIR\n";
        return 2;
    }
    std::vector<Case> cases;
    if (suite == "rfc") cases = rfc_suite(dir);
    else if (suite == "chasquid") cases = chasquid_suite(dir);
    else if (suite == "mail-auth") cases = mail_auth_suite(dir);
    else if (suite == "perl-mail-dkim") cases = perl_suite(dir);
    else if (suite == "dkimpy") cases = dkimpy_suite(dir);
    else {
        std::cerr << "unknown suite " << suite << "\n";
        return 2;
    }
    std::map<std::string, std::string> known;  // case -> reason
    if (!known_path.empty()) {
        std::ifstream in(known_path);
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty() || line[0] == '#') continue;
            std::istringstream ls(line);
            std::string s, c;
            ls >> s >> c;
            if (s == suite) known[c] = line;
        }
    }
    std::size_t ok = 0, known_seen = 0;
    std::vector<std::string> problems;
    for (const Case& c : cases) {
        bool match = matches(c.expected, c.got);
        std::string key = c.name;
        std::replace(key.begin(), key.end(), ' ', '_');
        bool listed = known.count(key) > 0;
        if (match && !listed) ++ok;
        else if (!match && listed) ++known_seen;
        else if (match && listed) problems.push_back(c.name + ": listed as a known difference but now matches (" + c.got + ")");
        else problems.push_back(c.name + ": expected " + c.expected + ", got " + c.got + " (" + c.detail + ")");
        if (std::getenv("PIGEON_DKIM_SUITE_VERBOSE"))
            std::cout << "  " << c.name << ": expected " << c.expected << " got " << c.got << " -- " << c.detail << "\n";
    }
    std::cout << suite << ": " << cases.size() << " cases, " << ok << " as expected, " << known_seen
              << " known differences, " << problems.size() << " problem(s)" << (problems.empty() ? "" : ":") << "\n";
    for (const std::string& p : problems) std::cout << "  " << p << "\n";
    return problems.empty() ? 0 : 1;
}
