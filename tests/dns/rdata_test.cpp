// Tests for dns/rdata.hpp: rdata from the wire, good and malformed, and the round trip of
// what a well-formed encoder writes.
#include "dns/rdata.hpp"

#include <rapidcheck/boost_test.h>

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using namespace pigeon::dns;
using namespace std::string_literals;

namespace {

// Wire form of a name given as labels (uncompressed, with the root label).
std::string wire_name(const std::vector<std::string>& labels) {
    std::string out;
    for (const auto& l : labels) out += static_cast<char>(l.size()) + l;
    return out + '\0';
}

std::string wire_txt(const std::vector<std::string>& strings) {
    std::string out;
    for (const auto& s : strings) out += static_cast<char>(s.size()) + s;
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rdata)

BOOST_AUTO_TEST_CASE(decode_rdata_types) {
    auto a = decode_rdata(RrType::a, "\xc0\x00\x02\x01"s);
    BOOST_REQUIRE(a.has_value());
    BOOST_TEST(to_string(std::get<Ipv4>(*a)) == "192.0.2.1");
    BOOST_TEST(!decode_rdata(RrType::a, "\x01\x02\x03"s).has_value());

    auto aaaa = decode_rdata(RrType::aaaa, "\x20\x01\x0d\xb8"s + std::string(11, '\0') + "\x01"s);
    BOOST_REQUIRE(aaaa.has_value());
    BOOST_TEST(to_string(std::get<Ipv6>(*aaaa)) == "2001:db8::1");

    auto mx = decode_rdata(RrType::mx, "\x00\x0a\x04Mail\x07" "Example\x03" "com\x00"s);
    BOOST_REQUIRE(mx.has_value());
    BOOST_TEST(std::get<Mx>(*mx).preference == 10);
    BOOST_TEST(std::get<Mx>(*mx).exchange == "mail.example.com");

    auto root = decode_rdata(RrType::mx, "\x00\x00\x00"s);  // RFC 7505 null MX
    BOOST_REQUIRE(root.has_value());
    BOOST_TEST(std::get<Mx>(*root).exchange == "");

    auto txt = decode_rdata(RrType::txt, "\x03" "abc\x00\x02xy"s);
    BOOST_REQUIRE(txt.has_value());
    BOOST_TEST(std::get<Txt>(*txt).strings == (std::vector<std::string>{"abc", "", "xy"}));
    BOOST_TEST(decode_rdata(RrType::spf, "\x01z"s).has_value());
    BOOST_TEST(!decode_rdata(RrType::txt, "\x05" "abc"s).has_value());
    BOOST_TEST(!decode_rdata(RrType::txt, ""s).has_value());

    auto cname = decode_rdata(RrType::cname, "\x01" "a\x04" "b.\\c\x00"s);
    BOOST_REQUIRE(cname.has_value());
    BOOST_TEST(std::get<Name>(*cname).name == "a.b\\046\\092c");
    BOOST_TEST(!decode_rdata(RrType::ptr, "\xc0\x0c"s).has_value());       // compression pointer
    BOOST_TEST(!decode_rdata(RrType::ns, "\x01" "a"s).has_value());          // no terminating root
    BOOST_TEST(!decode_rdata(RrType::ns, "\x01" "a\x00junk"s).has_value());  // trailing octets

    auto tlsa = decode_rdata(RrType::tlsa, "\x03\x01\x01\xab\xcd"s);
    BOOST_REQUIRE(tlsa.has_value());
    BOOST_TEST(std::get<Tlsa>(*tlsa).usage == 3);
    BOOST_TEST(std::get<Tlsa>(*tlsa).data == "\xab\xcd"s);
    BOOST_TEST(!decode_rdata(RrType::tlsa, "\x03\x01"s).has_value());
    BOOST_TEST(!decode_rdata(RrType::soa, "anything"s).has_value());
}

BOOST_AUTO_TEST_CASE(malformed_rdata_is_refused_not_read_past) {
    // Addresses of the wrong length, either way.
    BOOST_TEST(!decode_rdata(RrType::a, ""s).has_value());
    BOOST_TEST(!decode_rdata(RrType::a, "\x01\x02\x03\x04\x05"s).has_value());
    BOOST_TEST(!decode_rdata(RrType::aaaa, std::string(15, '\x01')).has_value());
    BOOST_TEST(!decode_rdata(RrType::aaaa, std::string(17, '\x01')).has_value());
    // Names: empty rdata, a label longer than what is left, the 0x40 and 0x80 label types
    // (RFC 6891 / RFC 2673, never valid here), more than 255 octets.
    BOOST_TEST(!decode_rdata(RrType::cname, ""s).has_value());
    BOOST_TEST(!decode_rdata(RrType::cname, "\x3f" "abc\x00"s).has_value());
    BOOST_TEST(!decode_rdata(RrType::cname, "\x41" "a\x00"s).has_value());
    BOOST_TEST(!decode_rdata(RrType::cname, "\x81" "a\x00"s).has_value());
    std::string long_name;
    for (int i = 0; i < 5; ++i) long_name += "\x3f" + std::string(63, 'a');  // 320 octets
    BOOST_TEST(!decode_rdata(RrType::ns, long_name + '\0').has_value());
    std::string max_name;  // 3 x 64 + 62 + 1 = 255 octets of labels: the most RFC 1035 allows
    for (int i = 0; i < 3; ++i) max_name += "\x3f" + std::string(63, 'a');
    max_name += "\x3d" + std::string(61, 'b');
    BOOST_TEST(decode_rdata(RrType::ns, max_name + '\0').has_value());
    // MX: no room for the preference, or a preference without a name.
    BOOST_TEST(!decode_rdata(RrType::mx, "\x00"s).has_value());
    BOOST_TEST(!decode_rdata(RrType::mx, "\x00\x0a"s).has_value());
    BOOST_TEST(!decode_rdata(RrType::mx, "\x00\x0a\x01"s).has_value());
    // TXT: a length octet past the end, in the middle and at the end.
    BOOST_TEST(!decode_rdata(RrType::txt, "\x01" "a\x02" "b"s).has_value());
    BOOST_TEST(!decode_rdata(RrType::spf, "\x01" "a\xff"s).has_value());
    // TLSA: a header of three octets is enough; the data may be empty.
    BOOST_TEST(decode_rdata(RrType::tlsa, "\x03\x01\x01"s).has_value());
    BOOST_TEST(!decode_rdata(RrType::tlsa, ""s).has_value());
}

BOOST_AUTO_TEST_CASE(names_escape_octets_that_would_be_ambiguous) {
    // Control characters, space, DEL and backslash come out as \DDD (RFC 1035 5.1); upper
    // case is folded, other octets (UTF-8 included) kept.
    auto n = decode_rdata(RrType::ptr, wire_name({"A\r\n B", "\x7f\xc3\xa9"}));
    BOOST_REQUIRE(n.has_value());
    BOOST_TEST(std::get<Name>(*n).name == "a\\013\\010\\032b.\\127\xc3\xa9");
}

BOOST_AUTO_TEST_CASE(txt_octets_are_kept_as_sent) {
    // TXT text is data, CR, LF and NUL included: escaping it is the logger's job, not this one's.
    auto t = decode_rdata(RrType::txt, wire_txt({"v=spf1 a\r\nb\0c"s, std::string(255, 'x')}));
    BOOST_REQUIRE(t.has_value());
    BOOST_TEST(std::get<Txt>(*t).strings ==
               (std::vector<std::string>{"v=spf1 a\r\nb\0c"s, std::string(255, 'x')}));
}

// Whatever a well-formed encoder writes for TXT decodes to the same strings.
RC_BOOST_PROP(txt_round_trips, ()) {
    const auto strings = *rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(
        rc::gen::resize(255, rc::gen::string<std::string>())));
    for (const auto& s : strings) RC_PRE(s.size() <= 255u);
    const auto t = decode_rdata(RrType::txt, wire_txt(strings));
    RC_ASSERT(t.has_value());
    RC_ASSERT(std::get<Txt>(*t).strings == strings);
}

// Any bytes for any type: an answer or nullopt, and a decoded name is never longer than the
// escaped form of 255 octets and never holds a raw control character or upper-case letter.
RC_BOOST_PROP(any_bytes_decode_or_are_refused, (const std::string& wire)) {
    for (RrType type : {RrType::a, RrType::aaaa, RrType::ns, RrType::cname, RrType::ptr,
                        RrType::mx, RrType::txt, RrType::spf, RrType::tlsa, RrType::soa}) {
        const auto r = decode_rdata(type, wire);
        if (!r) continue;
        const std::string* name = nullptr;
        if (const auto* n = std::get_if<Name>(&*r)) name = &n->name;
        if (const auto* m = std::get_if<Mx>(&*r)) name = &m->exchange;
        if (name == nullptr) continue;
        RC_ASSERT(name->size() <= 255u * 4);
        for (char c : *name) {
            const auto u = static_cast<unsigned char>(c);
            RC_ASSERT(u >= 0x21u);
            RC_ASSERT(u != 0x7fu);
            RC_ASSERT(!(c >= 'A' && c <= 'Z'));
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
