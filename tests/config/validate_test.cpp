// Tests for config/validate.hpp on its own, without TOML: host names, the near-miss
// suggestion, password hash shapes, local domains, the one-address-set rule and the
// credential warnings. config_test.cpp checks the same rules through whole files.
#include "config/validate.hpp"

#include <rapidcheck/boost_test.h>

#include <boost/test/unit_test.hpp>
#include <string>

namespace config = pigeon::config;
using config::AddressClaims;
using Kind = config::AddressClaims::Kind;

BOOST_AUTO_TEST_SUITE(config_validate)

BOOST_AUTO_TEST_CASE(host_names_are_ascii_names_without_literals) {
    BOOST_TEST(config::valid_hostname("mx.example.org"));
    BOOST_TEST(config::valid_hostname("localhost"));
    BOOST_TEST(!config::valid_hostname("[192.0.2.1]"));  // a literal is not a host name
    BOOST_TEST(!config::valid_hostname("bad..name"));
    BOOST_TEST(!config::valid_hostname("b\xC3\xBC" "cher.example"));  // UTF-8: not here
    BOOST_TEST(!config::valid_hostname(""));
}

BOOST_AUTO_TEST_CASE(closest_name_suggests_only_near_misses) {
    const std::initializer_list<std::string_view> allowed = {"max_recipients", "max_connections",
                                                             "verify_threads"};
    BOOST_TEST(config::closest_name("max_recipient", allowed) == "max_recipients");
    BOOST_TEST(config::closest_name("max_conections", allowed) == "max_connections");
    BOOST_TEST(config::closest_name("verify_thread", allowed) == "verify_threads");
    BOOST_TEST(config::closest_name("hostname", allowed).empty());  // too far from all
    BOOST_TEST(config::closest_name("max_recip", allowed).empty());  // 5 edits
}

// Any allowed name with one character changed or dropped is suggested back (one edit is close).
RC_BOOST_PROP(one_edit_from_a_name_suggests_it, (unsigned pick, unsigned at)) {
    const std::initializer_list<std::string_view> allowed = {"zone_file", "forwarders",
                                                             "trust_anchor_file"};
    const std::string name(*(allowed.begin() + pick % allowed.size()));
    std::string typo = name;
    typo.erase(at % typo.size(), 1);
    RC_ASSERT(config::closest_name(typo, allowed) == name);
}

BOOST_AUTO_TEST_CASE(password_hashes_are_argon2id_or_bcrypt_within_bounds) {
    const std::string argon =
        "$argon2id$v=19$m=19456,t=2,p=1$eud5zIy4Aee1yq9YPEHZug$"
        "ZnHGgKGl9u9lXMLrK3Om4nHGNRhIWbvLMENiUOU5Hxw";
    const std::string bcrypt = "$2b$10$39YdZfDeWMOxbNIwtSkxqObgvvtppYJqD1v5RoaOKheEJgwRVPnEO";
    BOOST_TEST(!config::password_hash_problem(argon).has_value());
    BOOST_TEST(!config::password_hash_problem(bcrypt).has_value());
    BOOST_TEST(!config::password_hash_problem("$2a$" + bcrypt.substr(4)).has_value());

    const auto problem = [](const std::string& h) {
        return config::password_hash_problem(h).value_or("(none)");
    };
    BOOST_TEST(problem("$argon2id$v=19$m=4,t=2,p=1$c2FsdA$aGFzaA") ==
               "Argon2id parameters out of range (m 8..1048576 KiB, t 1..64, p 1..16)");
    BOOST_TEST(problem("$argon2id$v=19$m=19456,t=2,p=17$c2FsdA$aGFzaA") ==
               "Argon2id parameters out of range (m 8..1048576 KiB, t 1..64, p 1..16)");
    BOOST_TEST(problem("$argon2id$nonsense").starts_with("malformed Argon2id hash"));
    BOOST_TEST(problem("$2b$03$" + bcrypt.substr(7)) == "bcrypt cost must be between 04 and 16");
    BOOST_TEST(problem("$2b$10$short").starts_with("malformed bcrypt hash"));
    // $2y$ and the other Argon2 variants are not accepted (docs/tls.md).
    BOOST_TEST(problem("$2y$" + bcrypt.substr(4)).starts_with("must be an Argon2id"));
    BOOST_TEST(problem("$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA").starts_with("must be an Argon2id"));
    BOOST_TEST(problem("plaintext").starts_with("must be an Argon2id"));
}

BOOST_AUTO_TEST_CASE(local_domains_compare_ignoring_case) {
    const auto m = pigeon::core::Mailbox::parse("a@Example.ORG").value();
    BOOST_TEST(config::in_local_domains(m, {"other.test", "example.org"}));
    BOOST_TEST(!config::in_local_domains(m, {"other.test"}));
    BOOST_TEST(!config::in_local_domains(m, {}));
}

BOOST_AUTO_TEST_CASE(address_claims_name_both_entries_and_blame_the_alias) {
    AddressClaims claims;
    BOOST_TEST(!claims.claim("users[0].address", "alice@example.org", 2, Kind::user, 0));
    BOOST_TEST(!claims.claim("users[0].aliases[0]", "sales@example.org", 5, Kind::alias, 0));
    BOOST_TEST(!claims.claim("delivery.discard[0]", "noreply@example.org", 9, Kind::discard,
                             AddressClaims::no_user));

    // Two users with one address, compared ignoring case: reported at the second.
    auto c = claims.claim("users[1].address", "Alice@Example.org", 7, Kind::user, 1);
    BOOST_REQUIRE(c.has_value());
    BOOST_TEST(c->line == 7u);
    BOOST_TEST(c->key == "users[1].address");
    BOOST_TEST(c->message ==
               "\"Alice@Example.org\" is the same address as users[0].address "
               "\"alice@example.org\" (line 2; addresses match ignoring case): two users would "
               "share one mailbox");

    // A user whose address was already someone's alias: the alias is blamed, at its line.
    c = claims.claim("users[2].address", "SALES@example.org", 12, Kind::user, 2);
    BOOST_REQUIRE(c.has_value());
    BOOST_TEST(c->line == 5u);
    BOOST_TEST(c->key == "users[0].aliases[0]");
    BOOST_TEST(c->message.ends_with("one user may not receive or send as another"));

    c = claims.claim("users[0].aliases[1]", "noreply@example.org", 6, Kind::alias, 0);
    BOOST_REQUIRE(c.has_value());
    BOOST_TEST(c->message.ends_with("an address is either a mailbox or discarded"));

    c = claims.claim("users[0].aliases[2]", "alice@example.org", 6, Kind::alias, 0);
    BOOST_REQUIRE(c.has_value());
    BOOST_TEST(c->message.ends_with("an alias is not the user's own address"));
}

BOOST_AUTO_TEST_CASE(credential_warnings_name_each_weak_next_hop) {
    config::Config c;
    BOOST_TEST(config::credential_warnings(c).empty());
    config::NextHopSettings relay;
    relay.host = "smarthost.example";
    relay.username = "pigeon";
    relay.password_file = "/etc/pigeon/relay.pw";
    relay.tls = config::OutboundTls::verify;
    c.outbound.relayhost = {relay};
    BOOST_TEST(config::credential_warnings(c).empty());  // verified: no warning

    c.outbound.relayhost[0].tls = config::OutboundTls::required;
    config::RouteSettings route{"partner.example", relay};
    route.to.tls = config::OutboundTls::opportunistic;
    c.outbound.routes = {route};
    const auto w = config::credential_warnings(c);
    BOOST_REQUIRE(w.size() == 2u);
    BOOST_TEST(w[0] ==
               "outbound.relayhost.tls = \"required\": the password for pigeon goes to "
               "smarthost.example over TLS whose certificate is not checked; anyone on the path "
               "can take it (tls = \"verify\" checks it)");
    BOOST_TEST(w[1].starts_with("outbound.routes[0].tls = \"opportunistic\""));

    c.outbound.routes[0].to.password_file.clear();  // no password: nothing to warn about
    BOOST_TEST(config::credential_warnings(c).size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
