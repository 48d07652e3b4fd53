// Tests for dns/zone_resolver.hpp: the master-file parser (every error names its line), the
// answer semantics (NODATA, NXDOMAIN, empty non-terminals, CNAME chains), the test hooks and
// directives, and properties: the parser is total, and formatted records parse back.
#include "dns/zone_resolver.hpp"

#include <rapidcheck/boost_test.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

using namespace pigeon::dns;

namespace {

ZoneResolver must_parse(std::string_view text, std::string_view origin = "") {
    auto r = ZoneResolver::parse(text, origin);
    if (!r) BOOST_FAIL("parse failed: " << r.error().message);
    return std::move(r).value();
}

Answer ask(ZoneResolver& z, std::string_view name, RrType type) { return z.lookup(make_question(name, type)); }

std::string error_of(std::string_view text) {
    auto r = ZoneResolver::parse(text);
    return r ? std::string("<parsed>") : r.error().message;
}

const char* example_zone = R"(; An example zone
$ORIGIN example.com.
$TTL 300
@           IN SOA ns1 hostmaster ( 2024010101 ; serial
                                    3600 900 1w 1h )
@              NS    ns1
ns1            A     192.0.2.53
@              MX    10 mail
@              MX    20 backup.example.net.
mail    600    A     192.0.2.25
               AAAA  2001:db8::25
@              TXT   "v=spf1 ip4:192.0.2.0/24 -all"
www   IN 60    CNAME mail
alias          CNAME www
deep.ent       TXT   "below an empty non-terminal"
_25._tcp.mail  TLSA  3 1 1 ( 0123456789ABCDEF
                             0123456789abcdef )
25.2.0.192.in-addr.arpa. PTR mail
@              SPF   "v=spf1 -all"
)";

}  // namespace

BOOST_AUTO_TEST_SUITE(zone_resolver)

BOOST_AUTO_TEST_CASE(example_zone_answers) {
    auto z = must_parse(example_zone);

    auto a = ask(z, "MAIL.example.com", RrType::a);
    BOOST_TEST((a.rcode == Rcode::noerror));
    BOOST_TEST((a.security == Security::insecure));
    BOOST_REQUIRE(a.records.size() == 1u);
    BOOST_TEST(a.records[0].name == "mail.example.com");
    BOOST_TEST(a.records[0].ttl == 600u);
    BOOST_TEST(to_string(std::get<Ipv4>(a.records[0].data)) == "192.0.2.25");
    BOOST_TEST(a.canonical_name == "mail.example.com");

    // Blank owner: the previous one; no TTL: $TTL.
    auto aaaa = ask(z, "mail.example.com.", RrType::aaaa);
    BOOST_REQUIRE(aaaa.records.size() == 1u);
    BOOST_TEST(to_string(std::get<Ipv6>(aaaa.records[0].data)) == "2001:db8::25");
    BOOST_TEST(aaaa.records[0].ttl == 300u);

    auto mx = ask(z, "example.com", RrType::mx);
    BOOST_REQUIRE(mx.records.size() == 2u);
    BOOST_TEST(std::get<Mx>(mx.records[0].data).preference == 10);
    BOOST_TEST(std::get<Mx>(mx.records[0].data).exchange == "mail.example.com");
    BOOST_TEST(std::get<Mx>(mx.records[1].data).exchange == "backup.example.net");

    auto ns = ask(z, "example.com", RrType::ns);
    BOOST_REQUIRE(ns.records.size() == 1u);
    BOOST_TEST(std::get<Name>(ns.records[0].data).name == "ns1.example.com");

    auto txt = ask(z, "example.com", RrType::txt);
    BOOST_REQUIRE(txt.records.size() == 1u);
    BOOST_TEST(std::get<Txt>(txt.records[0].data).strings == std::vector<std::string>{"v=spf1 ip4:192.0.2.0/24 -all"});

    auto spf = ask(z, "example.com", RrType::spf);
    BOOST_REQUIRE(spf.records.size() == 1u);
    BOOST_TEST(std::get<Txt>(spf.records[0].data).strings == std::vector<std::string>{"v=spf1 -all"});

    auto tlsa = ask(z, "_25._tcp.mail.example.com", RrType::tlsa);
    BOOST_REQUIRE(tlsa.records.size() == 1u);
    const auto& t = std::get<Tlsa>(tlsa.records[0].data);
    BOOST_TEST(t.usage == 3);
    BOOST_TEST(t.selector == 1);
    BOOST_TEST(t.matching == 1);
    BOOST_TEST(t.data == std::string("\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89\xab\xcd\xef", 16));

    auto ptr = ask(z, "25.2.0.192.in-addr.arpa", RrType::ptr);
    BOOST_REQUIRE(ptr.records.size() == 1u);
    BOOST_TEST(std::get<Name>(ptr.records[0].data).name == "mail.example.com");
}

BOOST_AUTO_TEST_CASE(nodata_nxdomain_and_empty_non_terminals) {
    auto z = must_parse(example_zone);
    auto nodata = ask(z, "mail.example.com", RrType::txt);
    BOOST_TEST((nodata.rcode == Rcode::noerror));
    BOOST_TEST(nodata.records.empty());

    auto soa_only = ask(z, "example.com", RrType::soa);  // SOA exists but is not stored
    BOOST_TEST((soa_only.rcode == Rcode::noerror));

    auto nx = ask(z, "nothing.example.com", RrType::a);
    BOOST_TEST((nx.rcode == Rcode::nxdomain));
    BOOST_TEST(nx.records.empty());
    BOOST_TEST(nx.canonical_name == "nothing.example.com");

    auto ent = ask(z, "ent.example.com", RrType::a);
    BOOST_TEST((ent.rcode == Rcode::noerror));
    BOOST_TEST(ent.records.empty());
    auto tcp = ask(z, "_tcp.mail.example.com", RrType::tlsa);
    BOOST_TEST((tcp.rcode == Rcode::noerror));

    BOOST_TEST((ask(z, "deep.ent.example.com", RrType::txt).records.size() == 1u));
    BOOST_TEST((ask(z, "x.deep.ent.example.com", RrType::txt).rcode == Rcode::nxdomain));
}

BOOST_AUTO_TEST_CASE(cname_chains) {
    auto z = must_parse(example_zone);
    auto a = ask(z, "alias.example.com", RrType::a);
    BOOST_TEST((a.rcode == Rcode::noerror));
    BOOST_REQUIRE(a.records.size() == 1u);
    BOOST_TEST(a.records[0].name == "mail.example.com");
    BOOST_TEST(a.canonical_name == "mail.example.com");

    // Asking for the CNAME itself does not follow it.
    auto c = ask(z, "alias.example.com", RrType::cname);
    BOOST_REQUIRE(c.records.size() == 1u);
    BOOST_TEST(std::get<Name>(c.records[0].data).name == "www.example.com");
    BOOST_TEST(c.canonical_name == "alias.example.com");

    // Chain to NODATA and to a missing name.
    auto nodata = ask(z, "www.example.com", RrType::txt);
    BOOST_TEST((nodata.rcode == Rcode::noerror));
    BOOST_TEST(nodata.records.empty());
    BOOST_TEST(nodata.canonical_name == "mail.example.com");

    auto dangling = must_parse("a. CNAME b.\nb. CNAME gone.\n");
    auto d = ask(dangling, "a", RrType::a);
    BOOST_TEST((d.rcode == Rcode::nxdomain));
    BOOST_TEST(d.canonical_name == "gone");
}

BOOST_AUTO_TEST_CASE(cname_loops_and_long_chains_servfail) {
    auto loop = must_parse("a.test. CNAME b.test.\nb.test. CNAME a.test.\n");
    auto r = ask(loop, "a.test", RrType::a);
    BOOST_TEST((r.rcode == Rcode::servfail));
    BOOST_TEST(r.records.empty());

    auto self = must_parse("s.test. CNAME s.test.\n");
    BOOST_TEST((ask(self, "s.test", RrType::txt).rcode == Rcode::servfail));

    // Exactly max_cname_chain links are followed; one more is too many.
    std::string chain;
    for (std::size_t i = 0; i < max_cname_chain; ++i)
        chain += "n" + std::to_string(i) + ". CNAME n" + std::to_string(i + 1) + ".\n";
    chain += "n" + std::to_string(max_cname_chain) + ". A 192.0.2.1\n";
    auto ok = must_parse(chain);
    BOOST_TEST(ask(ok, "n0", RrType::a).records.size() == 1u);
    auto too_long = must_parse("m. CNAME n0.\n" + chain);
    BOOST_TEST((ask(too_long, "m", RrType::a).rcode == Rcode::servfail));
}

BOOST_AUTO_TEST_CASE(txt_strings_and_escapes) {
    auto z = must_parse(
        "t1. TXT \"a\" \"b c\" unquoted\n"
        "t2. TXT \"quote \\\" backslash \\\\ octal \\065\\000 other \\x\"\n"
        "t3. TXT \"\"\n"
        "t4. TXT semi\\;colon \"paren ( ; inside\"\n");
    auto t1 = ask(z, "t1", RrType::txt);
    BOOST_REQUIRE(t1.records.size() == 1u);
    BOOST_TEST(std::get<Txt>(t1.records[0].data).strings == (std::vector<std::string>{"a", "b c", "unquoted"}));
    auto t2 = ask(z, "t2", RrType::txt);
    BOOST_REQUIRE(t2.records.size() == 1u);
    BOOST_TEST(std::get<Txt>(t2.records[0].data).strings[0] ==
               std::string("quote \" backslash \\ octal A\0 other x", 36));
    BOOST_TEST(std::get<Txt>(ask(z, "t3", RrType::txt).records[0].data).strings == std::vector<std::string>{""});
    BOOST_TEST(std::get<Txt>(ask(z, "t4", RrType::txt).records[0].data).strings ==
               (std::vector<std::string>{"semi;colon", "paren ( ; inside"}));
}

BOOST_AUTO_TEST_CASE(long_txt_is_split_at_255) {
    const std::string long_text(600, 'x');
    auto z = must_parse("long. TXT \"" + long_text + "\" short\n");
    const auto answer = ask(z, "long", RrType::txt);
    const auto& s = std::get<Txt>(answer.records.at(0).data).strings;
    BOOST_REQUIRE(s.size() == 4u);
    BOOST_TEST(s[0].size() == 255u);
    BOOST_TEST(s[1].size() == 255u);
    BOOST_TEST(s[2].size() == 90u);
    BOOST_TEST(s[3] == "short");
}

BOOST_AUTO_TEST_CASE(ttls_and_classes) {
    auto z = must_parse(
        "a. A 192.0.2.1\n"          // no $TTL, no earlier TTL: the default
        "b. 42 A 192.0.2.2\n"
        "c. A 192.0.2.3\n"          // the last explicit TTL
        "$TTL 1h30m\n"
        "d. IN A 192.0.2.4\n"
        "e. IN 7 A 192.0.2.5\n"     // class before TTL
        "f. 2w IN A 192.0.2.6\n");
    BOOST_TEST(ask(z, "a", RrType::a).records[0].ttl == default_zone_ttl_seconds);
    BOOST_TEST(ask(z, "b", RrType::a).records[0].ttl == 42u);
    BOOST_TEST(ask(z, "c", RrType::a).records[0].ttl == 42u);
    BOOST_TEST(ask(z, "d", RrType::a).records[0].ttl == 5400u);
    BOOST_TEST(ask(z, "e", RrType::a).records[0].ttl == 7u);
    BOOST_TEST(ask(z, "f", RrType::a).records[0].ttl == 1209600u);
}

BOOST_AUTO_TEST_CASE(origins) {
    auto z = must_parse("www A 192.0.2.1\n@ TXT apex\n$ORIGIN sub\nx A 192.0.2.2\n", "Example.ORG.");
    BOOST_TEST(ask(z, "www.example.org", RrType::a).records.size() == 1u);
    BOOST_TEST(ask(z, "example.org", RrType::txt).records.size() == 1u);
    BOOST_TEST(ask(z, "x.sub.example.org", RrType::a).records.size() == 1u);

    // No origin: relative names are relative to the root.
    auto r = must_parse("host.example A 192.0.2.1\n");
    BOOST_TEST(ask(r, "host.example", RrType::a).records.size() == 1u);
}

BOOST_AUTO_TEST_CASE(names_are_case_insensitive_and_duplicates_merge) {
    auto z = must_parse("MiXeD.Example. A 192.0.2.1\nmixed.example. 99 A 192.0.2.1\nmixed.example. A 192.0.2.2\n");
    auto a = ask(z, "mixed.EXAMPLE", RrType::a);
    BOOST_REQUIRE(a.records.size() == 2u);
    BOOST_TEST(a.records[0].name == "mixed.example");
    BOOST_TEST(z.records().size() == 2u);
}

BOOST_AUTO_TEST_CASE(errors_name_their_line) {
    struct Case { std::string text; std::string expected; };
    const std::vector<Case> cases = {
        {"a. A 192.0.2.1\nb. A 300.1.1.1\n", "line 2: bad IPv4 address"},
        {"a. AAAA 1::2::3\n", "line 1: bad IPv6 address"},
        {"a. A\n", "line 1: A takes exactly one field"},
        {"a. A 1.2.3.4 5.6.7.8\n", "line 1: A takes exactly one field"},
        {"a. A \"1.2.3.4\"\n", "line 1: A data may not be quoted"},
        {"\n\na. SRV 0 0 25 b.\n", "line 3: unsupported type 'SRV'"},
        {"a. 300\n", "line 1: missing type"},
        {"a.\n", "line 1: missing type"},
        {"a. CH TXT x\n", "line 1: only class IN"},
        {"a. IN IN TXT x\n", "line 1: two classes"},
        {"a. 1 2 TXT x\n", "line 1: two TTLs"},
        {"a. 99999999999 TXT x\n", "line 1: bad TTL"},
        {"a. 1x TXT x\n", "line 1: bad TTL"},
        {"a. 1h30 TXT x\n", "line 1: bad TTL"},
        {"a. MX 10\n", "line 1: MX takes a preference and an exchange"},
        {"a. MX 65536 b.\n", "line 1: bad MX preference"},
        {"a. MX x b.\n", "line 1: bad MX preference"},
        {"a. TXT\n", "line 1: TXT needs at least one character-string"},
        {"a. TXT \"open\n", "line 1: unterminated quoted string"},
        {"a. TXT \"\\300\"\n", "line 1: \\DDD escape above 255"},
        {"a. TXT \"\\12\"\n", "line 1: \\DDD escape needs three digits"},
        {"a. TXT x\\\n", "line 1: backslash at end of line"},
        {"a. TLSA 3 1 1\n", "line 1: TLSA takes"},
        {"a. TLSA 3 1 1 abc\n", "line 1: TLSA data has an odd number"},
        {"a. TLSA 3 1 1 zz\n", "line 1: TLSA data is not hex"},
        {"a. TLSA 256 1 1 00\n", "line 1: bad TLSA field"},
        {"a. CNAME b.\na. A 192.0.2.1\n", "line 2: record at 'a' alongside its CNAME"},
        {"a. A 192.0.2.1\na. CNAME b.\n", "line 2: CNAME at 'a' alongside other records"},
        {"a. CNAME b.\na. CNAME c.\n", "line 2: second CNAME"},
        {"a. SOA b. c. 1 2 3 4\n", "line 1: SOA takes"},
        {"a. SOA b. c. x 2 3 4 5\n", "line 1: bad SOA serial"},
        {"a. SOA b. c. 1 2 3 4 y\n", "line 1: bad SOA time"},
        {"a..b. A 192.0.2.1\n", "line 1: empty label"},
        {".a. A 192.0.2.1\n", "line 1: empty label"},
        {std::string(64, 'x') + ". A 192.0.2.1\n", "line 1: label longer than 63"},
        {"a.b\\.c. A 192.0.2.1\n", "line 1: escapes are not supported in names"},
        {"a. CNAME x\x01y.\n", "line 1: control character in name"},
        {"\"quoted\" A 192.0.2.1\n", "line 1: owner name may not be quoted"},
        {"a. \"TXT\" x\n", "line 1: type may not be quoted"},
        {" A 192.0.2.1\n", "line 1: no owner name"},
        {"$ORIGIN\n", "line 1: usage: $ORIGIN"},
        {"$ORIGIN a..b.\n", "line 1: empty label"},
        {"$ORIGIN $x.\n", "line 1: name may not begin with '$'"},
        {"a. CNAME $x.\n", "line 1: name may not begin with '$'"},
        {"$TTL x\n", "line 1: bad TTL"},
        {"$TTL\n", "line 1: usage: $TTL"},
        {"$INCLUDE other.zone\n", "line 1: $INCLUDE is not supported"},
        {"$GENERATE 1-2 a A 1.2.3.4\n", "line 1: unknown control entry"},
        {"a. TXT ( x\n\n", "line 1: '(' not closed"},
        {"a. TXT x )\n", "line 1: ')' without '('"},
        {"a. A 192.0.2.1\n; pigeon: explode a.\n", "line 2: unknown pigeon: directive 'explode'"},
        {"; pigeon:\n", "line 1: empty pigeon: directive"},
        {"; pigeon: timeout\n", "line 1: usage: ; pigeon: timeout NAME [TYPE]"},
        {"; pigeon: servfail a. NOPE\n", "line 1: unknown type 'NOPE'"},
        {"; pigeon: secure\n", "line 1: usage: ; pigeon: secure ZONE"},
        {"a. TXT (\n x\n \"y\n)\n", "line 3: unterminated quoted string"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_INFO("zone: " << c.text);
        const std::string got = error_of(c.text);
        BOOST_TEST(got.find(c.expected) != std::string::npos, "got: " << got << "; want: " << c.expected);
    }
    auto long_name = std::string();
    for (int i = 0; i < 40; ++i) long_name += "abcdefg.";
    BOOST_TEST(error_of(long_name + " A 192.0.2.1\n").find("line 1: name longer than 253") != std::string::npos);
    BOOST_TEST(!ZoneResolver::parse("", "bad..origin").ok());
}

BOOST_AUTO_TEST_CASE(accepts_harmless_variants) {
    // CRLF line ends, comments everywhere, blank lines, a record ending at EOF without newline.
    auto z = must_parse("; header\r\n\r\na. A 192.0.2.1 ; trailing\r\n  \t\r\nb. TXT x");
    BOOST_TEST(ask(z, "a", RrType::a).records.size() == 1u);
    BOOST_TEST(std::get<Txt>(ask(z, "b", RrType::txt).records[0].data).strings == std::vector<std::string>{"x"});
    // Exact duplicate CNAMEs are one record.
    auto d = must_parse("a. CNAME b.\na. CNAME B.\n");
    BOOST_TEST(d.records().size() == 1u);
    BOOST_TEST(ZoneResolver::parse("").ok());
    BOOST_TEST(ZoneResolver::parse("; only a comment").ok());
}

BOOST_AUTO_TEST_CASE(resolve_is_synchronous_and_logs_queries) {
    auto z = must_parse(example_zone);
    bool called = false;
    z.resolve(make_question("mail.example.com", RrType::a), [&](Answer a) {
        called = true;
        BOOST_TEST(a.records.size() == 1u);
    });
    BOOST_TEST(called);
    // `done` may ask again (no lock is held while it runs).
    int depth = 0;
    z.resolve(make_question("example.com", RrType::mx), [&](Answer) {
        ++depth;
        z.resolve(make_question("mail.example.com", RrType::aaaa), [&](Answer) { ++depth; });
    });
    BOOST_TEST(depth == 2);
    (void)ask(z, "nope.example.com", RrType::txt);
    const auto log = z.queries();
    BOOST_REQUIRE(log.size() == 4u);
    BOOST_TEST((log[0] == make_question("mail.example.com", RrType::a)));
    BOOST_TEST((log[1] == make_question("example.com", RrType::mx)));
    BOOST_TEST((log[2] == make_question("mail.example.com", RrType::aaaa)));
    BOOST_TEST((log[3] == make_question("nope.example.com", RrType::txt)));
    z.clear_queries();
    BOOST_TEST(z.queries().empty());
}

BOOST_AUTO_TEST_CASE(failure_hooks) {
    auto z = must_parse(example_zone);
    z.fail("mail.example.com", Rcode::timeout);
    auto t = ask(z, "mail.example.com", RrType::a);
    BOOST_TEST((t.rcode == Rcode::timeout));
    BOOST_TEST((t.security == Security::indeterminate));
    BOOST_TEST(!t.ok());
    // Hooks apply along a CNAME chain.
    BOOST_TEST((ask(z, "alias.example.com", RrType::a).rcode == Rcode::timeout));
    z.fail("MAIL.example.com.", Rcode::noerror);
    BOOST_TEST((ask(z, "mail.example.com", RrType::a).rcode == Rcode::noerror));

    z.fail(make_question("example.com", RrType::txt), Rcode::servfail);
    BOOST_TEST((ask(z, "example.com", RrType::txt).rcode == Rcode::servfail));
    BOOST_TEST((ask(z, "example.com", RrType::mx).rcode == Rcode::noerror));
    z.fail(make_question("example.com", RrType::txt), Rcode::noerror);
    BOOST_TEST((ask(z, "example.com", RrType::txt).rcode == Rcode::noerror));

    // Names that do not exist can fail too.
    z.fail("missing.example.com", Rcode::refused);
    BOOST_TEST((ask(z, "missing.example.com", RrType::a).rcode == Rcode::refused));
}

BOOST_AUTO_TEST_CASE(security_marks) {
    auto z = must_parse(example_zone);
    BOOST_TEST((ask(z, "mail.example.com", RrType::a).security == Security::insecure));
    BOOST_TEST((ask(z, "nothing.example.com", RrType::a).security == Security::insecure));

    z.set_security("example.com", Security::secure);
    auto s = ask(z, "mail.example.com", RrType::a);
    BOOST_TEST((s.security == Security::secure));
    BOOST_TEST(s.records.size() == 1u);
    auto nx = ask(z, "nothing.example.com", RrType::a);
    BOOST_TEST((nx.rcode == Rcode::nxdomain));
    BOOST_TEST((nx.security == Security::secure));

    // The longest suffix wins.
    z.set_security("_tcp.mail.example.com", Security::bogus);
    auto b = ask(z, "_25._tcp.mail.example.com", RrType::tlsa);
    BOOST_TEST((b.security == Security::bogus));
    BOOST_TEST((b.rcode == Rcode::servfail));
    BOOST_TEST(b.records.empty());
    BOOST_TEST(!b.why_bogus.empty());
    BOOST_TEST((ask(z, "mail.example.com", RrType::a).security == Security::secure));

    // Along a chain, the weakest status.
    z.set_security("mail.example.com", Security::insecure);
    BOOST_TEST((ask(z, "alias.example.com", RrType::a).security == Security::insecure));
}

BOOST_AUTO_TEST_CASE(directives_in_zone_text) {
    auto z = must_parse(
        "$ORIGIN example.net.\n"
        "; pigeon: secure example.net.\n"
        "; pigeon: bogus bad\n"
        "; pigeon: timeout slow\n"
        "; pigeon: servfail broken TXT\n"
        ";pigeon: refused no-thanks\n"
        "; pigeon: INDETERMINATE unknown\n"
        "ok A 192.0.2.1\n"
        "bad A 192.0.2.2\n"
        "slow A 192.0.2.3\n"
        "broken A 192.0.2.4 ; pigeon: insecure broken\n"
        "broken TXT x\n"
        "unknown A 192.0.2.5\n");
    BOOST_TEST((ask(z, "ok.example.net", RrType::a).security == Security::secure));
    BOOST_TEST((ask(z, "bad.example.net", RrType::a).security == Security::bogus));
    BOOST_TEST((ask(z, "slow.example.net", RrType::a).rcode == Rcode::timeout));
    BOOST_TEST((ask(z, "broken.example.net", RrType::txt).rcode == Rcode::servfail));
    auto broken_a = ask(z, "broken.example.net", RrType::a);
    BOOST_TEST((broken_a.rcode == Rcode::noerror));
    BOOST_TEST((broken_a.security == Security::insecure));
    BOOST_TEST((ask(z, "no-thanks.example.net", RrType::a).rcode == Rcode::refused));
    BOOST_TEST((ask(z, "unknown.example.net", RrType::a).security == Security::indeterminate));
    // Ordinary comments that merely mention pigeon are comments.
    BOOST_TEST(ZoneResolver::parse("; pigeons: everywhere\n; a pigeon: here\n").ok());
}

BOOST_AUTO_TEST_CASE(load_from_file) {
    char dir_template[] = "/tmp/pigeon-zone-XXXXXX";
    const char* dir = ::mkdtemp(dir_template);
    BOOST_REQUIRE(dir != nullptr);
    const std::string path = std::string(dir) + "/test.zone";
    {
        std::ofstream out(path);
        out << "a. A 192.0.2.1\nb. A 1.2.3\n";
    }
    auto bad = ZoneResolver::load(path);
    BOOST_REQUIRE(!bad.ok());
    BOOST_TEST(bad.error().message == path + ": line 2: bad IPv4 address '1.2.3'");
    {
        std::ofstream out(path);
        out << "www A 192.0.2.1\n";
    }
    auto good = ZoneResolver::load(path, "example.com");
    BOOST_REQUIRE(good.ok());
    BOOST_TEST(good.value().lookup(make_question("www.example.com", RrType::a)).records.size() == 1u);
    std::remove(path.c_str());
    ::rmdir(dir);
    auto missing = ZoneResolver::load(path);
    BOOST_REQUIRE(!missing.ok());
    BOOST_TEST(missing.error().message == path + ": cannot read");
}

BOOST_AUTO_TEST_CASE(programmatic_add) {
    ZoneResolver z;
    BOOST_TEST((ask(z, "x.test", RrType::a).rcode == Rcode::nxdomain));
    z.add(Record{"X.Test.", RrType::a, 60, Ipv4{{192, 0, 2, 9}}});
    auto a = ask(z, "x.test", RrType::a);
    BOOST_REQUIRE(a.records.size() == 1u);
    BOOST_TEST(a.records[0].name == "x.test");
    BOOST_TEST((ask(z, "test", RrType::a).rcode == Rcode::noerror));  // empty non-terminal
}

BOOST_AUTO_TEST_CASE(zone_lines) {
    BOOST_TEST(to_zone_line(Record{"a.example", RrType::a, 60, Ipv4{{192, 0, 2, 1}}}) == "a.example. 60 IN A 192.0.2.1");
    BOOST_TEST(to_zone_line(Record{"", RrType::ns, 1, Name{""}}) == ". 1 IN NS .");
    BOOST_TEST(to_zone_line(Record{"m", RrType::mx, 5, Mx{10, "mx.example"}}) == "m. 5 IN MX 10 mx.example.");
    BOOST_TEST(to_zone_line(Record{"t", RrType::txt, 5, Txt{{"a \"q\" \\", std::string("\x01\xff", 2)}}}) ==
               "t. 5 IN TXT \"a \\\"q\\\" \\\\\" \"\\001\\255\"");
    BOOST_TEST(to_zone_line(Record{"t", RrType::tlsa, 5, Tlsa{3, 1, 1, "\x01\xab"}}) == "t. 5 IN TLSA 3 1 1 01ab");
}

// ---- properties -------------------------------------------------------------------------------

namespace {

rc::Gen<std::string> gen_label() {
    return rc::gen::map(rc::gen::nonEmpty(rc::gen::container<std::string>(
                            rc::gen::elementOf(std::string("abcdefghijklmnopqrstuvwxyz0123456789-_")))),
                        [](std::string l) { return l.substr(0, 40); });
}

rc::Gen<std::string> gen_name() {
    return rc::gen::exec([] {
        const auto n = *rc::gen::inRange<std::size_t>(1, 4);
        std::string out;
        for (std::size_t i = 0; i < n; ++i) {
            if (!out.empty()) out += '.';
            out += *gen_label();
        }
        return out;
    });
}

rc::Gen<Record> gen_record() {
    return rc::gen::exec([] {
        Record r;
        r.name = *gen_name();
        r.ttl = *rc::gen::inRange<std::uint32_t>(0, max_ttl_seconds);
        const int kind = *rc::gen::inRange(0, 9);
        switch (kind) {
            case 0: r.type = RrType::a; r.data = Ipv4{*rc::gen::arbitrary<std::array<std::uint8_t, 4>>()}; break;
            case 1: r.type = RrType::aaaa; r.data = Ipv6{*rc::gen::arbitrary<std::array<std::uint8_t, 16>>()}; break;
            case 2: r.type = RrType::mx; r.data = Mx{*rc::gen::arbitrary<std::uint16_t>(), *gen_name()}; break;
            case 3:
            case 4: {
                r.type = kind == 3 ? RrType::txt : RrType::spf;
                Txt t;
                const auto n = *rc::gen::inRange(1, 4);
                for (int i = 0; i < n; ++i) t.strings.push_back((*rc::gen::arbitrary<std::string>()).substr(0, 255));
                r.data = t;
                break;
            }
            case 5: r.type = RrType::ptr; r.data = Name{*gen_name()}; break;
            case 6: r.type = RrType::ns; r.data = Name{*gen_name()}; break;
            case 7: {
                r.type = RrType::tlsa;
                r.data = Tlsa{*rc::gen::arbitrary<std::uint8_t>(), *rc::gen::arbitrary<std::uint8_t>(),
                              *rc::gen::arbitrary<std::uint8_t>(), *rc::gen::nonEmpty<std::string>()};
                break;
            }
            default:
                // CNAMEs get owners of their own: a CNAME may not share its owner (checked separately).
                r.type = RrType::cname;
                r.name = "cname-" + *gen_label() + ".alias";
                r.data = Name{*gen_name()};
                break;
        }
        return r;
    });
}

}  // namespace

RC_BOOST_PROP(formatted_records_parse_back, ()) {
    const auto generated = *rc::gen::container<std::vector<Record>>(gen_record());
    std::vector<Record> expected;
    std::set<std::string> cname_owners;
    std::string text;
    for (const auto& r : generated) {
        if (r.type == RrType::cname && !cname_owners.insert(r.name).second) continue;
        bool duplicate = false;
        for (const auto& e : expected)
            duplicate = duplicate || (e.name == r.name && e.type == r.type && e.data == r.data);
        if (duplicate) continue;
        expected.push_back(r);
        text += to_zone_line(r) + "\n";
    }
    auto z = ZoneResolver::parse(text);
    if (!z) RC_FAIL(z.error().message + "\n" + text);
    auto& zone = z.value();
    RC_ASSERT(zone.records() == expected);
    for (const auto& r : expected) {
        auto a = zone.lookup(Question{r.name, r.type});
        RC_ASSERT(a.rcode == Rcode::noerror);
        bool found = false;
        for (const auto& got : a.records) found = found || got == r;
        RC_ASSERT(found);
    }
}

RC_BOOST_PROP(parser_is_total_on_arbitrary_text, (std::string text)) {
    auto z = ZoneResolver::parse(text);
    if (z.ok()) {
        auto& zone = z.value();
        for (const auto& r : zone.records()) (void)zone.lookup(Question{r.name, r.type});
    }
}

RC_BOOST_PROP(parser_is_total_on_zone_like_text, ()) {
    const std::vector<std::string> vocabulary = {
        "@", "$ORIGIN", "$TTL", "$INCLUDE", "IN", "CH", "A", "AAAA", "MX", "TXT", "SPF", "CNAME", "PTR", "NS",
        "TLSA", "SOA", "3600", "1h", "10", "192.0.2.1", "::1", "example.", "www", "a.b", ".", "\"", "\"x y\"",
        "(", ")", ";", "\\", "\\065", "\\999", "; pigeon: bogus", "; pigeon: timeout", "; pigeon: secure .",
        "00ff", "\n", "\n", "\n", " ", " ", "\t", "\r\n"};
    const auto pieces = *rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(vocabulary));
    std::string text;
    for (const auto& p : pieces) text += p + (p == "\n" ? "" : " ");
    auto z = ZoneResolver::parse(text);
    if (z.ok()) {
        auto& zone = z.value();
        for (const auto& r : zone.records()) {
            (void)zone.lookup(Question{r.name, r.type});
            (void)zone.lookup(Question{r.name, RrType::cname});
            auto again = ZoneResolver::parse(to_zone_line(r));
            RC_ASSERT(again.ok());
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
