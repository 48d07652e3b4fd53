// pigeon dkim keygen / sign / verify and pigeon dmarc check (app/dkim_cmd.cpp,
// app/dmarc_cmd.cpp) over zone files: keys round-trip through the printed TXT record, the
// RFC 8601 first lines, --explain, and exit code 2 for unusable input.
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/auth_commands.hpp"

namespace {

namespace fs = std::filesystem;
using namespace pigeon::app;

struct TempDir {
    fs::path path;
    TempDir() {
        char dir[] = "/tmp/pigeon-auth-cmd-XXXXXX";
        BOOST_REQUIRE(::mkdtemp(dir) != nullptr);
        path = dir;
    }
    ~TempDir() { fs::remove_all(path); }
    std::string file(const std::string& name) const { return (path / name).string(); }
    std::string write(const std::string& name, const std::string& text) const {
        std::ofstream(path / name, std::ios::binary) << text;
        return file(name);
    }
};

struct Out {
    int status;
    std::string out, err;
};

Out keygen(const DkimKeygenArgs& args) {
    std::ostringstream out, err;
    int status = run_dkim_keygen(args, out, err);
    return {status, out.str(), err.str()};
}

Out sign(const DkimSignArgs& args, const std::string& message) {
    std::istringstream in(message);
    std::ostringstream out, err;
    int status = run_dkim_sign(args, in, out, err);
    return {status, out.str(), err.str()};
}

Out verify(const DkimVerifyArgs& args, const std::string& message) {
    std::istringstream in(message);
    std::ostringstream out, err;
    int status = run_dkim_verify(args, in, out, err);
    return {status, out.str(), err.str()};
}

Out dmarc_check(const DmarcCheckArgs& args, const std::string& message) {
    std::istringstream in(message);
    std::ostringstream out, err;
    int status = run_dmarc_check(args, in, out, err);
    return {status, out.str(), err.str()};
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// Bare LF on purpose: the commands convert to CRLF.
const std::string message =
    "From: Alice <alice@example.com>\n"
    "To: bob@example.net\n"
    "Subject: hello\n"
    "Date: Sun, 22 Nov 2026 06:00:00 +0000\n"
    "Message-ID: <1@example.com>\n"
    "\n"
    "Hello Bob.\n";

// keygen + sign with the generated key; returns the signed message and the zone line.
struct Signed {
    std::string zone_line, message;
};
Signed keygen_and_sign(const TempDir& dir, const std::string& algorithm) {
    DkimKeygenArgs k;
    k.domain = "example.com";
    k.selector = "sel";
    k.algorithm = algorithm;
    k.out = dir.file(algorithm + ".key");
    auto g = keygen(k);
    BOOST_REQUIRE_MESSAGE(g.status == 0, g.err);
    DkimSignArgs s{"example.com", "sel", k.out, algorithm == "rsa" ? "rsa-sha256" : "ed25519-sha256"};
    auto signed_message = sign(s, message);
    BOOST_REQUIRE_MESSAGE(signed_message.status == 0, signed_message.err);
    return {first_line(g.out), signed_message.out};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(auth_commands)

BOOST_AUTO_TEST_CASE(keygen_writes_a_private_key_and_prints_the_record) {
    TempDir dir;
    DkimKeygenArgs k{"example.com", "sel", "rsa", 2048, dir.file("k.pem")};
    auto r = keygen(k);
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out.rfind("sel._domainkey.example.com. IN TXT \"v=DKIM1; k=rsa; p=", 0) == 0u, r.out);
    BOOST_TEST(r.out.find("\" \"") != std::string::npos, r.out);  // 2048-bit key: two strings
    BOOST_TEST(r.out.find("; the private key is in " + k.out + " (mode 0600)") != std::string::npos, r.out);
    struct stat st {};
    BOOST_REQUIRE(::stat(k.out.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0600u);
    std::ifstream key(k.out);
    std::string first;
    std::getline(key, first);
    BOOST_TEST(first == "-----BEGIN PRIVATE KEY-----");
}

BOOST_AUTO_TEST_CASE(keygen_default_file_name_and_refuses_to_overwrite) {
    TempDir dir;
    const auto cwd = fs::current_path();
    fs::current_path(dir.path);
    auto r = keygen({"example.org", "s1", "ed25519", 2048, ""});
    auto again = keygen({"example.org", "s1", "ed25519", 2048, ""});
    fs::current_path(cwd);
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out.rfind("s1._domainkey.example.org. IN TXT \"v=DKIM1; k=ed25519; p=", 0) == 0u, r.out);
    BOOST_TEST(fs::exists(dir.path / "s1._domainkey.example.org.key"));
    BOOST_TEST(again.status == 2);
    BOOST_TEST(again.err == "pigeon dkim keygen: \"s1._domainkey.example.org.key\" already exists; "
                            "refusing to overwrite a key (choose --out)\n");
}

BOOST_AUTO_TEST_CASE(keygen_bad_arguments_exit_2) {
    TempDir dir;
    auto r = keygen({"example.com", "sel", "rsa", 512, dir.file("k")});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err == "pigeon dkim keygen: --bits: 512 is outside 1024..4096 (RFC 8301)\n");
    r = keygen({"example.com", "sel", "dsa", 2048, dir.file("k")});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err == "pigeon dkim keygen: --algorithm: \"dsa\" is not rsa or ed25519\n");
    r = keygen({"exa mple.com", "sel", "rsa", 2048, dir.file("k")});
    BOOST_TEST(r.status == 2);
    r = keygen({"example.com", "../x", "rsa", 2048, dir.file("k")});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(!fs::exists(dir.path / "k"));
}

BOOST_AUTO_TEST_CASE(sign_then_verify_passes_for_rsa_and_ed25519) {
    for (const std::string algorithm : {"rsa", "ed25519"}) {
        TempDir dir;
        auto s = keygen_and_sign(dir, algorithm);
        BOOST_TEST(s.message.rfind("DKIM-Signature: v=1; a=", 0) == 0u, s.message);
        BOOST_TEST(s.message.find("\r\nFrom: Alice <alice@example.com>\r\n") != std::string::npos);
        const std::string zone = dir.write("zone.db", s.zone_line + "\n");
        auto v = verify({zone, false}, s.message);
        BOOST_TEST(v.status == 0, v.err);
        BOOST_TEST(v.out == "dkim=pass header.d=example.com header.s=sel\n", algorithm);

        auto e = verify({zone, true}, s.message);
        BOOST_TEST(e.status == 0);
        BOOST_TEST(e.out.find("header data hashed (relaxed,") != std::string::npos, e.out);
        BOOST_TEST(e.out.find("    from:Alice <alice@example.com>\\r\\n\n") != std::string::npos, e.out);
        BOOST_TEST(e.out.find("body data hashed (relaxed, 12 octets):\n    Hello Bob.\\r\\n\n") !=
                       std::string::npos,
                   e.out);
        BOOST_TEST(e.out.find("DNS records used (in the order asked):\n  sel._domainkey.example.com TXT: "
                              "NOERROR (insecure)\n") != std::string::npos,
                   e.out);
    }
}

BOOST_AUTO_TEST_CASE(a_changed_body_fails_and_no_signature_is_none) {
    TempDir dir;
    auto s = keygen_and_sign(dir, "ed25519");
    const std::string zone = dir.write("zone.db", s.zone_line + "\n");
    std::string changed = s.message;
    changed.replace(changed.find("Hello Bob."), 10, "Hello Eve.");
    auto v = verify({zone, false}, changed);
    BOOST_TEST(v.status == 0);
    BOOST_TEST(v.out.rfind("dkim=fail (", 0) == 0u, v.out);
    BOOST_TEST(v.out.find(") header.d=example.com header.s=sel\n") != std::string::npos, v.out);
    v = verify({zone, false}, message);
    BOOST_TEST(v.status == 0);
    BOOST_TEST(v.out == "dkim=none\n");
}

BOOST_AUTO_TEST_CASE(sign_and_verify_bad_input_exit_2) {
    TempDir dir;
    auto r = sign({"example.com", "sel", dir.file("missing.key"), "rsa-sha256"}, message);
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.rfind("pigeon dkim sign: --key: cannot read \"" + dir.file("missing.key") + "\"", 0) == 0u,
               r.err);
    const std::string junk = dir.write("junk.key", "not a key\n");
    r = sign({"example.com", "sel", junk, "rsa-sha256"}, message);
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.find("is not a usable private key") != std::string::npos, r.err);
    r = sign({"example.com", "sel", junk, "rsa-sha1"}, message);
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err == "pigeon dkim sign: --algorithm: \"rsa-sha1\" is not rsa-sha256 or ed25519-sha256\n");

    DkimKeygenArgs k{"example.com", "sel", "ed25519", 2048, dir.file("ed.key")};
    BOOST_REQUIRE(keygen(k).status == 0);
    r = sign({"example.com", "sel", k.out, "ed25519-sha256"}, "");
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err == "pigeon dkim sign: no message on standard input\n");
    auto v = verify({dir.write("zone.db", ""), false}, "");
    BOOST_TEST(v.status == 2);
    BOOST_TEST(v.err == "pigeon dkim verify: no message on standard input\n");
    v = verify({dir.file("missing.db"), false}, message);
    BOOST_TEST(v.status == 2);
    BOOST_TEST(v.err.rfind("pigeon dkim verify: --zone: ", 0) == 0u, v.err);
}

BOOST_AUTO_TEST_CASE(dmarc_check_pass_and_fail) {
    TempDir dir;
    auto s = keygen_and_sign(dir, "ed25519");
    const std::string zone = dir.write(
        "zone.db", s.zone_line + "\n"
                   "example.com.        IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
                   "_dmarc.example.com. IN TXT \"v=DMARC1; p=reject\"\n"
                   "evil.example.       IN TXT \"v=spf1 ip4:203.0.113.0/24 -all\"\n");
    // SPF pass for an aligned MAIL FROM, DKIM pass: dmarc=pass.
    auto r = dmarc_check({"192.0.2.9", "bounce@example.com", "mail.example.com", zone, false}, s.message);
    BOOST_TEST(r.status == 0, r.err);
    // header.b= is a prefix of b= (quoted when it holds '/' or '+'): checked around it.
    BOOST_TEST(r.out.rfind("spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com "
                           "header.s=sel header.b=", 0) == 0u, r.out);
    BOOST_TEST(r.out.find("; dmarc=pass (p=reject) header.from=example.com\n") != std::string::npos, r.out);
    BOOST_TEST(r.out.find('\n') == r.out.size() - 1, r.out);
    // SPF pass only, no signature: still aligned through SPF.
    r = dmarc_check({"192.0.2.9", "bounce@example.com", "", zone, false}, message);
    BOOST_TEST(r.out == "spf=pass smtp.mailfrom=example.com; dkim=none; dmarc=pass (p=reject) "
                        "header.from=example.com\n");
    // SPF passes for another domain, no signature: unaligned, p=reject.
    r = dmarc_check({"203.0.113.5", "x@evil.example", "", zone, true}, message);
    BOOST_TEST(r.status == 0);
    BOOST_TEST(first_line(r.out) == "spf=pass smtp.mailfrom=evil.example; dkim=none; dmarc=fail (p=reject) "
                                    "header.from=example.com");
    BOOST_TEST(r.out.find("alignment: SPF not aligned (evil.example, relaxed)") != std::string::npos, r.out);
    BOOST_TEST(r.out.find("disposition: reject (policy)") != std::string::npos, r.out);
    BOOST_TEST(r.out.find("  _dmarc.example.com TXT: NOERROR (insecure)\n"
                          "    _dmarc.example.com. ") != std::string::npos,
               r.out);
}

BOOST_AUTO_TEST_CASE(dmarc_check_bad_input_exit_2) {
    TempDir dir;
    const std::string zone = dir.write("zone.db", "");
    auto r = dmarc_check({"300.1.1.1", "a@example.com", "", zone, false}, message);
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err == "pigeon dmarc check: --ip: \"300.1.1.1\" is not an IPv4 or IPv6 address\n");
    r = dmarc_check({"192.0.2.1", "no-at-sign", "", zone, false}, message);
    BOOST_TEST(r.status == 2);
    r = dmarc_check({"192.0.2.1", "<>", "", zone, false}, message);
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err == "pigeon dmarc check: the null sender checks the HELO name: give --helo\n");
    r = dmarc_check({"192.0.2.1", "a@example.com", "", zone, false}, "");
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err == "pigeon dmarc check: no message on standard input\n");
}

BOOST_AUTO_TEST_SUITE_END()
