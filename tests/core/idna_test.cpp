// Tests for core/idna.hpp: U-labels to A-labels for DNS questions (IDNA2008 via libidn2).
// Vectors: RFC 3492 7.1 style examples, the IANA IDN test domain 例え.テスト
// (xn--r8jz45g.xn--zckzah), and the well-known bücher -> xn--bcher-kva.
#include "core/idna.hpp"

#include <rapidcheck/boost_test.h>

#include <string>
#include <vector>

using pigeon::core::to_a_labels;

namespace {

std::string a_labels(std::string_view name) {
    const auto r = to_a_labels(name);
    BOOST_REQUIRE_MESSAGE(r.ok(), std::string(name) + ": " + (r.ok() ? "" : r.error().message));
    return r.value();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(idna)

BOOST_AUTO_TEST_CASE(u_labels_become_a_labels) {
    BOOST_TEST(a_labels("bücher.example") == "xn--bcher-kva.example");
    BOOST_TEST(a_labels("mail.bücher.example") == "mail.xn--bcher-kva.example");
    BOOST_TEST(a_labels("例え.テスト") == "xn--r8jz45g.xn--zckzah");
    BOOST_TEST(a_labels("пример.испытание") == "xn--e1afmkfd.xn--80akhbyknj4f");
    // UTS #46 mapping: upper case folds; non-transitional: ß stays ß (not "ss").
    BOOST_TEST(a_labels("BÜCHER.Example") == "xn--bcher-kva.example");
    BOOST_TEST(a_labels("faß.de") == "xn--fa-hia.de");
}

BOOST_AUTO_TEST_CASE(ascii_names_are_only_lowercased) {
    BOOST_TEST(a_labels("Mail.Example.ORG") == "mail.example.org");
    BOOST_TEST(a_labels("xn--bcher-kva.example") == "xn--bcher-kva.example");
    // Not ours to judge here: the Domain parser decides what an ASCII name may be.
    BOOST_TEST(a_labels("ab--c.example") == "ab--c.example");
    BOOST_TEST(a_labels("") == "");
}

BOOST_AUTO_TEST_CASE(invalid_internationalized_names_are_errors) {
    const std::vector<std::string> bad_names = {
        "\xE2\x98\x83.example",                  // U+2603 SNOWMAN: DISALLOWED
        "-b\xC3\xBC" "cher.example",               // leading hyphen
        "b\xC3\xBC\xFF.example",                  // malformed UTF-8
        std::string("b\xC3\xBC\0x.example", 13)};  // a NUL octet
    for (const std::string& bad : bad_names) {
        const auto r = to_a_labels(bad);
        BOOST_TEST(!r.ok());
        if (!r.ok()) BOOST_TEST(r.error().message.find("domain name") != std::string::npos);
    }
}

// A name made of letters, some of them non-ASCII, and dots.
rc::Gen<std::string> gen_name() {
    static const std::vector<std::string> pieces = {"a", "b", "x", "m", "0", "\xC3\xBC", "\xC3\xA9",
                                                    "\xD0\xB4", "\xE4\xBE\x8B", "\xCE\xB1", "."};
    return rc::gen::map(rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(pieces)),
                        [](const std::vector<std::string>& parts) {
                            std::string s;
                            for (const auto& p : parts) s += p;
                            return s;
                        });
}

RC_BOOST_PROP(a_converted_name_is_ascii_and_a_fixed_point, ()) {
    const std::string name = *gen_name();
    const auto once = to_a_labels(name);
    if (!once.ok()) return;  // e.g. empty labels; the property is about what converts
    for (char c : once.value()) RC_ASSERT(static_cast<unsigned char>(c) < 0x80);
    const auto twice = to_a_labels(once.value());
    RC_ASSERT(twice.ok());
    RC_ASSERT(twice.value() == once.value());
}

BOOST_AUTO_TEST_SUITE_END()
