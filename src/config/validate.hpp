// pigeon/config/validate.hpp: the configuration's rules that are not about TOML's shape.
//
// The reader (config/reader.cpp) asks these while it reads and reports what they find at the
// key and line the value came from; `pigeon check-config` and `pigeon serve` ask
// credential_warnings() of a Config that was read. Nothing here knows TOML, so each rule is
// tested on its own (tests/config/validate_test.cpp) as well as through whole files.
#pragma once
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/model.hpp"
#include "core/address.hpp"
#include "core/domain.hpp"

namespace pigeon::config {

// Host names in the file (hostname, local_domains, routes, relayhost): no address literals,
// ASCII only.
inline constexpr core::DomainSyntax host_syntax{.allow_address_literal = false,
                                                .allow_utf8 = false};
bool valid_hostname(std::string_view name);

// The entry of `allowed` closest to `name` by edit distance, when it is close enough to be a
// likely typo (fewer than 3 edits), else empty: "unknown key (did you mean 'max_recipients'?)".
std::string_view closest_name(std::string_view name, std::initializer_list<std::string_view> allowed);

// Why `hash` is not a password hash Pigeon can check, or nullopt when it is one: Argon2id in
// Botan's PHC form or bcrypt $2a$/$2b$, with parameters inside the bounds that
// pigeon::tls::verify_password enforces (src/tls/password.hpp), since a hash outside them would
// load and then refuse every login.
std::optional<std::string> password_hash_problem(const std::string& hash);

// Whether the mailbox's domain is one of `local_domains` (compared as domains: ignoring case).
bool in_local_domains(const core::Mailbox& m, const std::vector<std::string>& local_domains);

// One uniqueness rule over every address that names a mailbox or a sender: users' addresses,
// their aliases and [delivery] discard addresses are all distinct, compared as the run-time
// policy::Directory matches them (policy/directory.hpp: ASCII case-insensitively over the whole
// address, local part included). With a case-sensitive check an alias "Bob@example.org" of alice
// would pass and then receive bob's mail and let alice send as bob; users "Carol@" and "carol@"
// would share one Maildir (maildir_for lower-cases the path).
class AddressClaims {
public:
    enum class Kind { user, alias, discard };
    static constexpr std::size_t no_user = static_cast<std::size_t>(-1);

    // Where to report a clash, and what to say there.
    struct Conflict {
        std::size_t line;
        std::string key;
        std::string message;
    };

    // Records the address `text`, written on `line` as `key`, for `user` (an index into
    // [[users]], or no_user for a discard address). When an earlier entry holds the same
    // address, the Conflict names both entries; it is reported at the alias when one of the two
    // is an alias of the other's user address, even when the alias comes first in the file.
    std::optional<Conflict> claim(const std::string& key, const std::string& text,
                                  std::size_t line, Kind kind, std::size_t user);

private:
    struct Claim {
        std::string key;
        std::string text;
        std::size_t line;
        Kind kind;
        std::size_t user;
    };
    static std::string why(const Claim& a, const Claim& b);

    std::unordered_map<std::string, Claim> by_address_;  // key: lower case
};

// One line per next hop (relayhost, route) that sends a password over TLS weaker than
// "verify" - only possible when the file names that tls mode explicitly, since a password_file
// makes "verify" the default. `pigeon serve` logs them at start, `check-config` prints them.
// Each names the key: "outbound.relayhost.tls = \"required\": the password for ... ".
std::vector<std::string> credential_warnings(const Config& config);

}  // namespace pigeon::config
