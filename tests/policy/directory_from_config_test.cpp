// The configuration's address rule (config/validate.hpp) and the run-time directory
// (policy/directory.hpp) agree: what the reader accepts, the directory resolves to its own user.
#include <rapidcheck/boost_test.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "config/reader.hpp"
#include "core/ascii.hpp"
#include "policy/directory.hpp"

namespace config = pigeon::config;
namespace policy = pigeon::policy;

namespace {

const std::string argon_hash =
    "$argon2id$v=19$m=19456,t=2,p=1$eud5zIy4Aee1yq9YPEHZug$"
    "ZnHGgKGl9u9lXMLrK3Om4nHGNRhIWbvLMENiUOU5Hxw";

pigeon::core::Result<config::Config> parse(const std::string& text) {
    return config::parse_config(text, "config.toml", "default.example");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(directory_from_config)

// The law behind the rule: for any users, aliases and discard addresses drawn from a pool of
// case variants, the file is accepted exactly when no two entries are equal ignoring case, and
// then the run-time policy::Directory resolves each address and alias to its own user only.
RC_BOOST_PROP(accepted_addresses_resolve_to_their_own_user_at_run_time, ()) {
    static const std::vector<std::string> pool = {
        "carol@example.org", "Carol@example.org", "bob@example.org",  "BOB@EXAMPLE.ORG",
        "sales@example.org", "Sales@example.org", "x@elsewhere.test", "X@Elsewhere.test"};
    const auto gen_address = rc::gen::elementOf(pool);
    const auto users = *rc::gen::container<std::vector<std::pair<std::string, std::vector<std::string>>>>(
        *rc::gen::inRange<std::size_t>(0, 4),
        rc::gen::pair(rc::gen::elementOf(std::vector<std::string>(pool.begin(), pool.begin() + 6)),
                      rc::gen::container<std::vector<std::string>>(
                          *rc::gen::inRange<std::size_t>(0, 3), gen_address)));
    const auto discard = *rc::gen::container<std::vector<std::string>>(
        *rc::gen::inRange<std::size_t>(0, 3),
        rc::gen::elementOf(std::vector<std::string>(pool.begin(), pool.begin() + 6)));

    std::string text = "local_domains = [\"example.org\"]\n";
    std::vector<std::string> all;  // every entry, lower case
    for (const auto& [address, aliases] : users) {
        text += "[[users]]\naddress = \"" + address + "\"\npassword_hash = \"" + argon_hash +
                "\"\naliases = [";
        all.push_back(pigeon::core::ascii_lower(address));
        for (const auto& a : aliases) {
            text += "\"" + a + "\", ";
            all.push_back(pigeon::core::ascii_lower(a));
        }
        text += "]\n";
    }
    text += "[delivery]\ndiscard = [";
    for (const auto& d : discard) {
        text += "\"" + d + "\", ";
        all.push_back(pigeon::core::ascii_lower(d));
    }
    text += "]\n";
    RC_LOG() << text;
    auto sorted = all;
    std::sort(sorted.begin(), sorted.end());
    const bool collision = std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end();

    const auto r = parse(text);
    RC_ASSERT(r.ok() == !collision);
    if (!r.ok()) return;
    const config::Config& c = r.value();
    const policy::Directory dir(c.local_domains, c.users, c.delivery.discard);
    const auto path = [](const std::string& a) {
        return pigeon::core::Path::of(pigeon::core::Mailbox::parse(a).value());
    };
    for (std::size_t i = 0; i < c.users.size(); ++i) {
        const config::User* me = &dir.users()[i];
        RC_ASSERT(dir.login(c.users[i].address) == me);
        RC_ASSERT(dir.recipient(path(c.users[i].address)) == me);
        RC_ASSERT(!dir.discards(path(c.users[i].address)));
        for (const auto& a : c.users[i].aliases) {
            if (dir.is_local_domain(path(a).mailbox.domain().text()))
                RC_ASSERT(dir.recipient(path(a)) == me);
            RC_ASSERT(!dir.discards(path(a)));
            for (std::size_t j = 0; j < c.users.size(); ++j)
                if (j != i) RC_ASSERT(!dir.may_send_as(dir.users()[j], a));
        }
        for (std::size_t j = 0; j < c.users.size(); ++j)
            if (j != i) RC_ASSERT(!dir.may_send_as(dir.users()[j], c.users[i].address));
    }
    for (const auto& d : c.delivery.discard) {
        RC_ASSERT(dir.discards(path(d)));
        RC_ASSERT(dir.recipient(path(d)) == nullptr);
    }
}

BOOST_AUTO_TEST_SUITE_END()
