// SRS (policy/srs.hpp). The vectors were made by postsrsd 1.10 (Debian's, libsrs2's format)
// with the secret "topsecret" and the domain forwarder.example on day 20794 (2026-12-07,
// stamp "J2"); tests/integration/test_srs.py checks the same against a running postsrsd.
#include "policy/srs.hpp"

#include <rapidcheck/boost_test.h>

#include <boost/test/unit_test.hpp>
#include <string>

using pigeon::policy::Srs;
using pigeon::policy::SrsOptions;
using Outcome = pigeon::policy::SrsReverse::Outcome;

namespace {

constexpr std::int64_t day = 20794;

Srs make_srs(std::vector<std::string> secrets = {"topsecret"}) {
    SrsOptions o;
    o.domain = "forwarder.example";
    o.secrets = std::move(secrets);
    return Srs(o);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(srs)

BOOST_AUTO_TEST_CASE(the_day_is_utc_days_since_the_epoch) {
    BOOST_TEST(pigeon::policy::srs_day(0) == 0);
    BOOST_TEST(pigeon::policy::srs_day(86399) == 0);
    BOOST_TEST(pigeon::policy::srs_day(86400) == 1);
    BOOST_TEST(pigeon::policy::srs_day(-1) == -1);
    BOOST_TEST(pigeon::policy::srs_day(1796601600) == 20794);  // 2026-12-07T00:00:00Z
}

BOOST_AUTO_TEST_CASE(forward_makes_what_postsrsd_makes) {
    const Srs s = make_srs();
    const struct {
        const char *in, *out;
    } cases[] = {
        {"alice@origin.example", "SRS0=pwI5=J2=origin.example=alice@forwarder.example"},
        {"Alice@Origin.Example", "SRS0=pwI5=J2=Origin.Example=Alice@forwarder.example"},
        {"a=b@origin.example", "SRS0=MnkZ=J2=origin.example=a=b@forwarder.example"},
        {"bob+tag@x.example", "SRS0=I5fA=J2=x.example=bob+tag@forwarder.example"},
        // Someone's SRS0: we are the second hop, SRS1 keeps their part.
        {"SRS0=abcd=J2=origin.example=alice@first.example",
         "SRS1=6q+R=first.example==abcd=J2=origin.example=alice@forwarder.example"},
        // SRS1 already: the first forwarder and its SRS0 part stay, signed anew.
        {"SRS1=abcd=first.example==abcd=J2=origin.example=alice@second.example",
         "SRS1=6q+R=first.example==abcd=J2=origin.example=alice@forwarder.example"},
    };
    for (const auto& c : cases) {
        const auto f = s.forward(c.in, day);
        BOOST_TEST_CONTEXT(c.in) {
            BOOST_TEST(f.rewritten);
            BOOST_TEST(f.error.empty());
            BOOST_TEST(f.address == c.out);
        }
    }
}

BOOST_AUTO_TEST_CASE(forward_leaves_the_null_sender_and_our_own_domain) {
    const Srs s = make_srs();
    for (const char* a : {"", "alice@forwarder.example", "alice@FORWARDER.example"}) {
        const auto f = s.forward(a, day);
        BOOST_TEST(!f.rewritten);
        BOOST_TEST(f.error.empty());
        BOOST_TEST(f.address == a);
    }
}

BOOST_AUTO_TEST_CASE(forward_refuses_what_it_cannot_make) {
    const Srs s = make_srs();
    const auto no_domain = s.forward("bob", day);
    BOOST_TEST(!no_domain.rewritten);
    BOOST_TEST(no_domain.address == "bob");
    BOOST_TEST(!no_domain.error.empty());
    // 5 + 5 + 3 + 14 + 1 + 40 = 68 octets: over RFC 5321's 64.
    const std::string long_local(40, 'x');
    const auto too_long = s.forward(long_local + "@origin.example", day);
    BOOST_TEST(!too_long.rewritten);
    BOOST_TEST(too_long.address == long_local + "@origin.example");
    BOOST_TEST(too_long.error.find("64") != std::string::npos);
    for (const char* bad : {"SRS1=abcd@first.example",
                            // found by fuzz_srs: no separator before the SRS0 part, so the
                            // rewritten address would not reverse
                            "SRS1=6q+R=first.example=j2=origin.example=a=b@second.example"}) {
        const auto bad_srs1 = s.forward(bad, day);
        BOOST_TEST(!bad_srs1.rewritten);
        BOOST_TEST(bad_srs1.address == bad);
        BOOST_TEST(!bad_srs1.error.empty());
    }
    const auto no_secret = make_srs({}).forward("alice@origin.example", day);
    BOOST_TEST(!no_secret.rewritten);
    BOOST_TEST(!no_secret.error.empty());
}

BOOST_AUTO_TEST_CASE(reverse_decodes_what_postsrsd_decodes) {
    const Srs s = make_srs();
    const struct {
        const char *in, *out;
    } cases[] = {
        {"SRS0=pwI5=J2=origin.example=alice@forwarder.example", "alice@origin.example"},
        {"srs0=pwi5=j2=origin.example=alice@forwarder.example", "alice@origin.example"},  // case-folded
        {"SRS0+pwI5=J2=origin.example=alice@forwarder.example", "alice@origin.example"},  // '+' separator
        {"SRS0=MnkZ=J2=origin.example=a=b@forwarder.example", "a=b@origin.example"},
        {"SRS1=6q+R=first.example==abcd=J2=origin.example=alice@forwarder.example",
         "SRS0=abcd=J2=origin.example=alice@first.example"},
        {"SRS1=6q+r=first.example==abcd=J2=origin.example=alice@forwarder.example",
         "SRS0=abcd=J2=origin.example=alice@first.example"},
    };
    for (const auto& c : cases) {
        const auto r = s.reverse(c.in, day);
        BOOST_TEST_CONTEXT(c.in) {
            BOOST_TEST((r.outcome == Outcome::decoded));
            BOOST_TEST(r.address == c.out);
        }
    }
}

BOOST_AUTO_TEST_CASE(reverse_refuses_forgeries_old_stamps_and_nonsense) {
    const Srs s = make_srs();
    const struct {
        const char* in;
        Outcome outcome;
    } cases[] = {
        {"SRS0=pwI6=J2=origin.example=alice@forwarder.example", Outcome::bad_hash},
        {"SRS0=pwI5=J2=origin.example=mallory@forwarder.example", Outcome::bad_hash},
        {"SRS0=pwI=J2=origin.example=alice@forwarder.example", Outcome::bad_hash},  // too short
        {"SRS1=6q+S=first.example==abcd=J2=origin.example=alice@forwarder.example", Outcome::bad_hash},
        {"SRS0=pwI5=J3=origin.example=alice@forwarder.example", Outcome::bad_hash},  // stamp is signed
        {"SRS0=pwI5=J1=origin.example=alice@forwarder.example", Outcome::malformed},  // 1 is not base32
        {"SRS0=pwI5@forwarder.example", Outcome::malformed},
        {"SRS0=pwI5=J@forwarder.example", Outcome::malformed},
        {"SRS0=pwI5=J!=origin.example=alice@forwarder.example", Outcome::malformed},
        {"SRS0=pwI5=J2=origin.example@forwarder.example", Outcome::malformed},
        {"SRS0==J2=origin.example=alice@forwarder.example", Outcome::malformed},
        {"SRS1=6q+R=first.example@forwarder.example", Outcome::malformed},
        {"SRS1=6q+R=first.example=abcd@forwarder.example", Outcome::malformed},
        {"alice@forwarder.example", Outcome::not_srs},
        {"SRS2=pwI5=J2=origin.example=alice@forwarder.example", Outcome::not_srs},
        {"SRS0=pwI5=J2=origin.example=alice@elsewhere.example", Outcome::not_srs},
        {"", Outcome::not_srs},
        {"@", Outcome::not_srs},
    };
    for (const auto& c : cases) {
        const auto r = s.reverse(c.in, day);
        BOOST_TEST_CONTEXT(c.in) {
            BOOST_TEST((r.outcome == c.outcome));
            BOOST_TEST(r.address.empty());
            BOOST_TEST(!r.reason.empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(an_address_lives_max_age_days_and_a_day_ahead_is_forgiven) {
    const Srs s = make_srs();
    const std::string a = "SRS0=pwI5=J2=origin.example=alice@forwarder.example";
    BOOST_TEST((s.reverse(a, day + 21).outcome == Outcome::decoded));
    BOOST_TEST((s.reverse(a, day + 22).outcome == Outcome::expired));
    BOOST_TEST((s.reverse(a, day - 1).outcome == Outcome::decoded));  // our clock a day behind
    BOOST_TEST((s.reverse(a, day - 2).outcome == Outcome::expired));
    BOOST_TEST((s.reverse(a, day + 1024).outcome == Outcome::decoded));  // the stamp wraps
}

BOOST_AUTO_TEST_CASE(every_secret_verifies_and_the_first_signs) {
    const Srs rotated = make_srs({"newsecret", "topsecret"});
    BOOST_TEST((rotated.reverse("SRS0=pwI5=J2=origin.example=alice@forwarder.example", day).outcome ==
                Outcome::decoded));
    const auto f = rotated.forward("alice@origin.example", day);
    BOOST_TEST(f.address != "SRS0=pwI5=J2=origin.example=alice@forwarder.example");
    BOOST_TEST((make_srs({"newsecret"}).reverse(f.address, day).outcome == Outcome::decoded));
    BOOST_TEST((make_srs({"topsecret"}).reverse(f.address, day).outcome == Outcome::bad_hash));
}

BOOST_AUTO_TEST_CASE(looks_like_srs_needs_the_tag_and_a_separator) {
    BOOST_TEST(Srs::looks_like_srs("SRS0=x"));
    BOOST_TEST(Srs::looks_like_srs("srs1-x"));
    BOOST_TEST(Srs::looks_like_srs("Srs0+x"));
    BOOST_TEST(!Srs::looks_like_srs("SRS0"));
    BOOST_TEST(!Srs::looks_like_srs("SRS0_x"));
    BOOST_TEST(!Srs::looks_like_srs("SRS3=x"));
    BOOST_TEST(!Srs::looks_like_srs("alice"));
}

// Law: a rewritten sender reverses to itself for max_age_days, whatever its local part and
// domain, and a second hop's SRS1 reverses to the first hop's SRS0.
RC_BOOST_PROP(forward_then_reverse_is_the_identity, ()) {
    const auto atom = rc::gen::container<std::string>(
        rc::gen::element('a', 'b', 'Z', '0', '9', '.', '-', '+', '=', '_'));
    const std::string local = *rc::gen::suchThat(atom, [](const std::string& s) {
        return !s.empty() && s.size() <= 10 && !Srs::looks_like_srs(s);
    });
    const std::string domain =
        *rc::gen::suchThat(rc::gen::container<std::string>(rc::gen::element('a', 'q', 'z', '1', '.', '-')),
                           [](const std::string& s) { return !s.empty() && s.size() <= 10; });
    const std::int64_t today = *rc::gen::inRange<std::int64_t>(0, 100000);
    const std::int64_t later = today + *rc::gen::inRange<std::int64_t>(0, 22);
    const Srs s = make_srs();
    const std::string original = local + "@" + domain;
    const auto f = s.forward(original, today);
    RC_ASSERT(f.rewritten);
    const auto r = s.reverse(f.address, later);
    RC_ASSERT(r.outcome == Outcome::decoded);
    RC_ASSERT(r.address == original);

    SrsOptions second;
    second.domain = "second.example";
    second.secrets = {"another"};
    const Srs hop2(second);
    const auto f2 = hop2.forward(f.address, today);
    RC_ASSERT(f2.rewritten);
    const auto r2 = hop2.reverse(f2.address, later);
    RC_ASSERT(r2.outcome == Outcome::decoded);
    RC_ASSERT(r2.address == f.address);
}

BOOST_AUTO_TEST_SUITE_END()
