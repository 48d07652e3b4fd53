// Tests for [directory] in config/reader.cpp and writer.cpp: each backend's keys, the
// defaults, the writer's round trip, and the errors naming file, line and key.
#include <boost/test/unit_test.hpp>

#include "config/reader.hpp"
#include "config/writer.hpp"

using namespace pigeon;
using config::DirectorySettings;

namespace {

std::string error_of(const std::string& text) {
    const auto r = config::parse_config(text, "config.toml", "mx.example.org");
    return r ? std::string("(parsed)") : r.error().message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(directory_config)

BOOST_AUTO_TEST_CASE(the_default_is_the_toml_users) {
    const auto r = config::parse_config("", "config.toml");
    BOOST_REQUIRE(r.ok());
    BOOST_TEST((r->directory.backend == DirectorySettings::Backend::toml));
    BOOST_TEST(r->directory.cache_seconds == 30u);
    BOOST_TEST(r->directory.timeout_ms == 2000u);
    BOOST_TEST(r->directory.max_lookups == 64u);
    BOOST_TEST(config::to_toml(*r).find("[directory]") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(each_backend_reads_and_writes_back) {
    const std::string texts[] = {
        "[directory]\nbackend = \"passwd-file\"\npath = \"/etc/pigeon/users\"\ncache_seconds = 5\n",
        "[directory]\nbackend = \"sqlite\"\npath = \"/var/lib/pigeon/users.db\"\n"
        "recipient_query = \"SELECT address FROM users WHERE address = ?\"\n"
        "login_query = \"SELECT password FROM users WHERE address = ?\"\n",
        "[directory]\nbackend = \"postgresql\"\nconninfo = \"host=127.0.0.1 port=5432 dbname=mail\"\n"
        "recipient_query = \"SELECT address FROM users WHERE address = $1\"\n"
        "login_query = \"SELECT password FROM users WHERE address = $1\"\n"
        "sender_query = \"SELECT alias FROM aliases WHERE address = $1\"\n"
        "timeout_ms = 500\nmax_lookups = 10\nthreads = 4\ncache_entries = 50\n"};
    for (const auto& text : texts) {
        BOOST_TEST_CONTEXT(text) {
            const auto r = config::parse_config(text, "config.toml");
            BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
            const auto back = config::parse_config(config::to_toml(*r), "written");
            BOOST_REQUIRE_MESSAGE(back.ok(), (back.ok() ? std::string() : back.error().message));
            BOOST_TEST((back->directory == r->directory));
        }
    }
    const auto pg = config::parse_config(texts[2], "config.toml");
    BOOST_TEST(pg->directory.conninfo == "host=127.0.0.1 port=5432 dbname=mail");
    BOOST_TEST(pg->directory.timeout_ms == 500u);
    BOOST_TEST(pg->directory.threads == 4u);
}

BOOST_AUTO_TEST_CASE(errors_name_file_line_and_key) {
    BOOST_TEST(error_of("[directory]\nbackend = \"ldap\"\n").find("config.toml:2: directory.backend: ") == 0u);
    BOOST_TEST(error_of("[directory]\nbackend = \"passwd-file\"\n") ==
               "config.toml:1: directory.path: is required for this backend");
    BOOST_TEST(error_of("[directory]\nbackend = \"postgresql\"\nrecipient_query = \"SELECT 1\"\n") ==
               "config.toml:3: directory.recipient_query: must take the address as the parameter $1");
    BOOST_TEST(error_of("[directory]\nbackend = \"sqlite\"\npath = \"/x.db\"\n"
                        "recipient_query = \"SELECT address FROM users WHERE address = ?\"\n") ==
               "config.toml:1: directory.login_query: is required for an SQL backend");
    BOOST_TEST(error_of("[directory]\nbackend = \"sqlite\"\npath = \"/x.db\"\n"
                        "recipient_query = \"SELECT address FROM users\"\n")
                   .find("config.toml:4: directory.recipient_query: must take the address as a parameter") == 0u);
    BOOST_TEST(error_of("[directory]\npath = \"/etc/users\"\n") ==
               "config.toml:2: directory.path: applies to backend \"passwd-file\" or \"sqlite\" only");
    BOOST_TEST(error_of("[directory]\nbackend = \"passwd-file\"\npath = \"/u\"\nlogin_query = \"x $1\"\n") ==
               "config.toml:4: directory.login_query: applies to backend \"sqlite\" or \"postgresql\" only");
    BOOST_TEST(error_of("[directory]\nbackend = \"sqlite\"\npath = \"/u\"\nconninfo = \"host=x\"\n") ==
               "config.toml:4: directory.conninfo: applies to backend \"postgresql\" only");
    BOOST_TEST(error_of("[[users]]\naddress = \"a@localhost\"\npassword_hash = \"$2b$10$39YdZfDeWMOxbNIwtSkxqObgvvtppYJqD1v5RoaOKheEJgwRVPnEO\"\n"
                        "[directory]\nbackend = \"passwd-file\"\npath = \"/u\"\n") ==
               "config.toml:1: users: are not read with a [directory] backend: keep the users in the backend");
    BOOST_TEST(error_of("[directory]\ntimeout_ms = 0\n").find("config.toml:2: directory.timeout_ms: must be >= 10") == 0u);
    BOOST_TEST(error_of("[directory]\ncache_secnds = 3\n").find("config.toml:2: directory.cache_secnds: ") == 0u);
    BOOST_TEST(error_of("[directory]\nbackend = \"passwd-file\"\npath = \"\"\n") .find("config.toml:3: directory.path: ") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
