// Tests for dns/dns.hpp: names of types, rcodes and security states, question normalisation,
// and the strict IPv4 / IPv6 text forms (RFC 4291 2.2 in, RFC 5952 out).
#include "dns/dns.hpp"

#include <rapidcheck/boost_test.h>

#include <string>
#include <vector>

using namespace pigeon::dns;

BOOST_AUTO_TEST_SUITE(dns_values)

BOOST_AUTO_TEST_CASE(type_names_round_trip) {
    for (RrType t : {RrType::a, RrType::ns, RrType::cname, RrType::soa, RrType::ptr, RrType::mx, RrType::txt,
                     RrType::aaaa, RrType::spf, RrType::tlsa}) {
        auto back = type_from_name(type_name(t));
        BOOST_REQUIRE(back.has_value());
        BOOST_TEST(static_cast<int>(*back) == static_cast<int>(t));
    }
    BOOST_TEST(std::string(type_name(RrType::tlsa)) == "TLSA");
    BOOST_TEST(type_from_name("mx").has_value());
    BOOST_TEST((type_from_name("Aaaa") == std::optional<RrType>(RrType::aaaa)));
    BOOST_TEST(!type_from_name("SRV").has_value());
    BOOST_TEST(!type_from_name("").has_value());
    BOOST_TEST(!type_from_name("A ").has_value());
}

BOOST_AUTO_TEST_CASE(rcode_and_security_names) {
    BOOST_TEST(std::string(rcode_name(Rcode::noerror)) == "NOERROR");
    BOOST_TEST(std::string(rcode_name(Rcode::nxdomain)) == "NXDOMAIN");
    BOOST_TEST(std::string(rcode_name(Rcode::servfail)) == "SERVFAIL");
    BOOST_TEST(std::string(rcode_name(Rcode::refused)) == "REFUSED");
    BOOST_TEST(std::string(rcode_name(Rcode::timeout)) == "TIMEOUT");
    BOOST_TEST(std::string(security_name(Security::secure)) == "secure");
    BOOST_TEST(std::string(security_name(Security::insecure)) == "insecure");
    BOOST_TEST(std::string(security_name(Security::bogus)) == "bogus");
    BOOST_TEST(std::string(security_name(Security::indeterminate)) == "indeterminate");
}

BOOST_AUTO_TEST_CASE(make_question_normalises) {
    auto q = make_question("Mail.Example.COM.", RrType::mx);
    BOOST_TEST(q.name == "mail.example.com");
    BOOST_TEST(static_cast<int>(q.type) == static_cast<int>(RrType::mx));
    BOOST_TEST(make_question("example.com", RrType::a).name == "example.com");
    BOOST_TEST(make_question(".", RrType::ns).name == "");
    BOOST_TEST(make_question("", RrType::ns).name == "");
    BOOST_TEST((make_question("A.b", RrType::a) == make_question("a.B.", RrType::a)));
}

BOOST_AUTO_TEST_CASE(answer_ok) {
    Answer a;
    BOOST_TEST(a.ok());
    a.rcode = Rcode::nxdomain;
    BOOST_TEST(a.ok());
    a.rcode = Rcode::servfail;
    BOOST_TEST(!a.ok());
    a.rcode = Rcode::timeout;
    BOOST_TEST(!a.ok());
}

BOOST_AUTO_TEST_CASE(ipv4_good) {
    auto a = parse_ipv4("192.0.2.1");
    BOOST_REQUIRE(a.has_value());
    BOOST_TEST((a->octets == std::array<std::uint8_t, 4>{192, 0, 2, 1}));
    BOOST_TEST(to_string(*a) == "192.0.2.1");
    BOOST_TEST(to_string(*parse_ipv4("0.0.0.0")) == "0.0.0.0");
    BOOST_TEST(to_string(*parse_ipv4("255.255.255.255")) == "255.255.255.255");
    BOOST_TEST(to_string(*parse_ipv4("10.100.0.9")) == "10.100.0.9");
}

BOOST_AUTO_TEST_CASE(ipv4_bad) {
    for (const char* bad : {"", "1", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "1..2.3", ".1.2.3.4",
                            "1.2.3.4.", "01.2.3.4", "1.2.3.00", "1.2.3.0004", "1.2.3.-4", " 1.2.3.4", "1.2.3.4 ",
                            "1.2.3.a", "0x1.2.3.4", "1.2.3.4/24", "1000.2.3.4", "::1"}) {
        BOOST_TEST_INFO(bad);
        BOOST_TEST(!parse_ipv4(bad).has_value());
    }
}

BOOST_AUTO_TEST_CASE(ipv6_good_and_canonical) {
    struct Case { const char* in; const char* out; };
    for (const auto& c : std::vector<Case>{
             {"2001:db8::1", "2001:db8::1"},
             {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
             {"::", "::"},
             {"::1", "::1"},
             {"1::", "1::"},
             {"0:0:0:0:0:0:0:0", "::"},
             {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},   // RFC 5952 4.2.3: leftmost run
             {"2001:0db8:0000:0001:0001:0001:0001:0001", "2001:db8:0:1:1:1:1:1"},  // 4.2.2: no "::" for one
             {"2001:db8:0:0:0:1:0:0", "2001:db8::1:0:0"},
             {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
             {"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
             {"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
             {"::FFFF:c000:0201", "::ffff:192.0.2.1"},
             {"::192.0.2.1", "::c000:201"},
             {"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
             {"fe80::1:2.3.4.5", "fe80::1:203:405"},
         }) {
        BOOST_TEST_INFO(c.in);
        auto a = parse_ipv6(c.in);
        BOOST_REQUIRE(a.has_value());
        BOOST_TEST(to_string(*a) == c.out);
    }
    auto one = parse_ipv6("::1");
    BOOST_TEST(one->octets[15] == 1);
    BOOST_TEST(one->octets[0] == 0);
}

BOOST_AUTO_TEST_CASE(ipv6_bad) {
    for (const char* bad : {"", ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", ":1::2", "1::2:",
                            "1:2:3:4:5:6:7:8:", ":1:2:3:4:5:6:7:8", "12345::", "g::1", "1:2:3:4:5:6:7:8::",
                            "::1:2:3:4:5:6:7:8", "1.2.3.4", "::1.2.3", "::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4",
                            "::01.2.3.4", "[::1]", "fe80::1%eth0", "::/0", " ::1", "::1 ", "1:2:3:4:5:6:7:8:1.2.3.4"}) {
        BOOST_TEST_INFO(bad);
        BOOST_TEST(!parse_ipv6(bad).has_value());
    }
}

RC_BOOST_PROP(ipv4_text_round_trips, (std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d)) {
    Ipv4 v{{a, b, c, d}};
    auto back = parse_ipv4(to_string(v));
    RC_ASSERT(back.has_value());
    RC_ASSERT(*back == v);
}

RC_BOOST_PROP(ipv6_text_round_trips, (std::vector<std::uint16_t> groups)) {
    // Bias towards zero runs, which is where the compression rules live.
    Ipv6 v;
    for (std::size_t i = 0; i < 8; ++i) {
        const std::uint16_t g = i < groups.size() ? (groups[i] % 3 == 0 ? 0 : groups[i]) : 0;
        v.octets[2 * i] = static_cast<std::uint8_t>(g >> 8);
        v.octets[2 * i + 1] = static_cast<std::uint8_t>(g & 0xff);
    }
    const std::string text = to_string(v);
    auto back = parse_ipv6(text);
    RC_ASSERT(back.has_value());
    RC_ASSERT(*back == v);
    RC_ASSERT(text.find(":::") == std::string::npos);
}

RC_BOOST_PROP(parsers_total_on_arbitrary_text, (std::string text)) {
    (void)parse_ipv4(text);
    (void)parse_ipv6(text);
    (void)type_from_name(text);
    (void)make_question(text, RrType::a);
    // Anything accepted prints to a form that parses to the same address.
    if (auto v6 = parse_ipv6(text)) RC_ASSERT(parse_ipv6(to_string(*v6)) == v6);
    if (auto v4 = parse_ipv4(text)) RC_ASSERT(to_string(*v4) == text);
}

BOOST_AUTO_TEST_CASE(answer_cache) {
    AnswerCache cache;
    auto q = make_question("example.com", RrType::txt);
    BOOST_TEST(cache.find(q) == nullptr);
    Answer a;
    a.rcode = Rcode::nxdomain;
    cache.put(q, a);
    BOOST_REQUIRE(cache.find(q) != nullptr);
    BOOST_TEST((cache.find(q)->rcode == Rcode::nxdomain));
    BOOST_TEST(cache.find(make_question("example.com", RrType::mx)) == nullptr);
    BOOST_TEST(cache.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
