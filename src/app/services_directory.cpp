// AppServices::authenticate_from: submission AUTH against a [directory] backend
// (services.hpp).
#include <boost/asio/post.hpp>

#include "app/services.hpp"
#include "core/ascii.hpp"
#include "directory/runtime/password.hpp"
#include "tls/password.hpp"

namespace pigeon::app {
namespace {

// As services.cpp's: an unknown login costs the same hashing as a wrong password.
const std::string& directory_decoy_hash() {
    static const std::string hash = tls::hash_password("pigeon decoy password");
    return hash;
}

}  // namespace

void AppServices::authenticate_from(policy::UserDirectory& users, const net::ConnectionInfo& connection,
                                    const smtp::Authenticate& a, std::string client,
                                    std::function<void(smtp::Event)> done) {
    const std::string login = core::ascii_lower(a.authcid);
    users.login(login, [this, client = std::move(client), login, authzid = core::ascii_lower(a.authzid),
                        password = a.password, id = connection.id,
                        done = std::move(done)](policy::Lookup<policy::Account> answer) mutable {
        const std::string label = "c" + std::to_string(id);
        if (answer.status == policy::Found::unavailable) {
            // RFC 4954 6: 454 4.7.0, a temporary failure; not the client's fault, not counted.
            if (options_.log)
                options_.log(net::LogLevel::warn, label + " AUTH: user directory unavailable: " + answer.reason);
            done(smtp::AuthResult{smtp::AuthResult::Outcome::temporary_failure, {}});
            return;
        }
        const bool known = answer.ok();
        std::string hash = known ? answer.value.password_hash : directory_decoy_hash();
        std::string address = known ? answer.value.address : std::string();
        // PLAIN's authorization identity, when given, must be the user itself: no proxy logins.
        const bool authzid_ok = authzid.empty() || authzid == login || authzid == address;
        boost::asio::post(auth_pool_, [this, client, hash = std::move(hash), address = std::move(address),
                                       password = std::move(password), authzid_ok, label, done = std::move(done)] {
            const bool ok = directory::verify_stored_password(password, hash) && !address.empty() && authzid_ok;
            if (!ok) record_failure(client);
            if (options_.log)
                options_.log(ok ? net::LogLevel::debug : net::LogLevel::info,
                             label + " AUTH " + (ok ? "succeeded for " + address : "failed"));
            done(smtp::AuthResult{ok ? smtp::AuthResult::Outcome::ok : smtp::AuthResult::Outcome::bad_credentials,
                                  address});
        });
    });
}

}  // namespace pigeon::app
