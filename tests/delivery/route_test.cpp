// Tests for delivery/route.hpp: MX routing (RFC 5321 5.1, RFC 7505) and the DANE decision
// (RFC 7672 2.2) over zone texts with `; pigeon:` security and failure directives, and a
// property over random MX sets (order, completeness, stability, no loop to ourselves).
#include "delivery/route.hpp"

#include <rapidcheck/boost_test.h>

#include <algorithm>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "dns/zone_resolver.hpp"

namespace pigeon::delivery {
// For BOOST_TEST messages.
std::ostream& operator<<(std::ostream& out, Hop::Tls tls) { return out << tls_name(tls); }
std::ostream& operator<<(std::ostream& out, Route::Kind kind) { return out << kind_name(kind); }
}  // namespace pigeon::delivery

using namespace pigeon;
using namespace pigeon::delivery;
using dns::RrType;
using dns::ZoneResolver;

namespace {

ZoneResolver must_parse(std::string_view text) {
    auto r = ZoneResolver::parse(text);
    if (!r) BOOST_FAIL("zone parse failed: " << r.error().message);
    return std::move(r).value();
}

Route route_in(ZoneResolver& zone, RouteRequest request) {
    std::optional<Route> out;
    find_route_async(zone, std::move(request), [&](Route r) {
        BOOST_REQUIRE(!out);  // exactly once
        out = std::move(r);
    });
    BOOST_REQUIRE(out);
    return *out;
}

Route route_for(std::string_view zone_text, RouteRequest request) {
    ZoneResolver zone = must_parse(zone_text);
    return route_in(zone, std::move(request));
}

RouteRequest mx_request(std::string domain) {
    RouteRequest r;
    r.domain = std::move(domain);
    r.our_names = {"me.example.net"};
    return r;
}

std::vector<std::string> hosts(const Route& r) {
    std::vector<std::string> out;
    for (const auto& h : r.hops) out.push_back(h.host);
    return out;
}

std::string enhanced(const Route& r) { return r.reply.enhanced ? r.reply.enhanced->to_string() : ""; }

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

bool asked(const ZoneResolver& zone, std::string_view name, RrType type) {
    const auto q = zone.queries();
    return std::find(q.begin(), q.end(), dns::make_question(name, type)) != q.end();
}

bool asked_type(const ZoneResolver& zone, RrType type) {
    for (const auto& q : zone.queries())
        if (q.type == type) return true;
    return false;
}

const char* basic_zone = R"(
example.com.        MX 20 mx2.example.com.
example.com.        MX 10 mx1.example.com.
example.com.        MX 30 mx3.example.com.
mx1.example.com.    A 192.0.2.1
mx1.example.com.    AAAA 2001:db8::1
mx2.example.com.    A 192.0.2.2
mx3.example.com.    AAAA 2001:db8::3
)";

// 32 octets in hex: a SHA-256 sized TLSA digest.
const char* digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

std::string dane_zone(std::string tlsa_lines, std::string directives = "") {
    return std::string(R"(
; pigeon: secure example.com
example.com.        MX 10 mx.example.com.
mx.example.com.     A 192.0.2.10
mx.example.com.     AAAA 2001:db8::10
)") + tlsa_lines + "\n" + directives + "\n";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(route)

// ---- MX basics (RFC 5321 5.1) -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(mx_hosts_sorted_by_preference_with_ipv6_first) {
    Route r = route_for(basic_zone, mx_request("Example.COM"));
    BOOST_TEST(kind_name(r.kind) == std::string("ok"));
    BOOST_TEST(hosts(r) == (std::vector<std::string>{"mx1.example.com", "mx2.example.com", "mx3.example.com"}),
               boost::test_tools::per_element());
    BOOST_TEST(r.hops[0].preference == 10);
    BOOST_TEST(r.hops[0].addresses == (std::vector<std::string>{"2001:db8::1", "192.0.2.1"}),
               boost::test_tools::per_element());
    BOOST_TEST(r.hops[1].addresses == (std::vector<std::string>{"192.0.2.2"}), boost::test_tools::per_element());
    BOOST_TEST(r.hops[2].addresses == (std::vector<std::string>{"2001:db8::3"}), boost::test_tools::per_element());
    for (const auto& h : r.hops) {
        BOOST_TEST(h.port == 25);
        BOOST_TEST(h.tls == Hop::Tls::opportunistic);
        BOOST_TEST(!h.tls_required);
        BOOST_TEST(!h.note.empty());
    }
    BOOST_TEST(joined(r.explanation).find("RFC 5321 5.1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(address_families_can_be_switched_off) {
    RouteRequest only4 = mx_request("example.com");
    only4.ipv6 = false;
    ZoneResolver zone = must_parse(basic_zone);
    Route r = route_in(zone, only4);
    BOOST_TEST(r.hops[0].addresses == (std::vector<std::string>{"192.0.2.1"}), boost::test_tools::per_element());
    BOOST_TEST(r.hops[2].addresses.empty());  // mx3 has only AAAA
    BOOST_TEST(!asked_type(zone, RrType::aaaa));

    RouteRequest only6 = mx_request("example.com");
    only6.ipv4 = false;
    r = route_for(basic_zone, only6);
    BOOST_TEST(r.hops[0].addresses == (std::vector<std::string>{"2001:db8::1"}), boost::test_tools::per_element());
    BOOST_TEST(r.hops[1].addresses.empty());
    BOOST_TEST(r.kind == Route::Kind::ok);
}

BOOST_AUTO_TEST_CASE(equal_preferences_are_shuffled_by_seed) {
    const char* zone = R"(
example.com. MX 10 a.example.com.
example.com. MX 10 b.example.com.
example.com. MX 10 c.example.com.
example.com. MX 10 d.example.com.
example.com. MX 5 first.example.com.
example.com. MX 50 last.example.com.
a.example.com. A 192.0.2.1
b.example.com. A 192.0.2.2
c.example.com. A 192.0.2.3
d.example.com. A 192.0.2.4
first.example.com. A 192.0.2.5
last.example.com. A 192.0.2.6
)";
    std::set<std::vector<std::string>> orders;
    for (std::uint64_t seed = 0; seed < 24; ++seed) {
        RouteRequest req = mx_request("example.com");
        req.shuffle_seed = seed;
        const auto once = hosts(route_for(zone, req));
        const auto again = hosts(route_for(zone, req));
        BOOST_TEST(once == again, boost::test_tools::per_element());  // same seed, same order
        BOOST_TEST(once.front() == "first.example.com");
        BOOST_TEST(once.back() == "last.example.com");
        orders.insert(once);
    }
    BOOST_TEST(orders.size() > 4u);  // the seed does change the order of equals
}

BOOST_AUTO_TEST_CASE(shuffle_is_fixed_across_compilers) {
    // splitmix64 is our own code: this order is the same everywhere (a regression anchor).
    const char* zone = R"(
example.com. MX 10 a.example.com.
example.com. MX 10 b.example.com.
example.com. MX 10 c.example.com.
a.example.com. A 192.0.2.1
b.example.com. A 192.0.2.2
c.example.com. A 192.0.2.3
)";
    RouteRequest req = mx_request("example.com");
    req.shuffle_seed = 42;
    const auto first = hosts(route_for(zone, req));
    BOOST_TEST(first.size() == 3u);
    BOOST_TEST(first == (std::vector<std::string>{"a.example.com", "c.example.com", "b.example.com"}),
               boost::test_tools::per_element());
    req.shuffle_seed = 0;
    BOOST_TEST(hosts(route_for(zone, req)) != first);
}

BOOST_AUTO_TEST_CASE(no_mx_means_implicit_mx) {
    ZoneResolver zone = must_parse("example.com. A 192.0.2.7\nexample.com. TXT \"x\"\n");
    Route r = route_in(zone, mx_request("example.com"));
    BOOST_REQUIRE(r.kind == Route::Kind::ok);
    BOOST_TEST(hosts(r) == (std::vector<std::string>{"example.com"}), boost::test_tools::per_element());
    BOOST_TEST(r.hops[0].preference == 0);
    BOOST_TEST(r.hops[0].addresses == (std::vector<std::string>{"192.0.2.7"}), boost::test_tools::per_element());
    BOOST_TEST(joined(r.explanation).find("implicit MX") != std::string::npos);
    BOOST_TEST(asked(zone, "example.com", RrType::mx));
}

BOOST_AUTO_TEST_CASE(no_mx_and_no_address_is_permanent) {
    Route r = route_for("example.com. TXT \"only text\"\n", mx_request("example.com"));
    BOOST_TEST(r.kind == Route::Kind::permanent);
    BOOST_TEST(r.reply.code == 554);
    BOOST_TEST(enhanced(r) == "5.4.4");
}

BOOST_AUTO_TEST_CASE(nxdomain_is_permanent_no_such_domain) {
    Route r = route_for(basic_zone, mx_request("nowhere.example.com"));
    BOOST_TEST(r.kind == Route::Kind::permanent);
    BOOST_TEST(r.reply.code == 550);
    BOOST_TEST(enhanced(r) == "5.1.2");
    BOOST_TEST(r.hops.empty());
}

BOOST_AUTO_TEST_CASE(mx_lookup_failures_are_transient) {
    for (const char* directive : {"; pigeon: servfail example.com MX", "; pigeon: timeout example.com",
                                  "; pigeon: refused example.com MX", "; pigeon: bogus example.com"}) {
        BOOST_TEST_CONTEXT(directive) {
            Route r = route_for(std::string(basic_zone) + directive + "\n", mx_request("example.com"));
            BOOST_TEST(r.kind == Route::Kind::transient);
            BOOST_TEST(r.reply.code == 451);
            BOOST_TEST(enhanced(r) == "4.4.3");
        }
    }
}

// ---- null MX (RFC 7505) -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(null_mx_is_permanent_556) {
    Route r = route_for("example.com. MX 0 .\nexample.com. A 192.0.2.1\n", mx_request("example.com"));
    BOOST_TEST(r.kind == Route::Kind::permanent);
    BOOST_TEST(r.reply.code == 556);
    BOOST_TEST(enhanced(r) == "5.1.10");
    BOOST_TEST(joined(r.explanation).find("RFC 7505") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(null_mx_beside_real_mx_is_ignored) {
    Route r = route_for("example.com. MX 0 .\nexample.com. MX 10 mx.example.com.\nmx.example.com. A 192.0.2.1\n",
                        mx_request("example.com"));
    BOOST_TEST(r.kind == Route::Kind::ok);
    BOOST_TEST(hosts(r) == (std::vector<std::string>{"mx.example.com"}), boost::test_tools::per_element());
    BOOST_TEST(joined(r.explanation).find("null MX beside") != std::string::npos);
}

// ---- MX naming us (RFC 5321 5.1) ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(our_mx_drops_itself_and_less_preferred) {
    const char* zone = R"(
example.com. MX 10 mx1.example.com.
example.com. MX 20 ME.example.net.
example.com. MX 20 peer.example.com.
example.com. MX 30 mx3.example.com.
mx1.example.com. A 192.0.2.1
me.example.net. A 192.0.2.99
peer.example.com. A 192.0.2.20
mx3.example.com. A 192.0.2.3
)";
    RouteRequest req = mx_request("example.com");
    req.our_names = {"Me.Example.Net."};
    Route r = route_for(zone, req);
    BOOST_TEST(r.kind == Route::Kind::ok);
    BOOST_TEST(hosts(r) == (std::vector<std::string>{"mx1.example.com"}), boost::test_tools::per_element());
    BOOST_TEST(joined(r.explanation).find("RFC 5321 5.1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(we_are_the_best_mx_is_a_loop) {
    const char* zone = R"(
example.com. MX 10 me.example.net.
example.com. MX 20 backup.example.com.
backup.example.com. A 192.0.2.2
)";
    Route r = route_for(zone, mx_request("example.com"));
    BOOST_TEST(r.kind == Route::Kind::permanent);
    BOOST_TEST(r.reply.code == 554);
    BOOST_TEST(enhanced(r) == "5.4.6");
    BOOST_TEST(r.reply.lines.at(0).find("loops back to myself") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(implicit_mx_naming_us_is_a_loop) {
    Route r = route_for("me.example.net. A 192.0.2.99\n", mx_request("me.example.net"));
    BOOST_TEST(r.kind == Route::Kind::permanent);
    BOOST_TEST(enhanced(r) == "5.4.6");
}

// ---- odd exchanges --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(cname_exchange_uses_target_addresses) {
    const char* zone = R"(
example.com. MX 10 alias.example.com.
alias.example.com. CNAME real.example.org.
real.example.org. A 192.0.2.44
)";
    Route r = route_for(zone, mx_request("example.com"));
    BOOST_REQUIRE(r.kind == Route::Kind::ok);
    BOOST_TEST(r.hops[0].host == "alias.example.com");
    BOOST_TEST(r.hops[0].addresses == (std::vector<std::string>{"192.0.2.44"}), boost::test_tools::per_element());
    BOOST_TEST(r.hops[0].note.find("CNAME to real.example.org") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(ip_address_exchange_is_skipped) {
    const char* zone = R"(
example.com. MX 5 192.0.2.1.
example.com. MX 10 mx.example.com.
mx.example.com. A 192.0.2.2
)";
    Route r = route_for(zone, mx_request("example.com"));
    BOOST_TEST(r.kind == Route::Kind::ok);
    BOOST_TEST(hosts(r) == (std::vector<std::string>{"mx.example.com"}), boost::test_tools::per_element());
    BOOST_TEST(joined(r.explanation).find("is an IP address") != std::string::npos);

    Route only_ip = route_for("example.com. MX 5 192.0.2.1.\n", mx_request("example.com"));
    BOOST_TEST(only_ip.kind == Route::Kind::permanent);
    BOOST_TEST(enhanced(only_ip) == "5.4.4");
}

BOOST_AUTO_TEST_CASE(duplicate_exchange_counts_once_at_best_preference) {
    const char* zone = R"(
example.com. MX 30 mx.example.com.
example.com. MX 20 other.example.com.
example.com. MX 10 mx.example.com.
mx.example.com. A 192.0.2.1
other.example.com. A 192.0.2.2
)";
    // Two MX records with different preferences but the same exchange are distinct records.
    Route r = route_for(zone, mx_request("example.com"));
    BOOST_TEST(hosts(r) == (std::vector<std::string>{"mx.example.com", "other.example.com"}),
               boost::test_tools::per_element());
    BOOST_TEST(r.hops[0].preference == 10);
}

BOOST_AUTO_TEST_CASE(host_with_failed_lookup_is_kept_but_unusable) {
    std::string zone = std::string(basic_zone) + "; pigeon: servfail mx1.example.com\n";
    Route r = route_for(zone, mx_request("example.com"));
    BOOST_TEST(r.kind == Route::Kind::ok);
    BOOST_REQUIRE(r.hops.size() == 3u);
    BOOST_TEST(r.hops[0].host == "mx1.example.com");
    BOOST_TEST(r.hops[0].addresses.empty());
    BOOST_TEST(r.hops[0].note.find("lookup failed") != std::string::npos);
    BOOST_TEST(!r.hops[1].addresses.empty());
}

BOOST_AUTO_TEST_CASE(aaaa_failure_keeps_a_addresses) {
    std::string zone = std::string(basic_zone) + "; pigeon: timeout mx1.example.com AAAA\n";
    Route r = route_for(zone, mx_request("example.com"));
    BOOST_TEST(r.hops[0].addresses == (std::vector<std::string>{"192.0.2.1"}), boost::test_tools::per_element());
    BOOST_TEST(r.hops[0].note.find("lookup failed: AAAA TIMEOUT") != std::string::npos, r.hops[0].note);
    BOOST_TEST_MESSAGE(joined(r.explanation));
}

BOOST_AUTO_TEST_CASE(every_host_failing_is_transient) {
    std::string zone = std::string(basic_zone) +
                       "; pigeon: servfail mx1.example.com\n; pigeon: timeout mx2.example.com\n"
                       "; pigeon: servfail mx3.example.com\n";
    Route r = route_for(zone, mx_request("example.com"));
    BOOST_TEST(r.kind == Route::Kind::transient);
    BOOST_TEST(r.reply.code == 451);
    BOOST_TEST(r.hops.size() == 3u);  // still listed, for the explanation
}

BOOST_AUTO_TEST_CASE(hosts_that_do_not_exist_are_permanent) {
    Route r = route_for("example.com. MX 10 gone.example.com.\nexample.com. MX 20 gone2.example.com.\n",
                        mx_request("example.com"));
    BOOST_TEST(r.kind == Route::Kind::permanent);
    BOOST_TEST(r.reply.code == 554);
    BOOST_TEST(enhanced(r) == "5.4.4");
    BOOST_TEST(r.hops.at(0).note.find("NXDOMAIN") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(at_most_ten_mx_hosts) {
    ZoneResolver zone;
    for (int i = 0; i < 14; ++i) {
        const std::string host = "mx" + std::to_string(i) + ".example.com";
        zone.add({"example.com", RrType::mx, 300, dns::Mx{static_cast<std::uint16_t>(i), host}});
        zone.add({host, RrType::a, 300, dns::Ipv4{{192, 0, 2, static_cast<std::uint8_t>(i + 1)}}});
    }
    Route r = route_in(zone, mx_request("example.com"));
    BOOST_TEST(r.hops.size() == max_mx_hosts);
    BOOST_TEST(r.hops.back().host == "mx9.example.com");
    BOOST_TEST(joined(r.explanation).find("4 MX host(s) beyond the first 10 dropped") != std::string::npos);
    BOOST_TEST(zone.queries().size() <= max_route_questions);
}

// ---- literals and relay hosts --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(address_literals_need_no_dns) {
    ZoneResolver zone;
    Route v4 = route_in(zone, mx_request("[192.0.2.5]"));
    BOOST_REQUIRE(v4.kind == Route::Kind::ok);
    BOOST_TEST(v4.hops.size() == 1u);
    BOOST_TEST(v4.hops[0].host == "[192.0.2.5]");
    BOOST_TEST(v4.hops[0].addresses == (std::vector<std::string>{"192.0.2.5"}), boost::test_tools::per_element());
    Route v6 = route_in(zone, mx_request("[IPv6:2001:DB8:0:0::5]"));
    BOOST_REQUIRE(v6.kind == Route::Kind::ok);
    BOOST_TEST(v6.hops[0].addresses == (std::vector<std::string>{"2001:db8::5"}), boost::test_tools::per_element());
    BOOST_TEST(zone.queries().empty());

    for (const char* bad : {"[192.0.2.300]", "[2001:db8::1]", "[IPv6:192.0.2.1]", "[]", "[", "[IPv6:]"}) {
        BOOST_TEST_CONTEXT(bad) {
            Route r = route_in(zone, mx_request(bad));
            BOOST_TEST(r.kind == Route::Kind::permanent);
            BOOST_TEST(r.reply.code == 550);
        }
    }
    RouteRequest no6 = mx_request("[IPv6:2001:db8::5]");
    no6.ipv6 = false;
    BOOST_TEST(route_in(zone, no6).kind == Route::Kind::permanent);
    BOOST_TEST(zone.queries().empty());
}

BOOST_AUTO_TEST_CASE(relay_host_uses_addresses_only) {
    ZoneResolver zone = must_parse(std::string(basic_zone) + "relay.example.com. A 192.0.2.77\n"
                                                             "relay.example.com. MX 10 mx1.example.com.\n");
    RouteRequest req;
    req.mode = RouteRequest::Mode::host;
    req.domain = "Relay.Example.com.";
    req.port = 587;
    Route r = route_in(zone, req);
    BOOST_REQUIRE(r.kind == Route::Kind::ok);
    BOOST_TEST(hosts(r) == (std::vector<std::string>{"relay.example.com"}), boost::test_tools::per_element());
    BOOST_TEST(r.hops[0].addresses == (std::vector<std::string>{"192.0.2.77"}), boost::test_tools::per_element());
    BOOST_TEST(r.hops[0].port == 587);
    BOOST_TEST(!asked_type(zone, RrType::mx));
    BOOST_TEST(!asked_type(zone, RrType::tlsa));  // not secure

    zone.clear_queries();
    req.domain = "192.0.2.8";
    r = route_in(zone, req);
    BOOST_TEST(r.hops.at(0).addresses == (std::vector<std::string>{"192.0.2.8"}), boost::test_tools::per_element());
    req.domain = "[192.0.2.9]";
    r = route_in(zone, req);
    BOOST_TEST(r.hops.at(0).addresses == (std::vector<std::string>{"192.0.2.9"}), boost::test_tools::per_element());
    BOOST_TEST(zone.queries().empty());

    req.domain = "missing.example.com";
    r = route_in(zone, req);
    BOOST_TEST(r.kind == Route::Kind::transient);  // a configuration error the operator can fix
    BOOST_TEST(enhanced(r) == "4.4.4");
}

// ---- DANE (RFC 7672 2.2) ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(secure_usable_tlsa_means_dane) {
    ZoneResolver zone = must_parse(dane_zone(std::string("_25._tcp.mx.example.com. TLSA 3 1 1 ") + digest +
                                             "\n_25._tcp.mx.example.com. TLSA 1 1 1 " + digest + "\n"));
    Route r = route_in(zone, mx_request("example.com"));
    BOOST_REQUIRE(r.kind == Route::Kind::ok);
    const Hop& h = r.hops.at(0);
    BOOST_TEST(tls_name(h.tls) == std::string("dane"));
    BOOST_TEST(h.tls_required);
    BOOST_TEST(h.dnssec_secure);
    BOOST_REQUIRE(h.tlsa.size() == 1u);  // the PKIX-EE(1) record is not usable (RFC 7672 3.1.3)
    BOOST_TEST(h.tlsa[0].usage == 3);
    BOOST_TEST(h.tlsa_name == "_25._tcp.mx.example.com");
    BOOST_TEST(h.dane_names == (std::vector<std::string>{"mx.example.com", "example.com"}),
               boost::test_tools::per_element());
    BOOST_TEST(asked(zone, "_25._tcp.mx.example.com", RrType::tlsa));
    BOOST_TEST_MESSAGE(joined(r.explanation));
}

BOOST_AUTO_TEST_CASE(secure_tlsa_with_no_usable_record_requires_unauthenticated_tls) {
    Route r = route_for(dane_zone(std::string("_25._tcp.mx.example.com. TLSA 1 1 1 ") + digest +
                                  "\n_25._tcp.mx.example.com. TLSA 3 1 1 0123\n"  // wrong digest length
                                  "_25._tcp.mx.example.com. TLSA 3 2 1 " + digest + "\n"),  // unknown selector
                        mx_request("example.com"));
    const Hop& h = r.hops.at(0);
    BOOST_TEST(h.tls == Hop::Tls::opportunistic);
    BOOST_TEST(h.tls_required);
    BOOST_TEST(h.tlsa.empty());
    BOOST_TEST(h.note.find("none usable") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(no_tlsa_is_opportunistic) {
    ZoneResolver zone = must_parse(dane_zone(""));
    Route r = route_in(zone, mx_request("example.com"));
    BOOST_TEST(r.hops.at(0).tls == Hop::Tls::opportunistic);
    BOOST_TEST(!r.hops.at(0).tls_required);
    BOOST_TEST(asked(zone, "_25._tcp.mx.example.com", RrType::tlsa));  // it was looked up
}

BOOST_AUTO_TEST_CASE(failed_tlsa_lookup_makes_the_host_unreachable) {
    for (const char* directive : {"; pigeon: servfail _25._tcp.mx.example.com", "; pigeon: timeout _25._tcp.mx.example.com TLSA",
                                  "; pigeon: bogus _25._tcp.mx.example.com"}) {
        BOOST_TEST_CONTEXT(directive) {
            Route r = route_for(dane_zone(std::string("_25._tcp.mx.example.com. TLSA 3 1 1 ") + digest, directive),
                                mx_request("example.com"));
            BOOST_TEST(r.hops.at(0).tls == Hop::Tls::unreachable);
            BOOST_TEST(!r.hops.at(0).addresses.empty());
            // The only host may not be used: try again later.
            BOOST_TEST(r.kind == Route::Kind::transient);
            BOOST_TEST(r.reply.code == 451);
        }
    }
}

BOOST_AUTO_TEST_CASE(unreachable_host_leaves_the_others) {
    const char* zone = R"(
; pigeon: secure example.com
; pigeon: servfail _25._tcp.mx1.example.com
example.com. MX 10 mx1.example.com.
example.com. MX 20 mx2.example.com.
mx1.example.com. A 192.0.2.1
mx2.example.com. A 192.0.2.2
)";
    Route r = route_for(zone, mx_request("example.com"));
    BOOST_TEST(r.kind == Route::Kind::ok);
    BOOST_TEST(r.hops.at(0).tls == Hop::Tls::unreachable);
    BOOST_TEST(r.hops.at(1).tls == Hop::Tls::opportunistic);
}

BOOST_AUTO_TEST_CASE(insecure_mx_means_no_tlsa_lookup) {
    const char* zone = R"(
; pigeon: secure mx.example.net
example.com. MX 10 mx.example.net.
mx.example.net. A 192.0.2.1
_25._tcp.mx.example.net. TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
)";
    ZoneResolver z = must_parse(zone);
    Route r = route_in(z, mx_request("example.com"));
    BOOST_TEST(r.hops.at(0).tls == Hop::Tls::opportunistic);
    BOOST_TEST(!r.hops.at(0).dnssec_secure);
    BOOST_TEST(!asked_type(z, RrType::tlsa));
}

BOOST_AUTO_TEST_CASE(insecure_address_means_no_tlsa_lookup) {
    const char* zone = R"(
; pigeon: secure example.com
; pigeon: insecure mx.example.com
example.com. MX 10 mx.example.com.
mx.example.com. A 192.0.2.1
_25._tcp.mx.example.com. TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
)";
    ZoneResolver z = must_parse(zone);
    Route r = route_in(z, mx_request("example.com"));
    BOOST_TEST(r.hops.at(0).tls == Hop::Tls::opportunistic);
    BOOST_TEST(!asked_type(z, RrType::tlsa));
}

BOOST_AUTO_TEST_CASE(insecure_tlsa_is_ignored) {
    Route r = route_for(dane_zone(std::string("_25._tcp.mx.example.com. TLSA 3 1 1 ") + digest,
                                  "; pigeon: insecure _tcp.mx.example.com"),
                        mx_request("example.com"));
    BOOST_TEST(r.hops.at(0).tls == Hop::Tls::opportunistic);
    BOOST_TEST(!r.hops.at(0).tls_required);
}

BOOST_AUTO_TEST_CASE(dane_off_asks_no_tlsa) {
    ZoneResolver z = must_parse(dane_zone(std::string("_25._tcp.mx.example.com. TLSA 3 1 1 ") + digest));
    RouteRequest req = mx_request("example.com");
    req.dane = false;
    Route r = route_in(z, req);
    BOOST_TEST(r.hops.at(0).tls == Hop::Tls::opportunistic);
    BOOST_TEST(!asked_type(z, RrType::tlsa));
}

BOOST_AUTO_TEST_CASE(secure_implicit_mx_gets_dane) {
    const std::string zone = std::string("; pigeon: secure example.com\nexample.com. A 192.0.2.1\n"
                                         "_25._tcp.example.com. TLSA 2 0 1 ") + digest + "\n";
    Route r = route_for(zone, mx_request("example.com"));
    BOOST_TEST(r.hops.at(0).host == "example.com");
    BOOST_TEST(r.hops.at(0).tls == Hop::Tls::dane);
    BOOST_TEST(r.hops.at(0).dane_names == (std::vector<std::string>{"example.com"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(cname_host_tries_expanded_name_first) {
    const std::string base = R"(
; pigeon: secure example.com
; pigeon: secure example.org
example.com. MX 10 mx.example.com.
mx.example.com. CNAME real.example.org.
real.example.org. A 192.0.2.1
)";
    // TLSA at the expanded name wins.
    {
        ZoneResolver z = must_parse(base + "_25._tcp.real.example.org. TLSA 3 1 1 " + digest + "\n" +
                                    "_25._tcp.mx.example.com. TLSA 3 0 1 " + digest + "\n");
        Route r = route_in(z, mx_request("example.com"));
        const Hop& h = r.hops.at(0);
        BOOST_TEST(h.tls == Hop::Tls::dane);
        BOOST_TEST(h.tlsa.at(0).selector == 1);
        BOOST_TEST(h.tlsa_name == "_25._tcp.real.example.org");
        BOOST_TEST(h.dane_names == (std::vector<std::string>{"real.example.org", "mx.example.com", "example.com"}),
                   boost::test_tools::per_element());
        BOOST_TEST(!asked(z, "_25._tcp.mx.example.com", RrType::tlsa));
        BOOST_TEST_MESSAGE(joined(r.explanation));
    }
    // None there (securely): the original name.
    {
        ZoneResolver z = must_parse(base + "_25._tcp.mx.example.com. TLSA 3 0 1 " + digest + "\n");
        Route r = route_in(z, mx_request("example.com"));
        const Hop& h = r.hops.at(0);
        BOOST_TEST(h.tls == Hop::Tls::dane);
        BOOST_TEST(h.tlsa.at(0).selector == 0);
        BOOST_TEST(h.tlsa_name == "_25._tcp.mx.example.com");
        BOOST_TEST(h.dane_names.at(0) == "mx.example.com");
    }
    // An insecure target of the CNAME: no DANE at all.
    {
        ZoneResolver z = must_parse(base + "; pigeon: insecure real.example.org\n");
        Route r = route_in(z, mx_request("example.com"));
        BOOST_TEST(r.hops.at(0).tls == Hop::Tls::opportunistic);
        BOOST_TEST(!asked_type(z, RrType::tlsa));
    }
}

BOOST_AUTO_TEST_CASE(relay_host_dane_uses_its_port) {
    ZoneResolver z = must_parse(std::string("; pigeon: secure example.com\nrelay.example.com. A 192.0.2.1\n"
                                            "_587._tcp.relay.example.com. TLSA 3 1 2 ") + digest + digest + "\n");
    RouteRequest req;
    req.mode = RouteRequest::Mode::host;
    req.domain = "relay.example.com";
    req.port = 587;
    Route r = route_in(z, req);
    BOOST_TEST(r.hops.at(0).tls == Hop::Tls::dane);
    BOOST_TEST(r.hops.at(0).tlsa.at(0).matching == 2);
    BOOST_TEST(r.hops.at(0).dane_names == (std::vector<std::string>{"relay.example.com"}),
               boost::test_tools::per_element());
}

// ---- the evaluation itself ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(run_is_pure_and_restartable) {
    RouteEvaluation eval(mx_request("example.com"));
    dns::AnswerCache cache;
    auto step = eval.run(cache);
    BOOST_REQUIRE(std::holds_alternative<dns::Question>(step));
    BOOST_TEST(std::get<dns::Question>(step).name == "example.com");
    BOOST_TEST(dns::type_name(std::get<dns::Question>(step).type) == std::string("MX"));
    auto again = eval.run(cache);
    BOOST_TEST((std::get<dns::Question>(again) == std::get<dns::Question>(step)));

    // Answer by hand from a zone, step by step.
    ZoneResolver zone = must_parse(basic_zone);
    std::size_t rounds = 0;
    while (auto* q = std::get_if<dns::Question>(&step)) {
        cache.put(*q, zone.lookup(*q));
        step = eval.run(cache);
        BOOST_REQUIRE(++rounds < 50u);
    }
    const Route& r = std::get<Route>(step);
    BOOST_TEST(hosts(r) == hosts(route_for(basic_zone, mx_request("example.com"))), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(usable_records) {
    const std::string d32(32, 'x'), d64(64, 'x');
    BOOST_TEST(usable_for_smtp({3, 1, 1, d32}));
    BOOST_TEST(usable_for_smtp({2, 0, 2, d64}));
    BOOST_TEST(usable_for_smtp({3, 0, 0, "cert"}));
    BOOST_TEST(!usable_for_smtp({0, 1, 1, d32}));
    BOOST_TEST(!usable_for_smtp({1, 1, 1, d32}));
    BOOST_TEST(!usable_for_smtp({4, 1, 1, d32}));
    BOOST_TEST(!usable_for_smtp({3, 2, 1, d32}));
    BOOST_TEST(!usable_for_smtp({3, 1, 3, d32}));
    BOOST_TEST(!usable_for_smtp({3, 1, 1, d64}));
    BOOST_TEST(!usable_for_smtp({3, 1, 2, d32}));
    BOOST_TEST(!usable_for_smtp({3, 1, 0, ""}));
}

// ---- property: random MX sets ---------------------------------------------------------------

RC_BOOST_PROP(hop_order_is_sorted_complete_stable_and_never_us,
              (const std::vector<std::pair<std::uint8_t, std::uint8_t>>& raw, std::uint64_t seed, bool include_us)) {
    // Up to 8 distinct hosts h0..h7 (h7 is us when include_us), preferences 0..5.
    ZoneResolver zone;
    const std::string us = "h7.example.com";
    std::map<std::string, std::uint16_t> best;  // host -> lowest preference
    std::size_t count = 0;
    for (const auto& [p, h] : raw) {
        if (++count > 12) break;
        const std::uint16_t pref = p % 6;
        const std::string host = "h" + std::to_string(h % (include_us ? 8 : 7)) + ".example.com";
        zone.add({"example.com", RrType::mx, 300, dns::Mx{pref, host}});
        auto it = best.find(host);
        if (it == best.end() || pref < it->second) best[host] = pref;
    }
    for (int i = 0; i < 8; ++i)
        zone.add({"h" + std::to_string(i) + ".example.com", RrType::a, 300,
                  dns::Ipv4{{192, 0, 2, static_cast<std::uint8_t>(i + 1)}}});
    zone.add({"example.com", RrType::a, 300, dns::Ipv4{{192, 0, 2, 100}}});

    RouteRequest req;
    req.domain = "example.com";
    req.our_names = {us};
    req.shuffle_seed = seed;

    // The model: every host once at its best preference, all those at or past ours dropped.
    std::map<std::string, std::uint16_t> expected = best;
    if (auto it = best.find(us); it != best.end()) {
        const std::uint16_t cut = it->second;
        for (auto e = expected.begin(); e != expected.end();) e = e->second >= cut ? expected.erase(e) : std::next(e);
    }

    Route r = route_in(zone, req);
    if (best.empty()) {  // no MX: implicit MX
        RC_ASSERT(r.kind == Route::Kind::ok);
        RC_ASSERT(hosts(r) == std::vector<std::string>{"example.com"});
        return;
    }
    if (expected.empty()) {
        RC_ASSERT(r.kind == Route::Kind::permanent);
        RC_ASSERT(enhanced(r) == std::string("5.4.6"));
        return;
    }
    RC_ASSERT(r.kind == Route::Kind::ok);
    std::map<std::string, std::uint16_t> seen;
    for (std::size_t i = 0; i < r.hops.size(); ++i) {
        RC_ASSERT(r.hops[i].host != us);
        if (i > 0) RC_ASSERT(r.hops[i - 1].preference <= r.hops[i].preference);
        RC_ASSERT(seen.emplace(r.hops[i].host, r.hops[i].preference).second);  // exactly once
        RC_ASSERT(!r.hops[i].addresses.empty());
    }
    RC_ASSERT(seen == expected);
    RC_ASSERT(hosts(route_in(zone, req)) == hosts(r));  // same seed, same order
}

BOOST_AUTO_TEST_SUITE_END()
