// DMARC aggregate report data (auth/dmarc/report.hpp): the record line round trip, decoding of
// bad lines, record_from, grouping and filtering, XML escaping and one golden report.
#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "auth/dmarc/report.hpp"

using namespace pigeon::dmarc;

namespace {

// Strings that exercise the escaping: the escape character, separators, controls, high bytes.
std::string nasty_string() {
    return *rc::gen::oneOf(
        rc::gen::arbitrary<std::string>(),
        rc::gen::container<std::string>(
            rc::gen::element('\\', '\t', '\n', '\r', 'x', 't', '0', '\0', 'a', '\x7f', '\xff', '<')));
}

EvaluationRecord arbitrary_record() {
    EvaluationRecord r;
    r.time = *rc::gen::arbitrary<std::int64_t>();
    r.source_ip = nasty_string();
    r.header_from = nasty_string();
    r.envelope_from = nasty_string();
    r.policy_domain = nasty_string();
    r.p = nasty_string();
    r.sp = nasty_string();
    r.adkim = nasty_string();
    r.aspf = nasty_string();
    r.pct = *rc::gen::inRange(0u, 101u);
    r.disposition = nasty_string();
    r.dkim_aligned_result = nasty_string();
    r.spf_aligned_result = nasty_string();
    r.reason_type = nasty_string();
    const int n = *rc::gen::inRange(0, 4);
    for (int i = 0; i < n; ++i) r.dkim.push_back({nasty_string(), nasty_string(), nasty_string()});
    r.spf_domain = nasty_string();
    r.spf_scope = nasty_string();
    r.spf_result = nasty_string();
    return r;
}

EvaluationRecord sample(std::int64_t time, std::string ip, std::string disposition = "none",
                        std::string dkim_aligned = "pass") {
    EvaluationRecord r;
    r.time = time;
    r.source_ip = std::move(ip);
    r.header_from = "example.com";
    r.envelope_from = "example.com";
    r.policy_domain = "example.com";
    r.p = "reject";
    r.sp = "quarantine";
    r.adkim = "r";
    r.aspf = "s";
    r.pct = 100;
    r.disposition = std::move(disposition);
    r.dkim_aligned_result = std::move(dkim_aligned);
    r.spf_aligned_result = "fail";
    r.dkim = {{"example.com", "sel1", "pass"}};
    r.spf_domain = "example.com";
    r.spf_scope = "mfrom";
    r.spf_result = "softfail";
    return r;
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

// Parses `xml` with Python's minidom when /usr/bin/python3 exists: true when well-formed.
bool well_formed(const std::string& xml) {
    if (::access("/usr/bin/python3", X_OK) != 0) return true;  // nothing to check with
    char path[] = "/tmp/pigeon-dmarc-report-XXXXXX";
    int fd = ::mkstemp(path);
    BOOST_REQUIRE(fd >= 0);
    ::close(fd);
    std::ofstream(path) << xml;
    std::string command = std::string("/usr/bin/python3 -c \"import xml.dom.minidom,sys; "
                                      "xml.dom.minidom.parse(sys.argv[1])\" ") + path;
    int status = std::system(command.c_str());
    std::filesystem::remove(path);
    return status == 0;
}

const ReportMetadata meta{"mx.example.net", "postmaster@mx.example.net", "r-1", 1000, 2000};

}  // namespace

BOOST_AUTO_TEST_SUITE(dmarc_report)

RC_BOOST_PROP(record_line_round_trips, ()) {
    const EvaluationRecord r = arbitrary_record();
    const std::string line = encode_record_line(r);
    RC_ASSERT(line.find('\n') == std::string::npos);
    RC_ASSERT(line.find('\r') == std::string::npos);
    auto back = decode_record_line(line);
    RC_ASSERT(back.ok());
    RC_ASSERT(*back == r);
    auto with_newline = decode_record_line(line + "\n");
    RC_ASSERT(with_newline.ok());
    RC_ASSERT(*with_newline == r);
}

RC_BOOST_PROP(decoder_never_crashes_on_damaged_lines, (const std::string& noise)) {
    std::string line = encode_record_line(arbitrary_record());
    const auto cut = *rc::gen::inRange<std::size_t>(0, line.size() + 1);
    const std::string damaged = *rc::gen::element(line.substr(0, cut), line.substr(0, cut) + noise,
                                                  noise, line + "\t" + noise);
    auto result = decode_record_line(damaged);
    if (result.ok()) RC_ASSERT(decode_record_line(encode_record_line(*result)).ok());
}

BOOST_AUTO_TEST_CASE(bad_lines_are_errors) {
    const std::string good = encode_record_line(sample(1500, "192.0.2.1"));
    BOOST_TEST(decode_record_line(good).ok());
    BOOST_TEST(!decode_record_line("").ok());
    BOOST_TEST(!decode_record_line("dmarc1").ok());
    BOOST_TEST(!decode_record_line("dmarc2" + good.substr(6)).ok());
    BOOST_TEST(!decode_record_line(good.substr(0, good.rfind('\t'))).ok());  // a DKIM field short
    BOOST_TEST(!decode_record_line(good + "\textra").ok());
    BOOST_TEST(!decode_record_line(good + "\\").ok());   // dangling escape
    BOOST_TEST(!decode_record_line(good + "\\q").ok());  // unknown escape
    BOOST_TEST(!decode_record_line(good + "\\x4").ok());  // short \x
    BOOST_TEST(!decode_record_line(good + "\x01").ok());  // a raw control byte
    std::string bad_time = good;
    bad_time.replace(7, 4, "15x0");
    BOOST_TEST(!decode_record_line(bad_time).ok());
    auto r = sample(1500, "192.0.2.1");
    r.pct = 101;
    BOOST_TEST(!decode_record_line(encode_record_line(r)).ok());
    r.pct = 100;
    r.dkim.clear();
    std::string huge = encode_record_line(r);
    huge.replace(huge.rfind('\t') + 1, std::string::npos, "99999999999999999999999");
    BOOST_TEST(!decode_record_line(huge).ok());
}

BOOST_AUTO_TEST_CASE(line_format_is_readable) {
    auto r = sample(1500, "192.0.2.1");
    r.envelope_from = "a\tb\\c\nd\x01";
    BOOST_TEST(encode_record_line(r) ==
               "dmarc1\t1500\t192.0.2.1\texample.com\ta\\tb\\\\c\\nd\\x01\texample.com\treject\t"
               "quarantine\tr\ts\t100\tnone\tpass\tfail\t\texample.com\tmfrom\tsoftfail\t1\t"
               "example.com\tsel1\tpass");
}

BOOST_AUTO_TEST_CASE(record_from_a_result) {
    DmarcResult result;
    result.verdict = Verdict::fail;
    result.from_domain = "news.example.com";
    result.policy_domain = "example.com";
    Record rec;
    rec.p = Policy::reject;
    rec.adkim = AlignMode::strict;
    rec.pct = 50;
    result.record = rec;
    result.disposition = Disposition::quarantine;
    result.reason = DispositionReason::sampled_out;
    result.dkim_aligned = false;
    result.spf_aligned = true;
    SpfInput spf{pigeon::spf::Verdict::pass, "bounce.example.com", false};
    std::vector<DkimInput> dkim = {{"other.example", "s1", DkimResult::pass, ""},
                                   {"example.com", "s2", DkimResult::fail, ""}};
    auto r = record_from(result, spf, dkim, "2001:db8::1", "bounce.example.com", 1234);
    BOOST_TEST(r.time == 1234);
    BOOST_TEST(r.source_ip == "2001:db8::1");
    BOOST_TEST(r.header_from == "news.example.com");
    BOOST_TEST(r.envelope_from == "bounce.example.com");
    BOOST_TEST(r.policy_domain == "example.com");
    BOOST_TEST(r.p == "reject");
    BOOST_TEST(r.sp == "reject");  // sp absent: p applies
    BOOST_TEST(r.adkim == "s");
    BOOST_TEST(r.aspf == "r");
    BOOST_TEST(r.pct == 50u);
    BOOST_TEST(r.disposition == "quarantine");
    BOOST_TEST(r.reason_type == "sampled_out");
    BOOST_TEST(r.dkim_aligned_result == "fail");
    BOOST_TEST(r.spf_aligned_result == "pass");
    BOOST_REQUIRE(r.dkim.size() == 2u);
    BOOST_TEST(r.dkim[1].domain == "example.com");
    BOOST_TEST(r.dkim[1].selector == "s2");
    BOOST_TEST(r.dkim[1].result == "fail");
    BOOST_TEST(r.spf_scope == "mfrom");
    BOOST_TEST(r.spf_result == "pass");

    DmarcResult none;  // no policy record: empty policy fields
    none.from_domain = "example.org";
    SpfInput helo{pigeon::spf::Verdict::neutral, "mx.example.org", true};
    auto n = record_from(none, helo, {}, "192.0.2.9", "", 5);
    BOOST_TEST(n.p.empty());
    BOOST_TEST(n.policy_domain.empty());
    BOOST_TEST(n.disposition == "none");
    BOOST_TEST(n.reason_type.empty());
    BOOST_TEST(n.spf_scope == "helo");
    BOOST_TEST(n.spf_result == "neutral");
    BOOST_TEST(decode_record_line(encode_record_line(n)).ok());
}

BOOST_AUTO_TEST_CASE(grouping_and_counting) {
    std::vector<EvaluationRecord> records = {
        sample(1000, "192.0.2.1"), sample(1100, "192.0.2.1"), sample(1200, "192.0.2.1"),
        sample(1300, "192.0.2.2"),                               // other IP
        sample(1400, "192.0.2.1", "quarantine", "fail"),         // other results
    };
    records.push_back(sample(1500, "192.0.2.1"));
    records.back().dkim[0].selector = "sel2";  // other auth results
    auto xml = aggregate_report_xml(records, "example.com", meta);
    BOOST_TEST(occurrences(xml, "<record>") == 4u);
    BOOST_TEST(occurrences(xml, "<count>3</count>") == 1u);
    BOOST_TEST(occurrences(xml, "<count>1</count>") == 3u);
    BOOST_TEST(well_formed(xml));
}

BOOST_AUTO_TEST_CASE(filtering_by_domain_and_time) {
    std::vector<EvaluationRecord> records = {sample(999, "192.0.2.1"), sample(1000, "192.0.2.2"),
                                             sample(1999, "192.0.2.3"), sample(2000, "192.0.2.4")};
    auto other = sample(1500, "192.0.2.5");
    other.policy_domain = other.header_from = "example.org";
    records.push_back(other);
    auto upper = sample(1500, "192.0.2.6");
    upper.policy_domain = "EXAMPLE.com.";  // same domain
    records.push_back(upper);
    auto no_policy = sample(1500, "192.0.2.7");  // no record: header_from decides
    no_policy.policy_domain.clear();
    no_policy.p.clear();
    records.push_back(no_policy);
    auto sub = sample(1500, "192.0.2.8");  // policy found at the org domain
    sub.header_from = "mail.example.com";
    records.push_back(sub);

    auto kept = records_for(records, "Example.COM", 1000, 2000);
    std::vector<std::string> ips;
    for (const auto& r : kept) ips.push_back(r.source_ip);
    std::vector<std::string> want = {"192.0.2.2", "192.0.2.3", "192.0.2.6", "192.0.2.7", "192.0.2.8"};
    BOOST_TEST(ips == want, boost::test_tools::per_element());

    auto xml = aggregate_report_xml(records, "example.org", meta);
    BOOST_TEST(occurrences(xml, "<record>") == 1u);
    BOOST_TEST(xml.find("192.0.2.5") != std::string::npos);
    BOOST_TEST(xml.find("<domain>example.org</domain>") != std::string::npos);

    auto empty = aggregate_report_xml(records, "nowhere.example", meta);
    BOOST_TEST(occurrences(empty, "<record>") == 0u);
    BOOST_TEST(empty.find("<p>none</p>") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(xml_escaping) {
    BOOST_TEST(xml_escape("a<b>&\"'c") == "a&lt;b&gt;&amp;&quot;&apos;c");
    BOOST_TEST(xml_escape("x\x01y\x7f\n") == "x?y??");
    BOOST_TEST(xml_escape("caf\xc3\xa9") == "caf\xc3\xa9");      // valid UTF-8 kept
    BOOST_TEST(xml_escape("bad\xff\xc3") == "bad??");             // invalid bytes replaced
    BOOST_TEST(xml_escape("\xed\xa0\x80") == "???");              // a surrogate is not UTF-8
    BOOST_TEST(xml_escape("\xf0\x9f\x90\xa6") == "\xf0\x9f\x90\xa6");

    auto r = sample(1500, "192.0.2.1");
    r.envelope_from = "<evil>&\x02\xfe";
    r.dkim[0].selector = "]]></selector><x>";
    auto m = meta;
    m.org_name = "A & B <org>";
    auto xml = aggregate_report_xml({r}, "example.com", m);
    BOOST_TEST(xml.find("<envelope_from>&lt;evil&gt;&amp;??" "</envelope_from>") != std::string::npos);
    BOOST_TEST(xml.find("<org_name>A &amp; B &lt;org&gt;</org_name>") != std::string::npos);
    BOOST_TEST(well_formed(xml));
    if (::access("/usr/bin/python3", X_OK) == 0) {
        BOOST_TEST(!well_formed("<a><b></a>"));  // the checker does reject broken XML
    }
}

RC_BOOST_PROP(report_is_always_well_formed_text, ()) {
    // Checking the whole document with python per case would be slow: check the escaping
    // guarantees instead (no raw markup characters or controls in a value).
    const std::string value = nasty_string();
    const std::string escaped = xml_escape(value);
    RC_ASSERT(escaped.find('<') == std::string::npos);
    RC_ASSERT(escaped.find('>') == std::string::npos);
    for (unsigned char c : escaped) RC_ASSERT(c >= 0x20 && c != 0x7f);
}

BOOST_AUTO_TEST_CASE(golden_report) {
    std::vector<EvaluationRecord> records = {sample(1000, "192.0.2.1"), sample(1500, "192.0.2.1")};
    auto failed = sample(1600, "198.51.100.7", "quarantine", "fail");
    failed.reason_type = "sampled_out";
    failed.envelope_from = "bounce.example.net";
    failed.dkim.clear();
    failed.spf_domain = "bounce.example.net";
    failed.spf_result = "fail";
    records.push_back(failed);
    records.push_back(sample(2500, "192.0.2.1"));  // outside the range
    const std::string want =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<feedback>\n"
        "  <version>1.0</version>\n"
        "  <report_metadata>\n"
        "    <org_name>mx.example.net</org_name>\n"
        "    <email>postmaster@mx.example.net</email>\n"
        "    <report_id>r-1</report_id>\n"
        "    <date_range>\n"
        "      <begin>1000</begin>\n"
        "      <end>2000</end>\n"
        "    </date_range>\n"
        "  </report_metadata>\n"
        "  <policy_published>\n"
        "    <domain>example.com</domain>\n"
        "    <adkim>r</adkim>\n"
        "    <aspf>s</aspf>\n"
        "    <p>reject</p>\n"
        "    <sp>quarantine</sp>\n"
        "    <pct>100</pct>\n"
        "  </policy_published>\n"
        "  <record>\n"
        "    <row>\n"
        "      <source_ip>192.0.2.1</source_ip>\n"
        "      <count>2</count>\n"
        "      <policy_evaluated>\n"
        "        <disposition>none</disposition>\n"
        "        <dkim>pass</dkim>\n"
        "        <spf>fail</spf>\n"
        "      </policy_evaluated>\n"
        "    </row>\n"
        "    <identifiers>\n"
        "      <header_from>example.com</header_from>\n"
        "      <envelope_from>example.com</envelope_from>\n"
        "    </identifiers>\n"
        "    <auth_results>\n"
        "      <dkim>\n"
        "        <domain>example.com</domain>\n"
        "        <selector>sel1</selector>\n"
        "        <result>pass</result>\n"
        "      </dkim>\n"
        "      <spf>\n"
        "        <domain>example.com</domain>\n"
        "        <scope>mfrom</scope>\n"
        "        <result>softfail</result>\n"
        "      </spf>\n"
        "    </auth_results>\n"
        "  </record>\n"
        "  <record>\n"
        "    <row>\n"
        "      <source_ip>198.51.100.7</source_ip>\n"
        "      <count>1</count>\n"
        "      <policy_evaluated>\n"
        "        <disposition>quarantine</disposition>\n"
        "        <dkim>fail</dkim>\n"
        "        <spf>fail</spf>\n"
        "        <reason>\n"
        "          <type>sampled_out</type>\n"
        "        </reason>\n"
        "      </policy_evaluated>\n"
        "    </row>\n"
        "    <identifiers>\n"
        "      <header_from>example.com</header_from>\n"
        "      <envelope_from>bounce.example.net</envelope_from>\n"
        "    </identifiers>\n"
        "    <auth_results>\n"
        "      <spf>\n"
        "        <domain>bounce.example.net</domain>\n"
        "        <scope>mfrom</scope>\n"
        "        <result>fail</result>\n"
        "      </spf>\n"
        "    </auth_results>\n"
        "  </record>\n"
        "</feedback>\n";
    const std::string got = aggregate_report_xml(records, "example.com", meta);
    BOOST_TEST(got == want);
    BOOST_TEST(well_formed(got));
}

BOOST_AUTO_TEST_SUITE_END()
