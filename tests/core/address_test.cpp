// Tests for core/address.hpp: Mailbox and the reverse-/forward-path of RFC 5321 4.1.2.
#include "core/address.hpp"

#include <rapidcheck/boost_test.h>

#include <cctype>
#include <string>
#include <vector>

#include "core/limits.hpp"

using pigeon::core::AddressSyntax;
using pigeon::core::Domain;
using pigeon::core::Mailbox;
using pigeon::core::parse_forward_path;
using pigeon::core::parse_reverse_path;
using pigeon::core::Path;

namespace {

const AddressSyntax utf8{true};

bool mailbox_ok(std::string_view text, AddressSyntax s = {}) { return Mailbox::parse(text, s).ok(); }

// ---- generators of valid paths -------------------------------------------------------------

const std::string atext_chars =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~";
const std::vector<std::string> utf8_chars = {"\xC3\xA9", "\xE6\x97\xA5", "\xF0\x9F\x93\xA7", "\xD0\xB6"};

rc::Gen<std::string> gen_atom(bool utf8) {
    return rc::gen::exec([utf8] {
        const auto n = *rc::gen::inRange(1, 8);
        std::string s;
        for (int i = 0; i < n; ++i) {
            if (utf8 && *rc::gen::inRange(0, 4) == 0) s += *rc::gen::elementOf(utf8_chars);
            else s += *rc::gen::elementOf(atext_chars);
        }
        return s;
    });
}

// Quoted-string of qtextSMTP and quoted-pairSMTP (with UTF-8 qtext when utf8).
rc::Gen<std::string> gen_quoted(bool utf8) {
    return rc::gen::exec([utf8] {
        const auto n = *rc::gen::inRange(0, 12);
        std::string s = "\"";
        for (int i = 0; i < n; ++i) {
            const int kind = *rc::gen::inRange(0, utf8 ? 3 : 2);
            if (kind == 0) {
                char c = static_cast<char>(*rc::gen::inRange(32, 127));
                if (c == '"' || c == '\\') c = '@';
                s += c;
            } else if (kind == 1) {
                s += '\\';
                s += static_cast<char>(*rc::gen::inRange(32, 127));
            } else {
                s += *rc::gen::elementOf(utf8_chars);
            }
        }
        return s + "\"";
    });
}

rc::Gen<std::string> gen_local_part(bool utf8) {
    return rc::gen::suchThat(
        rc::gen::oneOf(rc::gen::map(rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(
                                        gen_atom(utf8))),
                                    [](const std::vector<std::string>& atoms) {
                                        std::string s;
                                        for (const auto& a : atoms) s += (s.empty() ? "" : ".") + a;
                                        return s;
                                    }),
                       gen_quoted(utf8)),
        [](const std::string& s) { return s.size() <= pigeon::core::local_part_max_octets; });
}

rc::Gen<std::string> gen_domain(bool utf8) {
    return rc::gen::exec([utf8] {
        switch (*rc::gen::inRange(0, 4)) {
            case 0: return std::string("[192.0.2.") + std::to_string(*rc::gen::inRange(0, 256)) + "]";
            case 1: return std::string("[IPv6:2001:db8::") + std::to_string(*rc::gen::inRange(0, 9999)) + "]";
            default: break;
        }
        const auto n = *rc::gen::inRange(1, 5);
        std::string d;
        for (int i = 0; i < n; ++i) {
            std::string label = *gen_atom(false);
            for (char& c : label) {
                if (!std::isalnum(static_cast<unsigned char>(c))) c = 'x';
            }
            if (utf8 && *rc::gen::arbitrary<bool>()) label += *rc::gen::elementOf(utf8_chars);
            d += (d.empty() ? "" : ".") + label;
        }
        return d;
    });
}

rc::Gen<std::string> gen_mailbox_text(bool utf8) {
    return rc::gen::map(rc::gen::pair(gen_local_part(utf8), gen_domain(utf8)),
                        [](const std::pair<std::string, std::string>& p) { return p.first + "@" + p.second; });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(address)

// ---- Mailbox -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(mailbox_splits_local_part_and_domain) {
    auto m = Mailbox::parse("userc@d.bar.org");
    BOOST_TEST_REQUIRE(m.ok());
    BOOST_TEST(m->local_part() == "userc");
    BOOST_TEST(m->domain().text() == "d.bar.org");
    BOOST_TEST(m->to_string() == "userc@d.bar.org");
    BOOST_TEST(m->is_ascii());
}

BOOST_AUTO_TEST_CASE(dot_string_local_parts_are_accepted) {
    for (const char* good : {"a@example.com", "first.last@example.com", "x+tag@example.com",
                             "!#$%&'*+-/=?^_`{|}~@example.com", "Smith@[192.0.2.1]",
                             "user@[IPv6:2001:db8::1]", "1@2.3"}) {
        BOOST_TEST_INFO(good);
        BOOST_TEST(mailbox_ok(good));
    }
}

BOOST_AUTO_TEST_CASE(bad_dot_strings_are_rejected) {
    for (const char* bad : {"@example.com", ".a@example.com", "a.@example.com", "a..b@example.com",
                            "a b@example.com", "a(b)@example.com", "a,b@example.com", "a@b@example.com",
                            "a\"b@example.com", "a[b]@example.com", "a:b@example.com", "a;b@example.com",
                            "a\\b@example.com", "user", "user@", "user@.com", "user@example.com.",
                            "user@exa_mple.com", "user@[300.1.1.1]", "user@[IPv6:1:::2]"}) {
        BOOST_TEST_INFO(bad);
        BOOST_TEST(!mailbox_ok(bad));
    }
}

BOOST_AUTO_TEST_CASE(quoted_string_local_parts_are_accepted_as_written) {
    auto m = Mailbox::parse("\"John Doe\"@example.com");
    BOOST_TEST_REQUIRE(m.ok());
    BOOST_TEST(m->local_part() == "\"John Doe\"");
    BOOST_TEST(m->to_string() == "\"John Doe\"@example.com");
    for (const char* good : {"\"\"@example.com", "\"a@b\"@example.com", "\"a\\\"b\"@example.com",
                             "\"a\\\\b\"@example.com", "\"Joe.\\\\Blow\"@example.com", "\"a..b\"@example.com",
                             "\"<>\"@example.com", "\"a\\ b\"@example.com"}) {
        BOOST_TEST_INFO(good);
        BOOST_TEST(mailbox_ok(good));
    }
}

BOOST_AUTO_TEST_CASE(bad_quoted_strings_are_rejected) {
    for (const std::string& bad : {std::string("\"unterminated@example.com"), std::string("\"a\"b@example.com"),
                                  std::string("\"a\"\"b\"@example.com"), std::string("\"a\\\"@example.com"),
                                  std::string("\"tab\there\"@example.com"), std::string("\"a\\\tb\"@example.com"),
                                  std::string("\"del\x7F\"@example.com"), std::string("\"a\"@"),
                                  std::string("\"a\""), std::string("\"nul\0\"@x", 9)}) {
        BOOST_TEST_INFO(bad);
        BOOST_TEST(!mailbox_ok(bad));
    }
}

BOOST_AUTO_TEST_CASE(local_part_of_64_octets_is_accepted_and_65_rejected) {
    BOOST_TEST(mailbox_ok(std::string(64, 'a') + "@example.com"));
    BOOST_TEST(!mailbox_ok(std::string(65, 'a') + "@example.com"));
    BOOST_TEST(mailbox_ok("\"" + std::string(62, 'a') + "\"@example.com"));  // quotes count
    BOOST_TEST(!mailbox_ok("\"" + std::string(63, 'a') + "\"@example.com"));
}

BOOST_AUTO_TEST_CASE(utf8_mailboxes_need_allow_utf8) {
    const std::string u = "j\xC3\xB6rg@b\xC3\xBC" "cher.example";  // jörg@bücher.example
    BOOST_TEST(!mailbox_ok(u));
    auto m = Mailbox::parse(u, utf8);
    BOOST_TEST_REQUIRE(m.ok());
    BOOST_TEST(!m->is_ascii());
    BOOST_TEST(mailbox_ok("\"J\xC3\xB6rg D\"@example.com", utf8));
    BOOST_TEST(!mailbox_ok("\"J\xC3\xB6rg D\"@example.com"));
    BOOST_TEST(!mailbox_ok("j\xC3@example.com", utf8));             // truncated sequence
    BOOST_TEST(!mailbox_ok("\"\\\xC3\xB6\"@example.com", utf8));    // quoted-pair is ASCII only
}

BOOST_AUTO_TEST_CASE(mailbox_equality_is_case_sensitive_in_local_part_only) {
    BOOST_TEST((*Mailbox::parse("User@Example.COM") == *Mailbox::parse("User@example.com")));
    BOOST_TEST(!(*Mailbox::parse("User@example.com") == *Mailbox::parse("user@example.com")));
}

BOOST_AUTO_TEST_CASE(mailbox_constructor_keeps_its_parts) {
    Mailbox m("joe", *Domain::parse("example.com"));
    BOOST_TEST(m.to_string() == "joe@example.com");
    BOOST_TEST((m == *Mailbox::parse("joe@example.com")));
}

// ---- Path, reverse-path, forward-path ------------------------------------------------------

BOOST_AUTO_TEST_CASE(reverse_path_accepts_null_and_mailbox) {
    auto null = parse_reverse_path("<>");
    BOOST_TEST_REQUIRE(null.ok());
    BOOST_TEST(null->is_null());
    BOOST_TEST(null->to_string() == "<>");
    auto p = parse_reverse_path("<Smith@bar.com>");
    BOOST_TEST_REQUIRE(p.ok());
    BOOST_TEST((p->kind == Path::Kind::mailbox));
    BOOST_TEST(p->mailbox.to_string() == "Smith@bar.com");
    BOOST_TEST(p->to_string() == "<Smith@bar.com>");
}

BOOST_AUTO_TEST_CASE(forward_path_accepts_postmaster_in_any_case_but_not_null) {
    for (const char* pm : {"<Postmaster>", "<postmaster>", "<POSTMASTER>", "<PostMaster>"}) {
        auto p = parse_forward_path(pm);
        BOOST_TEST_REQUIRE(p.ok());
        BOOST_TEST((p->kind == Path::Kind::postmaster));
        BOOST_TEST(p->to_string() == "<Postmaster>");
    }
    BOOST_TEST(!parse_forward_path("<>").ok());
    BOOST_TEST(!parse_reverse_path("<Postmaster>").ok());  // no domain: not a Mailbox
    auto pd = parse_forward_path("<postmaster@example.com>");
    BOOST_TEST_REQUIRE(pd.ok());
    BOOST_TEST((pd->kind == Path::Kind::mailbox));
}

BOOST_AUTO_TEST_CASE(source_route_is_accepted_kept_and_ignored) {
    auto p = parse_forward_path("<@hosta.int,@jkl.org:userc@d.bar.org>");
    BOOST_TEST_REQUIRE(p.ok());
    BOOST_TEST(p->route.size() == 2u);
    BOOST_TEST(p->route[0].text() == "hosta.int");
    BOOST_TEST(p->route[1].text() == "jkl.org");
    BOOST_TEST(p->mailbox.to_string() == "userc@d.bar.org");
    BOOST_TEST(p->to_string() == "<userc@d.bar.org>");
    BOOST_TEST((*p == *parse_forward_path("<userc@d.bar.org>")));
    BOOST_TEST(parse_reverse_path("<@a.example:user@c.example>").ok());
}

BOOST_AUTO_TEST_CASE(bad_source_routes_are_rejected) {
    for (const char* bad : {"<@:user@c.example>", "<@a.example,:user@c.example>", "<@a.example user@c.example>",
                            "<@a.example,b.example:user@c.example>", "<@[1.2.3.4]:user@c.example>",
                            "<@a.example;@b.example:user@c.example>", "<@a..example:user@c.example>",
                            "<@a.example:>", "<@a.example>"}) {
        BOOST_TEST_INFO(bad);
        BOOST_TEST(!parse_forward_path(bad).ok());
    }
}

BOOST_AUTO_TEST_CASE(paths_need_angle_brackets_and_nothing_else) {
    for (const char* bad : {"user@example.com", "<user@example.com", "user@example.com>", "< user@example.com>",
                            "<user@example.com >", "<<user@example.com>>", "", "<", ">", "< >",
                            "<user@example.com> ", "<\"a\"@b"}) {
        BOOST_TEST_INFO(bad);
        BOOST_TEST(!parse_reverse_path(bad).ok());
        BOOST_TEST(!parse_forward_path(bad).ok());
    }
}

BOOST_AUTO_TEST_CASE(quoted_local_part_may_contain_angle_brackets) {
    auto p = parse_reverse_path("<\"a>b\"@example.com>");
    BOOST_TEST_REQUIRE(p.ok());
    BOOST_TEST(p->mailbox.local_part() == "\"a>b\"");
}

BOOST_AUTO_TEST_CASE(path_of_256_octets_is_accepted_and_257_rejected) {
    // "<" + 64 local + "@" + domain + ">" with the domain sized to hit the limit exactly.
    const std::string local(64, 'l');
    const std::string l63(63, 'd');
    auto domain_of = [&](std::size_t n) {
        std::string d = l63 + "." + l63 + ".";
        d += std::string(n - d.size(), 'e');
        return d;
    };
    const std::string p256 = "<" + local + "@" + domain_of(256 - 67) + ">";
    BOOST_TEST_REQUIRE(p256.size() == 256u);
    BOOST_TEST(parse_forward_path(p256).ok());
    const std::string p257 = "<" + local + "@" + domain_of(257 - 67) + ">";
    BOOST_TEST_REQUIRE(p257.size() == 257u);
    BOOST_TEST(!parse_forward_path(p257).ok());
    BOOST_TEST(!parse_reverse_path(p257).ok());
}

BOOST_AUTO_TEST_CASE(path_limit_counts_the_source_route) {
    const std::string mailbox = "user@example.com";
    std::string route;
    while (route.size() + mailbox.size() + 3 < 256) route += "@r.example,";
    route.pop_back();
    const std::string long_path = "<" + route + ":" + mailbox + ">";
    BOOST_TEST_REQUIRE(long_path.size() > 256u);
    BOOST_TEST(!parse_forward_path(long_path).ok());
}

BOOST_AUTO_TEST_CASE(path_equality_ignores_route_but_not_kind) {
    BOOST_TEST((Path::null_path() == *parse_reverse_path("<>")));
    BOOST_TEST(!(Path::null_path() == Path::postmaster()));
    BOOST_TEST((Path::postmaster() == *parse_forward_path("<POSTMASTER>")));
    BOOST_TEST(!(*parse_forward_path("<a@b.c>") == *parse_forward_path("<A@b.c>")));
}

BOOST_AUTO_TEST_CASE(utf8_path_needs_allow_utf8) {
    const std::string p = "<\xE7\x94\xA8\xE6\x88\xB7@\xE4\xBE\x8B\xE5\xAD\x90.\xE5\xB9\xBF\xE5\x91\x8A>";
    BOOST_TEST(!parse_forward_path(p).ok());
    BOOST_TEST(parse_forward_path(p, utf8).ok());
}

// ---- properties ----------------------------------------------------------------------------

RC_BOOST_PROP(generated_mailboxes_round_trip, (bool use_utf8)) {
    const auto text = *gen_mailbox_text(use_utf8);
    const AddressSyntax s{use_utf8};
    const auto m = Mailbox::parse(text, s);
    RC_ASSERT(m.ok());
    RC_ASSERT(m->to_string() == text);
    RC_ASSERT(*Mailbox::parse(m->to_string(), s) == *m);
}

RC_BOOST_PROP(generated_paths_round_trip_through_to_string, (bool use_utf8, bool with_route)) {
    const AddressSyntax s{use_utf8};
    std::string text = "<";
    if (with_route) text += "@route.example,@r2.example:";
    text += *gen_mailbox_text(use_utf8) + ">";
    RC_PRE(text.size() <= pigeon::core::path_max_octets);
    const auto p = parse_forward_path(text, s);
    RC_ASSERT(p.ok());
    RC_ASSERT(p->route.size() == (with_route ? 2u : 0u));
    const auto again = parse_forward_path(p->to_string(), s);
    RC_ASSERT(again.ok());
    RC_ASSERT(*again == *p);
    const auto rev = parse_reverse_path(p->to_string(), s);
    RC_ASSERT(rev.ok());
    RC_ASSERT(*rev == *p);
}

RC_BOOST_PROP(path_parsers_never_throw_on_arbitrary_text, (const std::string& body, bool use_utf8)) {
    const AddressSyntax s{use_utf8};
    for (const std::string& text : {body, "<" + body + ">", "<" + body + "@example.com>"}) {
        const auto r = parse_reverse_path(text, s);
        const auto f = parse_forward_path(text, s);
        if (r.ok()) {
            RC_ASSERT(parse_reverse_path(r->to_string(), s).ok());
            RC_ASSERT(*parse_reverse_path(r->to_string(), s) == *r);
        }
        if (f.ok()) RC_ASSERT(*parse_forward_path(f->to_string(), s) == *f);
    }
}

BOOST_AUTO_TEST_SUITE_END()
