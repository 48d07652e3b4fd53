// Tests for core/domain.hpp: RFC 5321 4.1.2 Domain and 4.1.3 address literals.
#include "core/domain.hpp"

#include <rapidcheck/boost_test.h>

#include <string>
#include <vector>

#include "core/limits.hpp"

using pigeon::core::Domain;
using pigeon::core::DomainSyntax;

namespace {

bool parses(std::string_view text, DomainSyntax syntax = {}) { return Domain::parse(text, syntax).ok(); }

const DomainSyntax utf8{true, true};
const DomainSyntax helo{false, false};

// ---- generators of valid domain text -------------------------------------------------------

const std::string let_dig_chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

rc::Gen<char> gen_let_dig() { return rc::gen::elementOf(let_dig_chars); }
rc::Gen<char> gen_ldh() {
    return rc::gen::weightedOneOf<char>({{8, gen_let_dig()}, {1, rc::gen::just('-')}});
}

// sub-domain = Let-dig [Ldh-str], 1..max octets.
rc::Gen<std::string> gen_label(std::size_t max) {
    return rc::gen::mapcat(rc::gen::inRange<std::size_t>(1, max + 1), [](std::size_t n) {
        return rc::gen::map(rc::gen::container<std::string>(n, gen_ldh()), [](std::string s) {
            s.front() = s.front() == '-' ? 'a' : s.front();
            s.back() = s.back() == '-' ? '9' : s.back();
            return s;
        });
    });
}

// A U-label: ASCII letters mixed with whole UTF-8 characters (2, 3 and 4 octets).
rc::Gen<std::string> gen_u_label() {
    const std::vector<std::string> pieces = {"a", "z", "0", "\xC3\xA9", "\xC3\xBC", "\xE6\x97\xA5",
                                             "\xD0\xBF", "\xF0\x9F\x98\x80", "b"};
    return rc::gen::exec([pieces] {
        const auto n = *rc::gen::inRange<std::size_t>(1, 10);
        std::string s;
        for (std::size_t i = 0; i < n; ++i) s += *rc::gen::elementOf(pieces);
        return s;
    });
}

std::string join_labels(const std::vector<std::string>& labels) {
    std::string out;
    for (const auto& l : labels) {
        if (out.size() + l.size() + (out.empty() ? 0 : 1) > pigeon::core::domain_max_octets) break;
        if (!out.empty()) out += '.';
        out += l;
    }
    return out;
}

rc::Gen<std::string> gen_domain_name() {
    return rc::gen::map(
        rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(gen_label(63))), join_labels);
}

rc::Gen<std::string> gen_ipv4() {
    return rc::gen::map(rc::gen::container<std::vector<int>>(4, rc::gen::inRange(0, 256)),
                        [](const std::vector<int>& v) {
                            return std::to_string(v[0]) + "." + std::to_string(v[1]) + "." +
                                   std::to_string(v[2]) + "." + std::to_string(v[3]);
                        });
}

rc::Gen<std::string> gen_hex_group() {
    return rc::gen::mapcat(rc::gen::inRange<std::size_t>(1, 5), [](std::size_t n) {
        return rc::gen::container<std::string>(n, rc::gen::elementOf(std::string("0123456789abcdefABCDEF")));
    });
}

// Any of the four IPv6-addr forms of RFC 5321 4.1.3.
rc::Gen<std::string> gen_ipv6() {
    return rc::gen::exec([] {
        const bool v4 = *rc::gen::arbitrary<bool>();
        const int groups = v4 ? 6 : 8;
        std::vector<std::string> g;
        for (int i = 0; i < groups; ++i) g.push_back(*gen_hex_group());
        std::string out;
        if (*rc::gen::arbitrary<bool>()) {
            // Compressed: "::" replaces at least two groups.
            const int gap = *rc::gen::inRange(2, groups + 1);
            const int start = *rc::gen::inRange(0, groups - gap + 1);
            for (int i = 0; i < start; ++i) out += (i ? ":" : "") + g[i];
            out += "::";
            for (int i = start + gap; i < groups; ++i) out += g[i] + (i + 1 < groups ? ":" : "");
            if (v4) out += (start + gap < groups ? ":" : "") + *gen_ipv4();
        } else {
            for (int i = 0; i < groups; ++i) out += (i ? ":" : "") + g[i];
            if (v4) out += ":" + *gen_ipv4();
        }
        return out;
    });
}

rc::Gen<std::string> gen_general_literal() {
    return rc::gen::exec([] {
        const std::string tag = *rc::gen::suchThat(gen_label(10), [](const std::string& t) {
            return Domain::parse("[" + t + ":x]").ok() && Domain::parse("[" + t + ":x]")->kind() ==
                                                                  Domain::Kind::general_literal;
        });
        std::string dcontent;
        for (char c = 33; c <= 126; ++c) {
            if (c < 91 || c > 93) dcontent += c;
        }
        const auto content = *rc::gen::nonEmpty(
            rc::gen::container<std::string>(rc::gen::elementOf(dcontent)));
        return "[" + tag + ":" + content.substr(0, 100) + "]";
    });
}

std::string random_case(std::string s, const std::vector<bool>& flips) {
    for (std::size_t i = 0; i < s.size() && i < flips.size(); ++i) {
        if (flips[i] && s[i] >= 'a' && s[i] <= 'z') s[i] = static_cast<char>(s[i] - 32);
        else if (flips[i] && s[i] >= 'A' && s[i] <= 'Z') s[i] = static_cast<char>(s[i] + 32);
    }
    return s;
}

rc::Gen<std::string> gen_domain_text() {
    return rc::gen::oneOf(
        gen_domain_name(), rc::gen::map(gen_ipv4(), [](std::string a) { return "[" + a + "]"; }),
        rc::gen::map(rc::gen::pair(gen_ipv6(), rc::gen::arbitrary<std::vector<bool>>()),
                     [](const std::pair<std::string, std::vector<bool>>& p) {
                         return "[" + random_case("IPv6", p.second) + ":" + p.first + "]";
                     }),
        gen_general_literal());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(domain)

// ---- names ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(accepts_rfc5321_example_names) {
    for (const char* name : {"example.com", "d.bar.org", "hosta.int", "jkl.org", "foo.com", "a",
                             "xn--bcher-kva.example", "1.2.3", "a-b.c-d.e", "3com.com", "EXAMPLE.COM"}) {
        BOOST_TEST_INFO(name);
        auto d = Domain::parse(name);
        BOOST_TEST_REQUIRE(d.ok());
        BOOST_TEST(d->text() == name);
        BOOST_TEST((d->kind() == Domain::Kind::name));
        BOOST_TEST(!d->is_literal());
        BOOST_TEST(d->literal_address().empty());
    }
}

BOOST_AUTO_TEST_CASE(rejects_empty_and_misplaced_dots) {
    for (const char* bad : {"", ".", "example.com.", ".example.com", "a..b", "a.", "..", " example.com",
                            "example.com ", "exa mple.com"}) {
        BOOST_TEST_INFO('"' << bad << '"');
        BOOST_TEST(!parses(bad));
    }
}

BOOST_AUTO_TEST_CASE(rejects_labels_starting_or_ending_with_hyphen) {
    BOOST_TEST(!parses("-example.com"));
    BOOST_TEST(!parses("example-.com"));
    BOOST_TEST(!parses("example.-com"));
    BOOST_TEST(!parses("example.com-"));
    BOOST_TEST(!parses("-"));
    BOOST_TEST(parses("ex--ample.com"));
}

BOOST_AUTO_TEST_CASE(rejects_characters_outside_letters_digits_hyphen) {
    for (const char* bad : {"exa_mple.com", "ex@mple.com", "example.com:25", "ex!ample", "a/b",
                            "caf\xC3\xA9.example", "a\tb", "[1.2.3.4"}) {
        BOOST_TEST_INFO(bad);
        BOOST_TEST(!parses(bad));
    }
    BOOST_TEST(!parses(std::string_view("a\0b", 3)));
}

BOOST_AUTO_TEST_CASE(label_of_63_octets_is_accepted_and_64_rejected) {
    BOOST_TEST(parses(std::string(63, 'a') + ".example"));
    BOOST_TEST(!parses(std::string(64, 'a') + ".example"));
    BOOST_TEST(parses(std::string(63, 'a')));
    BOOST_TEST(!parses(std::string(64, 'a')));
}

BOOST_AUTO_TEST_CASE(domain_of_255_octets_is_accepted_and_256_rejected) {
    const std::string l63(63, 'a');
    const std::string d255 = l63 + "." + l63 + "." + l63 + "." + l63;
    BOOST_TEST_REQUIRE(d255.size() == 255u);
    BOOST_TEST(parses(d255));
    const std::string d256 = l63 + "." + l63 + "." + l63 + "." + std::string(62, 'b') + ".c";
    BOOST_TEST_REQUIRE(d256.size() == 256u);
    BOOST_TEST(!parses(d256));
}

BOOST_AUTO_TEST_CASE(names_compare_case_insensitively) {
    BOOST_TEST((*Domain::parse("Example.COM") == *Domain::parse("example.com")));
    BOOST_TEST(!(*Domain::parse("example.com") == *Domain::parse("example.org")));
    BOOST_TEST(Domain::parse("Example.COM")->lowercase() == "example.com");
    BOOST_TEST(Domain::parse("Example.COM")->text() == "Example.COM");
}

BOOST_AUTO_TEST_CASE(utf8_labels_need_allow_utf8) {
    const std::string u = "b\xC3\xBC" "cher.example";  // bücher.example
    BOOST_TEST(!parses(u));
    BOOST_TEST(parses(u, utf8));
    BOOST_TEST(parses("\xE6\x97\xA5\xE6\x9C\xAC.jp", utf8));  // 日本.jp
    BOOST_TEST(parses("\xC3\xA9", utf8));
}

BOOST_AUTO_TEST_CASE(malformed_utf8_is_rejected_even_with_allow_utf8) {
    for (const std::string& bad : {std::string("\xC3.example"), std::string("\xA9.example"),
                                  std::string("\xC0\xAF.example"),            // overlong "/"
                                  std::string("\xED\xA0\x80.example"),        // surrogate
                                  std::string("\xF4\x90\x80\x80.example"),    // past U+10FFFF
                                  std::string("\xFF.example"), std::string("a\xE6\x97")}) {
        BOOST_TEST(!parses(bad, utf8));
    }
}

BOOST_AUTO_TEST_CASE(utf8_validator_accepts_every_encoding_length) {
    using pigeon::core::is_well_formed_utf8;
    BOOST_TEST(is_well_formed_utf8(""));
    BOOST_TEST(is_well_formed_utf8("ascii"));
    BOOST_TEST(is_well_formed_utf8("\xC2\x80\xDF\xBF"));
    BOOST_TEST(is_well_formed_utf8("\xE0\xA0\x80\xEF\xBF\xBF"));
    BOOST_TEST(is_well_formed_utf8("\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"));
    BOOST_TEST(!is_well_formed_utf8("\xE0\x80\x80"));      // overlong 3-octet
    BOOST_TEST(!is_well_formed_utf8("\xF0\x80\x80\x80"));  // overlong 4-octet
    BOOST_TEST(!is_well_formed_utf8("\xC2"));              // truncated
    BOOST_TEST(!is_well_formed_utf8("\xC2\x41"));          // bad continuation
}

BOOST_AUTO_TEST_CASE(trailing_dot_is_an_error_with_utf8_too) {
    BOOST_TEST(!parses("example.com.", utf8));
}

// ---- IPv4 literals -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(ipv4_literal_is_accepted) {
    auto d = Domain::parse("[192.0.2.1]");
    BOOST_TEST_REQUIRE(d.ok());
    BOOST_TEST((d->kind() == Domain::Kind::ipv4_literal));
    BOOST_TEST(d->is_literal());
    BOOST_TEST(d->literal_address() == "192.0.2.1");
    BOOST_TEST(d->text() == "[192.0.2.1]");
    BOOST_TEST(parses("[0.0.0.0]"));
    BOOST_TEST(parses("[255.255.255.255]"));
    BOOST_TEST(parses("[001.02.3.004]"));  // Snum is 1*3DIGIT, leading zeros included
}

BOOST_AUTO_TEST_CASE(ipv4_literal_rejects_bad_snum_and_shape) {
    for (const char* bad : {"[256.1.1.1]", "[1.2.3]", "[1.2.3.4.5]", "[1.2.3.]", "[.1.2.3]",
                            "[1..2.3]", "[0001.2.3.4]", "[1.2.3.a]", "[]", "[", "]", "[ 1.2.3.4]",
                            "[1.2.3.4] ", "1.2.3.4]", "[-1.2.3.4]", "[+1.2.3.4]"}) {
        BOOST_TEST_INFO(bad);
        BOOST_TEST(!parses(bad));
    }
}

BOOST_AUTO_TEST_CASE(address_literal_is_refused_when_not_allowed) {
    BOOST_TEST(!parses("[192.0.2.1]", helo));
    BOOST_TEST(!parses("[IPv6:::1]", helo));
    BOOST_TEST(parses("example.com", helo));
}

BOOST_AUTO_TEST_CASE(is_ipv4_address_checks_dotted_quads) {
    BOOST_TEST(pigeon::core::is_ipv4_address("10.0.0.1"));
    BOOST_TEST(!pigeon::core::is_ipv4_address("10.0.0.256"));
    BOOST_TEST(!pigeon::core::is_ipv4_address("10.0.0"));
    BOOST_TEST(!pigeon::core::is_ipv4_address(""));
}

// ---- IPv6 literals -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(ipv6_literal_forms_of_rfc5321_are_accepted) {
    for (const char* good : {"[IPv6:2001:db8::1]", "[IPv6:2001:0db8:0000:0000:0000:0000:0000:0001]",
                             "[IPv6:::1]", "[IPv6:::]", "[IPv6:1::]", "[IPv6:1:2:3::6:7:8]",
                             "[IPv6:::ffff:192.0.2.1]", "[IPv6:1:2:3:4:5:6:192.0.2.1]",
                             "[IPv6:::192.0.2.1]", "[IPv6:1:2::3:4:1.2.3.4]", "[ipv6:ABCD::EF]",
                             "[IPV6:fe80::1]", "[IPv6:1::2:3:4:5:6]"}) {
        BOOST_TEST_INFO(good);
        auto d = Domain::parse(good);
        BOOST_TEST_REQUIRE(d.ok());
        BOOST_TEST((d->kind() == Domain::Kind::ipv6_literal));
    }
    BOOST_TEST(Domain::parse("[IPv6:2001:db8::1]")->literal_address() == "2001:db8::1");
}

BOOST_AUTO_TEST_CASE(ipv6_literal_rejects_what_the_grammar_does_not_allow) {
    for (const char* bad : {
             "[IPv6:1:2:3:4:5:6:7]",          // seven groups, no "::"
             "[IPv6:1:2:3:4:5:6:7:8:9]",      // nine groups
             "[IPv6:1:2:3:4::5:6:7]",         // "::" must stand for at least two groups
             "[IPv6:1::2::3]",                // two "::"
             "[IPv6::::1]", "[IPv6:1:::2]",   // three colons
             "[IPv6:12345::1]",               // five hex digits
             "[IPv6:g::1]",                   // not hex
             "[IPv6:1:2:3:4:5:192.0.2.1]",    // v4-full needs six groups
             "[IPv6:1:2:3:4:5::192.0.2.1]",   // v4-comp allows four groups besides "::"
             "[IPv6:1:2:3:4:5:6:7:1.2.3.4]",  // too many groups before v4
             "[IPv6:::1.2.3.256]", "[IPv6:::1.2.3]", "[IPv6:1.2.3.4]", "[IPv6:]", "[IPv6:1:]",
             "[IPv6::1]", "[IPv6:1::1.2.3.4:5]", "[IPv6:::1 ]", "[IPv6 :::1]"}) {
        BOOST_TEST_INFO(bad);
        BOOST_TEST(!parses(bad));
    }
}

BOOST_AUTO_TEST_CASE(ipv6_literals_compare_ignoring_case) {
    BOOST_TEST((*Domain::parse("[IPv6:ABCD::1]") == *Domain::parse("[ipv6:abcd::1]")));
    BOOST_TEST(!(*Domain::parse("[IPv6:ABCD::1]") == *Domain::parse("[IPv6:abcd::2]")));
    BOOST_TEST(!(*Domain::parse("[1.2.3.4]") == *Domain::parse("a.b.c.d")));
}

// ---- general address literals --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(general_address_literal_is_accepted) {
    auto d = Domain::parse("[x-tag:some!content~]");
    BOOST_TEST_REQUIRE(d.ok());
    BOOST_TEST((d->kind() == Domain::Kind::general_literal));
    BOOST_TEST(d->literal_address().empty());
    BOOST_TEST(parses("[X400:c=us;a=x]"));
}

BOOST_AUTO_TEST_CASE(general_address_literal_rejects_bad_tag_or_content) {
    for (const char* bad : {"[:content]", "[tag-:content]", "[t_g:content]", "[tag:]",
                            "[tag:a b]", "[tag:a[b]", "[tag:a\\b]", "[tag:a]b]", "[tag:caf\xC3\xA9]"}) {
        BOOST_TEST_INFO(bad);
        BOOST_TEST(!parses(bad));
    }
}

BOOST_AUTO_TEST_CASE(general_literal_content_compares_case_sensitively) {
    BOOST_TEST((*Domain::parse("[TAG:abc]") == *Domain::parse("[tag:abc]")));
    BOOST_TEST(!(*Domain::parse("[tag:ABC]") == *Domain::parse("[tag:abc]")));
}

BOOST_AUTO_TEST_CASE(address_literal_longer_than_255_octets_is_rejected) {
    const std::string content(251, 'x');  // "[t:" + content + "]" = 255 octets
    BOOST_TEST(parses("[t:" + content + "]"));
    BOOST_TEST(!parses("[t:" + content + "x]"));
}

// ---- properties ----------------------------------------------------------------------------

RC_BOOST_PROP(generated_valid_domains_parse_and_keep_their_text, ()) {
    const auto text = *gen_domain_text();
    const auto d = Domain::parse(text);
    RC_ASSERT(d.ok());
    RC_ASSERT(d->text() == text);
    const auto again = Domain::parse(d->text());
    RC_ASSERT(again.ok());
    RC_ASSERT(*again == *d);
}

RC_BOOST_PROP(generated_ipv6_addresses_are_valid, ()) {
    const auto a = *gen_ipv6();
    RC_ASSERT(pigeon::core::is_ipv6_address(a));
    RC_ASSERT(Domain::parse("[IPv6:" + a + "]")->literal_address() == a);
}

RC_BOOST_PROP(utf8_domains_round_trip_under_allow_utf8, ()) {
    const auto labels = *rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(gen_u_label()));
    const auto text = join_labels(labels);
    const auto d = Domain::parse(text, utf8);
    RC_ASSERT(d.ok());
    RC_ASSERT(*Domain::parse(d->text(), utf8) == *d);
}

RC_BOOST_PROP(case_changes_do_not_change_equality_of_names, (const std::vector<bool>& flips)) {
    const auto text = *gen_domain_name();
    RC_ASSERT(*Domain::parse(text) == *Domain::parse(random_case(text, flips)));
}

RC_BOOST_PROP(parse_never_throws_and_valid_results_reparse, (const std::string& text, bool allow_literal,
                                                             bool allow_utf8)) {
    const DomainSyntax syntax{allow_literal, allow_utf8};
    const auto d = Domain::parse(text, syntax);
    if (d.ok()) {
        RC_ASSERT(d->text() == text);
        RC_ASSERT(d->text().size() <= pigeon::core::domain_max_octets);
        RC_ASSERT(Domain::parse(d->text(), syntax).ok());
    } else {
        RC_ASSERT(!d.error().message.empty());
    }
}

BOOST_AUTO_TEST_SUITE_END()
