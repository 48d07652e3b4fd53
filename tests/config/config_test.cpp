// Tests for src/config/: the defaults (model.hpp), the TOML reader and its errors (reader.hpp),
// the session options (session.hpp) and to_toml (writer.hpp). The rules of validate.hpp are
// tested on their own in validate_test.cpp; the CLI commands over a Config in tests/app/.
#include "config/config.hpp"

#include <rapidcheck/boost_test.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/ascii.hpp"
#include "queue/retry.hpp"

namespace config = pigeon::config;
using config::Config;
using config::LogLevel;
using config::TlsMode;
using pigeon::core::Result;
using pigeon::smtp::Role;

namespace {

const std::string argon_hash =
    "$argon2id$v=19$m=19456,t=2,p=1$eud5zIy4Aee1yq9YPEHZug$"
    "ZnHGgKGl9u9lXMLrK3Om4nHGNRhIWbvLMENiUOU5Hxw";
const std::string bcrypt_hash = "$2b$10$39YdZfDeWMOxbNIwtSkxqObgvvtppYJqD1v5RoaOKheEJgwRVPnEO";

Result<Config> parse(const std::string& text) {
    return config::parse_config(text, "config.toml", "default.example");
}

// The error message for `text`, or "(parsed)" if it parsed.
std::string error_of(const std::string& text) {
    const auto r = parse(text);
    return r ? std::string("(parsed)") : r.error().message;
}

// The error message of a failed result, for BOOST_REQUIRE_MESSAGE (empty if it parsed).
std::string why(const Result<Config>& r) { return r ? std::string() : r.error().message; }

// The embedded default minus what only it has (the demo user; accepting SPF temperrors so it
// works offline): what an empty file gives.
Config without_demo(Config c) {
    c.create_demo_user = false;
    c.allow_root = false;
    c.spf.temperror = config::SpfTempErrorAction::defer;
    c.dmarc.temperror = config::SpfTempErrorAction::defer;
    return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_file)

BOOST_AUTO_TEST_CASE(default_config_is_the_embedded_default) {
    const Config c = config::default_config("mx.example");
    BOOST_TEST(c.hostname == "mx.example");
    BOOST_TEST(c.local_domains == std::vector<std::string>{"localhost"});
    BOOST_TEST(c.state_dir == "./pigeon-data");
    BOOST_TEST(c.tls.self_signed());
    BOOST_TEST(c.users.empty());
    BOOST_TEST(c.create_demo_user);
    BOOST_TEST(c.threads == 0u);
    BOOST_TEST((c.log_level == LogLevel::info));
    BOOST_REQUIRE_EQUAL(c.listeners.size(), 3u);
    BOOST_TEST((c.listeners[0] == config::Listener{"127.0.0.1", 2525, Role::inbound, TlsMode::starttls}));
    BOOST_TEST((c.listeners[1] == config::Listener{"127.0.0.1", 2587, Role::submission, TlsMode::starttls}));
    BOOST_TEST((c.listeners[2] == config::Listener{"127.0.0.1", 2465, Role::submission, TlsMode::implicit}));
    BOOST_TEST(c.limits.command_timeout_seconds == 300u);     // RFC 5321 4.5.3.2.7
    BOOST_TEST(c.limits.data_block_timeout_seconds == 180u);  // RFC 5321 4.5.3.2.5
    BOOST_TEST(c.limits.data_timeout_seconds == 600u);        // RFC 5321 4.5.3.2.6
    BOOST_TEST(c.limits.max_recipients == 100u);              // RFC 5321 4.5.3.1.8
    BOOST_TEST(c.limits.max_message_octets == 25u * 1024 * 1024);
}

BOOST_AUTO_TEST_CASE(default_config_is_valid) {
    const Config c = config::default_config("mx.example");
    const auto back = config::parse_config(config::to_toml(c), "default", "other.example");
    BOOST_REQUIRE_MESSAGE(back.ok(), why(back));
    Config expected = c;
    expected.create_demo_user = false;  // not a file key; everything else is written out
    BOOST_TEST((back.value() == expected));
}

BOOST_AUTO_TEST_CASE(system_hostname_is_a_usable_default) {
    const auto back = config::parse_config(config::to_toml(config::default_config(config::system_hostname())),
                                        "default");
    BOOST_TEST(back.ok());
}

BOOST_AUTO_TEST_CASE(empty_file_takes_every_default) {
    const auto r = parse("");
    BOOST_REQUIRE(r.ok());
    BOOST_TEST((r.value() == without_demo(config::default_config("default.example"))));
    BOOST_TEST((r.value() == config::empty_file_config("default.example")));
}

BOOST_AUTO_TEST_CASE(full_config_parses_to_expected_values) {
    const auto r = parse(R"(
hostname = "mail.example.org"
local_domains = ["example.org", "Example.NET"]
state_dir = "/var/lib/pigeon"
log_level = "debug"
threads = 4

[tls]
cert_file = "/etc/pigeon/cert.pem"
key_file = "/etc/pigeon/key.pem"

[limits]
max_connections = 100
max_connections_per_ip = 5
command_timeout_seconds = 400
data_block_timeout_seconds = 200
data_timeout_seconds = 900
max_message_octets = 1048576
max_recipients = 150
max_errors_per_session = 3
auth_failures_per_ip_per_minute = 2
shutdown_grace_seconds = 0
ipv6_prefix_bits = 56

[[listeners]]
address = "::"
port = 25
role = "inbound"
tls = "none"

[[listeners]]
address = "192.0.2.1"
port = 465
role = "submission"
tls = "implicit"

[[users]]
address = "alice@example.org"
password_hash = ")" + argon_hash + R"("
aliases = ["postmaster@example.org", "a@elsewhere.example"]

[[users]]
address = "bob@example.net"
password_hash = ")" + bcrypt_hash + R"("
)");
    BOOST_REQUIRE_MESSAGE(r.ok(), why(r));
    const Config& c = r.value();
    BOOST_TEST(c.hostname == "mail.example.org");
    BOOST_TEST((c.local_domains == std::vector<std::string>{"example.org", "Example.NET"}));
    BOOST_TEST(c.state_dir == "/var/lib/pigeon");
    BOOST_TEST((c.log_level == LogLevel::debug));
    BOOST_TEST(c.threads == 4u);
    BOOST_TEST(c.tls.cert_file == "/etc/pigeon/cert.pem");
    BOOST_TEST(c.tls.key_file == "/etc/pigeon/key.pem");
    BOOST_TEST(!c.tls.self_signed());
    BOOST_TEST(c.limits.max_connections == 100u);
    BOOST_TEST(c.limits.max_connections_per_ip == 5u);
    BOOST_TEST(c.limits.command_timeout_seconds == 400u);
    BOOST_TEST(c.limits.data_block_timeout_seconds == 200u);
    BOOST_TEST(c.limits.data_timeout_seconds == 900u);
    BOOST_TEST(c.limits.max_message_octets == 1048576u);
    BOOST_TEST(c.limits.max_recipients == 150u);
    BOOST_TEST(c.limits.max_errors_per_session == 3u);
    BOOST_TEST(c.limits.auth_failures_per_ip_per_minute == 2u);
    BOOST_TEST(c.limits.shutdown_grace_seconds == 0u);
    BOOST_TEST(c.limits.ipv6_prefix_bits == 56u);
    BOOST_REQUIRE_EQUAL(c.listeners.size(), 2u);
    BOOST_TEST((c.listeners[0] == config::Listener{"::", 25, Role::inbound, TlsMode::none}));
    BOOST_TEST((c.listeners[1] == config::Listener{"192.0.2.1", 465, Role::submission, TlsMode::implicit}));
    BOOST_REQUIRE_EQUAL(c.users.size(), 2u);
    BOOST_TEST(c.users[0].address == "alice@example.org");
    BOOST_TEST(c.users[0].password_hash == argon_hash);
    BOOST_TEST((c.users[0].aliases ==
                std::vector<std::string>{"postmaster@example.org", "a@elsewhere.example"}));
    BOOST_TEST(c.users[1].address == "bob@example.net");  // domain matched case-insensitively
    BOOST_TEST(c.users[1].password_hash == bcrypt_hash);
    BOOST_TEST(c.users[1].aliases.empty());
    BOOST_TEST(!c.create_demo_user);
}

BOOST_AUTO_TEST_CASE(listener_tls_defaults_to_starttls) {
    const auto r = parse("[[listeners]]\naddress = \"127.0.0.1\"\nport = 25\nrole = \"inbound\"\n");
    BOOST_REQUIRE(r.ok());
    BOOST_TEST((r.value().listeners.at(0).tls == TlsMode::starttls));
}

BOOST_AUTO_TEST_CASE(session_config_follows_the_listener) {
    Config c = config::default_config("mx.example");
    c.limits.max_recipients = 321;
    c.limits.max_message_octets = 1 << 20;
    c.limits.max_errors_per_session = 7;
    const auto common = config::session_config(c);  // what `pigeon serve` gives its server
    BOOST_TEST(common.hostname == "mx.example");
    BOOST_TEST(common.max_recipients == 321u);
    BOOST_TEST(common.max_message_octets == 1u << 20);
    BOOST_TEST(common.max_errors == 7u);
    BOOST_TEST(!common.auth_without_tls);
    const auto inbound = config::session_config(c, c.listeners[0]);
    BOOST_TEST(inbound.max_errors == 7u);
    BOOST_TEST((inbound.role == Role::inbound));
    BOOST_TEST(inbound.hostname == "mx.example");
    BOOST_TEST(inbound.max_recipients == 321u);
    BOOST_TEST(inbound.max_message_octets == 1u << 20);
    BOOST_TEST(inbound.tls_available);
    BOOST_TEST(!inbound.tls_active);
    BOOST_TEST(!inbound.auth_without_tls);
    const auto implicit = config::session_config(c, c.listeners[2]);
    BOOST_TEST((implicit.role == Role::submission));
    BOOST_TEST(implicit.tls_active);
    const auto clear = config::session_config(c, {"::1", 25, Role::inbound, TlsMode::none});
    BOOST_TEST(!clear.tls_available);
    BOOST_TEST(!clear.tls_active);
}

// The documented example must stay valid: the docs cannot rot.
BOOST_AUTO_TEST_CASE(documented_example_parses) {
    const auto r = config::load_config(PIGEON_SOURCE_DIR "/docs/pigeon.example.toml");
    BOOST_REQUIRE_MESSAGE(r.ok(), why(r));
    const Config& c = r.value();
    BOOST_TEST(c.hostname == "mail.example.org");
    BOOST_TEST(c.listeners.size() == 3u);
    BOOST_TEST(c.users.size() == 2u);
    BOOST_TEST(c.local_domains.size() == 2u);
    BOOST_TEST(c.delivery.discard == std::vector<std::string>{"noreply@example.org"});
}

// docs/configuration.md names every key the reader accepts.
BOOST_AUTO_TEST_CASE(documentation_names_every_key) {
    std::ifstream in(PIGEON_SOURCE_DIR "/docs/configuration.md");
    BOOST_REQUIRE(in);
    std::stringstream doc;
    doc << in.rdbuf();
    for (const char* key :
         {"hostname", "local_domains", "state_dir", "user", "group", "allow_root", "log_level", "log.format",
          "log.target", "log.file", "log.syslog_socket", "threads", "tls.cert_file",
          "tls.key_file", "limits.max_connections", "limits.max_connections_per_ip",
          "limits.command_timeout_seconds", "limits.data_block_timeout_seconds",
          "limits.data_timeout_seconds", "limits.max_message_octets", "limits.max_recipients",
          "limits.max_errors_per_session", "limits.auth_failures_per_ip_per_minute",
          "limits.shutdown_grace_seconds", "limits.ipv6_prefix_bits", "limits.message_memory_octets",
          "limits.spool_min_free_octets", "limits.message_spill_octets", "limits.verify_threads", "limits.verify_cpu_seconds",
          "listeners.address", "listeners.port",
          "listeners.role", "listeners.tls", "users.address", "users.password_hash",
          "users.aliases", "dns.zone_file", "dns.forwarders", "dns.trust_anchor_file",
          "dns.timeout_seconds", "spf.check", "spf.reject_fail", "spf.temperror", "dmarc.check",
          "dmarc.enforce", "dmarc.temperror", "dmarc.never_reject", "dkim.keys.domain",
          "dkim.keys.selector", "dkim.keys.key_file", "outbound.enabled", "outbound.mx_port",
          "outbound.dane", "outbound.max_connections", "outbound.max_per_destination",
          "outbound.connect_timeout_seconds", "outbound.command_timeout_seconds",
          "outbound.data_timeout_seconds", "outbound.first_retry_seconds",
          "outbound.max_retry_interval_seconds", "outbound.give_up_after_seconds",
          "outbound.delay_warning_seconds", "outbound.relayhost.host", "outbound.relayhost.port",
          "outbound.relayhost.tls", "outbound.relayhost.username",
          "outbound.relayhost.password_file", "outbound.routes.domain", "outbound.routes.host",
          "outbound.routes.port", "outbound.routes.tls", "outbound.relayhost.ca_file",
          "outbound.routes.ca_file", "dns.stub_zones.zone",
          "dns.stub_zones.addresses", "delivery.discard", "delivery.maildir", "delivery.lmtp", "delivery.lmtp_domains",
          "auth.dovecot", "auth.dovecot_connect_timeout_seconds", "auth.dovecot_timeout_seconds"}) {
        BOOST_TEST_CONTEXT(key) {
            BOOST_TEST(doc.str().find(std::string("`") + key + "`") != std::string::npos);
        }
    }
}

// ---- errors: every message names the file, the line and the key -----------------------------

struct Case {
    std::string text;
    std::string error;
};

void check_errors(const std::vector<Case>& cases) {
    for (const Case& c : cases) {
        BOOST_TEST_CONTEXT(c.text) { BOOST_TEST(error_of(c.text) == c.error); }
    }
}

BOOST_AUTO_TEST_CASE(toml_syntax_errors_name_the_line) {
    const std::string e = error_of("hostname = \"a\"\n\nport = \n");
    BOOST_TEST(e.starts_with("config.toml:3: "), e);
    const std::string dup = error_of("hostname = \"a\"\nhostname = \"b\"\n");
    BOOST_TEST(dup.starts_with("config.toml:2: "), dup);
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_rejected) {
    check_errors({
        {"hostname = \"a.example\"\nhost_name = \"b\"\n",
         "config.toml:2: host_name: unknown key (did you mean 'hostname'?)"},
        {"frobnicate = 1\n", "config.toml:1: frobnicate: unknown key"},
        {"[limits]\nmax_recipent = 100\n",
         "config.toml:2: limits.max_recipent: unknown key (did you mean 'max_recipients'?)"},
        {"[tls]\ncert = \"x\"\n", "config.toml:2: tls.cert: unknown key"},
        {"[[listeners]]\naddress = \"::1\"\nport = 25\nrole = \"inbound\"\ntsl = \"none\"\n",
         "config.toml:5: listeners[0].tsl: unknown key (did you mean 'tls'?)"},
        {"[[users]]\naddress = \"a@localhost\"\npassword_hash = \"" + argon_hash +
             "\"\nalias = []\n",
         "config.toml:4: users[0].alias: unknown key (did you mean 'aliases'?)"},
        {"[limits.extra]\nx = 1\n", "config.toml:1: limits.extra: unknown key"},
    });
}

BOOST_AUTO_TEST_CASE(dns_and_spf_sections_parse_and_validate) {
    const auto r = parse(
        "[dns]\nzone_file = \"/srv/zone.db\"\nforwarders = [\"192.0.2.53\", \"::1@5353\"]\n"
        "timeout_seconds = 2\n[spf]\ncheck = true\nreject_fail = false\ntemperror = \"accept\"\n");
    BOOST_REQUIRE_MESSAGE(r.ok(), why(r));
    BOOST_TEST(r->dns.zone_file == "/srv/zone.db");
    BOOST_TEST(r->dns.forwarders == (std::vector<std::string>{"192.0.2.53", "::1@5353"}));
    BOOST_TEST(r->dns.timeout_seconds == 2u);
    BOOST_TEST(r->dns.trust_anchor_file == "/usr/share/dns/root.key");
    BOOST_TEST(!r->spf.reject_fail);
    BOOST_TEST((r->spf.temperror == config::SpfTempErrorAction::accept));
    // Files default to deferring a temperror; the embedded default accepts (works offline).
    BOOST_TEST((parse("")->spf.temperror == config::SpfTempErrorAction::defer));
    BOOST_TEST((config::default_config("h.example").spf.temperror == config::SpfTempErrorAction::accept));
    check_errors({
        {"[dns]\ntimeout_seconds = 0\n", "config.toml:2: dns.timeout_seconds: must be >= 1"},
        {"[dns]\nforwarders = [\"resolver.example\"]\n",
         "config.toml:2: dns.forwarders[0]: \"resolver.example\" is not an IP address, optionally "
         "with @port"},
        {"[dns]\nforwarders = [\"192.0.2.1@99999\"]\n",
         "config.toml:2: dns.forwarders[0]: \"192.0.2.1@99999\" is not an IP address, optionally "
         "with @port"},
        {"[dns]\nzone = \"x\"\n", "config.toml:2: dns.zone: unknown key"},
        {"[spf]\ncheck = \"yes\"\n", "config.toml:2: spf.check: must be true or false, not a string"},
        {"[spf]\ntemperror = \"maybe\"\n",
         "config.toml:2: spf.temperror: \"maybe\" is not one of \"defer\", \"accept\""},
        {"[dmarc]\nenforce = 1\n", "config.toml:2: dmarc.enforce: must be true or false, not an integer"},
    });
    const auto k = parse(
        "[[dkim.keys]]\ndomain = \"example.org\"\nselector = \"s2026\"\nkey_file = \"/k/a.pem\"\n"
        "[[dkim.keys]]\ndomain = \"example.org\"\nselector = \"s2027\"\nkey_file = \"/k/b.pem\"\n");
    BOOST_REQUIRE_MESSAGE(k.ok(), why(k));
    BOOST_TEST(k->dkim_keys.size() == 2u);
    BOOST_TEST(k->dkim_keys[1].selector == "s2027");
    BOOST_TEST((config::parse_config(config::to_toml(*k), "again", "h")->dkim_keys == k->dkim_keys));
    check_errors({
        {"[[dkim.keys]]\ndomain = \"example.org\"\nkey_file = \"/k\"\n",
         "config.toml:1: dkim.keys[0].selector: is required"},
        {"[[dkim.keys]]\ndomain = \"example.org\"\nselector = \"a\"\nkey_file = \"/k\"\n"
         "[[dkim.keys]]\ndomain = \"example.org\"\nselector = \"a\"\nkey_file = \"/j\"\n",
         "config.toml:7: dkim.keys[1].selector: \"a\" is already configured for example.org"},
    });
    const auto d = parse("[dmarc]\nenforce = false\nnever_reject = [\"Partner.Example\"]\n");
    BOOST_REQUIRE_MESSAGE(d.ok(), why(d));
    BOOST_TEST(!d->dmarc.enforce);
    BOOST_TEST(d->dmarc.never_reject.size() == 1u);
}

BOOST_AUTO_TEST_CASE(wrong_types_are_rejected) {
    check_errors({
        {"hostname = 5\n", "config.toml:1: hostname: must be a string, not an integer"},
        {"threads = \"4\"\n", "config.toml:1: threads: must be an integer, not a string"},
        {"threads = 4.0\n", "config.toml:1: threads: must be an integer, not a float"},
        {"local_domains = \"example.org\"\n",
         "config.toml:1: local_domains: must be an array, not a string"},
        {"local_domains = [1]\n",
         "config.toml:1: local_domains[0]: must be a string, not an integer"},
        {"limits = 5\n", "config.toml:1: limits: must be a table, not an integer"},
        {"tls = \"yes\"\n", "config.toml:1: tls: must be a table, not a string"},
        {"\n[limits]\nmax_recipients = \"lots\"\n",
         "config.toml:3: limits.max_recipients: must be an integer, not a string"},
        {"listeners = [1]\n", "config.toml:1: listeners[0]: must be a table, not an integer"},
        {"[[listeners]]\naddress = \"::1\"\nport = \"25\"\nrole = \"inbound\"\n",
         "config.toml:3: listeners[0].port: must be an integer, not a string"},
        {"[[users]]\naddress = \"a@localhost\"\npassword_hash = \"" + argon_hash +
             "\"\naliases = \"b@localhost\"\n",
         "config.toml:4: users[0].aliases: must be an array, not a string"},
        {"state_dir = true\n", "config.toml:1: state_dir: must be a string, not a boolean"},
    });
}

BOOST_AUTO_TEST_CASE(top_level_values_are_checked) {
    check_errors({
        {"hostname = \"not a host\"\n",
         "config.toml:1: hostname: \"not a host\" is not a domain name: " +
             pigeon::core::Domain::parse("not a host").error().message},
        {"state_dir = \"\"\n", "config.toml:1: state_dir: must not be empty"},
        {"log_level = \"verbose\"\n",
         "config.toml:1: log_level: \"verbose\" is not one of \"error\", \"warn\", \"info\", "
         "\"debug\""},
        {"threads = -1\n", "config.toml:1: threads: must be >= 0"},
        {"threads = 5000\n", "config.toml:1: threads: must be <= 1024"},
        {"local_domains = []\n", "config.toml:1: local_domains: must list at least one domain"},
        {"local_domains = [\"a.example\",\n  \"A.EXAMPLE\"]\n",
         "config.toml:2: local_domains[1]: \"A.EXAMPLE\" is listed twice"},
        {"local_domains = [\"[127.0.0.1]\"]\n",
         "config.toml:1: local_domains[0]: \"[127.0.0.1]\" is not a domain name: " +
             pigeon::core::Domain::parse("[127.0.0.1]", {.allow_address_literal = false})
                 .error()
                 .message},
    });
}

BOOST_AUTO_TEST_CASE(service_account_keys_parse_and_round_trip) {
    auto c = parse("user = \"pigeon\"\ngroup = \"mail-gw\"\n");
    BOOST_REQUIRE_MESSAGE(c, why(c));
    BOOST_TEST(c->user == "pigeon");
    BOOST_TEST(c->group == "mail-gw");
    BOOST_TEST(!c->allow_root);
    auto again = parse(config::to_toml(*c));
    BOOST_REQUIRE_MESSAGE(again, why(again));
    BOOST_TEST((*again == *c));
    auto root = parse("allow_root = true\n");
    BOOST_REQUIRE_MESSAGE(root, why(root));
    BOOST_TEST(root->allow_root);
    BOOST_TEST(root->user.empty());
    BOOST_TEST(parse(config::to_toml(*root))->allow_root);
    // The embedded default is a loopback demo that may run as root (scripts/run).
    BOOST_TEST(config::default_config("h.example").allow_root);
    BOOST_TEST(!parse("")->allow_root);
}

BOOST_AUTO_TEST_CASE(service_account_keys_are_checked) {
    check_errors({
        {"user = \"\"\n", "config.toml:1: user: must not be empty"},
        {"user = \"root\"\n", "config.toml:1: user: may not be root: name the unprivileged account to run as"},
        {"user = \"pi geon\"\n",
         "config.toml:1: user: \"pi geon\" is not a user or group name (letters, digits, '_', '-', '.'; at most 32)"},
        {"user = \"-x\"\n",
         "config.toml:1: user: \"-x\" is not a user or group name (letters, digits, '_', '-', '.'; at most 32)"},
        {"user = \"1000\"\n",
         "config.toml:1: user: \"1000\" is not a user or group name (letters, digits, '_', '-', '.'; at most 32)"},
        {"user = \"" + std::string(33, 'a') + "\"\n",
         "config.toml:1: user: \"" + std::string(33, 'a') +
             "\" is not a user or group name (letters, digits, '_', '-', '.'; at most 32)"},
        {"user = \"p\"\ngroup = \"root\"\n",
         "config.toml:2: group: may not be root: name the unprivileged account to run as"},
        {"\ngroup = \"mail\"\n",
         "config.toml:2: group: is set without user (the group applies to the service user)"},
        {"allow_root = \"yes\"\n", "config.toml:1: allow_root: must be true or false, not a string"},
    });
}

BOOST_AUTO_TEST_CASE(log_table_is_read) {
    const auto c = parse("[log]\nformat = \"json\"\ntarget = \"file\"\nfile = \"/var/log/pigeon/pigeon.log\"\n");
    BOOST_REQUIRE_MESSAGE(c, why(c));
    BOOST_TEST((c->log.format == config::LogFormat::json));
    BOOST_TEST((c->log.target == config::LogTarget::file));
    BOOST_TEST(c->log.file == "/var/log/pigeon/pigeon.log");
    BOOST_TEST(c->log.syslog_socket == "/dev/log");
    const auto d = parse("");
    BOOST_REQUIRE_MESSAGE(d, why(d));
    BOOST_TEST((d->log.format == config::LogFormat::text));
    BOOST_TEST((d->log.target == config::LogTarget::standard_error));
    const auto e = parse("[log]\ntarget = \"syslog\"\nsyslog_socket = \"/run/test.sock\"\n");
    BOOST_REQUIRE_MESSAGE(e, why(e));
    BOOST_TEST((e->log.target == config::LogTarget::syslog));
    BOOST_TEST(e->log.syslog_socket == "/run/test.sock");
}

BOOST_AUTO_TEST_CASE(log_table_is_checked) {
    check_errors({
        {"[log]\nformat = \"xml\"\n",
         "config.toml:2: log.format: \"xml\" is not one of \"text\", \"json\""},
        {"[log]\ntarget = \"journal\"\n",
         "config.toml:2: log.target: \"journal\" is not one of \"stderr\", \"syslog\", \"file\""},
        {"[log]\ntarget = \"file\"\n", "config.toml:1: log.file: required with log.target = \"file\""},
        {"[log]\nfile = \"\"\n", "config.toml:2: log.file: must not be empty"},
        {"[log]\nlevel = \"debug\"\n", "config.toml:2: log.level: unknown key"},
    });
}

BOOST_AUTO_TEST_CASE(limits_are_checked) {
    check_errors({
        {"[limits]\n\nmax_recipients = 99\n",
         "config.toml:3: limits.max_recipients: must be >= 100 (RFC 5321 4.5.3.1.8)"},
        {"[limits]\nmax_recipients = 100001\n",
         "config.toml:2: limits.max_recipients: must be <= 100000"},
        {"[limits]\nmax_message_octets = 65535\n",
         "config.toml:2: limits.max_message_octets: must be >= 65536 (RFC 5321 4.5.3.1.7: at "
         "least 64K octets of message content)"},
        {"[limits]\nmax_message_octets = 4294967297\n",
         "config.toml:2: limits.max_message_octets: must be <= 4294967296"},
        {"[limits]\nmax_connections = 0\n", "config.toml:2: limits.max_connections: must be >= 1"},
        {"[limits]\nmax_connections_per_ip = 0\n",
         "config.toml:2: limits.max_connections_per_ip: must be >= 1"},
        {"[limits]\ncommand_timeout_seconds = 0\n",
         "config.toml:2: limits.command_timeout_seconds: must be >= 1"},
        {"[limits]\ncommand_timeout_seconds = 86401\n",
         "config.toml:2: limits.command_timeout_seconds: must be <= 86400"},
        {"[limits]\ndata_block_timeout_seconds = 0\n",
         "config.toml:2: limits.data_block_timeout_seconds: must be >= 1"},
        {"[limits]\ndata_timeout_seconds = -5\n",
         "config.toml:2: limits.data_timeout_seconds: must be >= 1"},
        {"[limits]\nmax_errors_per_session = 0\n",
         "config.toml:2: limits.max_errors_per_session: must be >= 1"},
        {"[limits]\nauth_failures_per_ip_per_minute = 0\n",
         "config.toml:2: limits.auth_failures_per_ip_per_minute: must be >= 1"},
        {"[limits]\nshutdown_grace_seconds = 3601\n",
         "config.toml:2: limits.shutdown_grace_seconds: must be <= 3600"},
        {"[limits]\nipv6_prefix_bits = 0\n", "config.toml:2: limits.ipv6_prefix_bits: must be >= 1"},
        {"[limits]\n\nipv6_prefix_bits = 129\n",
         "config.toml:3: limits.ipv6_prefix_bits: must be <= 128"},
        {"[limits]\nipv6_prefix_bits = \"64\"\n",
         "config.toml:2: limits.ipv6_prefix_bits: must be an integer, not a string"},
        {"[limits]\nmax_connections = 10\nmax_connections_per_ip = 11\n",
         "config.toml:3: limits.max_connections_per_ip: must be <= limits.max_connections (10)"},
        {"[limits]\nmax_connections = 10\n",
         "config.toml:2: limits.max_connections_per_ip: must be <= limits.max_connections (10)"},
        {"[limits]\ndata_block_timeout_seconds = 300\ndata_timeout_seconds = 200\n",
         "config.toml:3: limits.data_timeout_seconds: must be >= "
         "limits.data_block_timeout_seconds (300): it bounds the whole transfer"},
    });
    // The bounds themselves are accepted.
    BOOST_TEST(parse("[limits]\nmax_recipients = 100\nmax_message_octets = 65536\n"
                     "shutdown_grace_seconds = 0\n").ok());
}

// The server-wide budgets (docs/security.md): the message memory must hold one message of the
// largest size; absent, it grows with max_message_octets.
BOOST_AUTO_TEST_CASE(resource_budgets_are_checked) {
    check_errors({
        {"[limits]\nmax_message_octets = 1048576\nmessage_memory_octets = 1048575\n",
         "config.toml:3: limits.message_memory_octets: must be >= limits.max_message_octets "
         "(1048576): else a message of the largest size could never be accepted"},
        {"[limits]\nmessage_memory_octets = 1000\n",
         "config.toml:2: limits.message_memory_octets: must be >= 65536"},
        {"[limits]\nspool_min_free_octets = -1\n",
         "config.toml:2: limits.spool_min_free_octets: must be >= 0"},
        {"[limits]\nmessage_spill_octets = -1\n",
         "config.toml:2: limits.message_spill_octets: must be >= 0"},
        {"[limits]\nmessage_spill_octets = \"1M\"\n",
         "config.toml:2: limits.message_spill_octets: must be an integer, not a string"},
        {"[limits]\nverify_threads = 1025\n", "config.toml:2: limits.verify_threads: must be <= 1024"},
        {"[limits]\nverify_cpu_seconds = 0\n", "config.toml:2: limits.verify_cpu_seconds: must be >= 1"},
    });
    const auto defaults = parse("");
    BOOST_REQUIRE(defaults.ok());
    BOOST_TEST(defaults->limits.message_memory_octets == config::defaults::message_memory_octets);
    BOOST_TEST(defaults->limits.spool_min_free_octets == config::defaults::spool_min_free_octets);
    BOOST_TEST(defaults->limits.verify_cpu_seconds == 5u);
    BOOST_TEST(defaults->limits.message_spill_octets == 1048576u);
    const auto big = parse("[limits]\nmax_message_octets = 1073741824\n");
    BOOST_REQUIRE(big.ok());
    BOOST_TEST(big->limits.message_memory_octets == 1073741824u);
    const auto set = parse("[limits]\nmessage_memory_octets = 65536\nmax_message_octets = 65536\n"
                           "spool_min_free_octets = 0\nverify_threads = 3\nverify_cpu_seconds = 1\n"
                           "message_spill_octets = 0\n");
    BOOST_REQUIRE(set.ok());
    BOOST_TEST(set->limits.message_memory_octets == 65536u);
    BOOST_TEST(set->limits.spool_min_free_octets == 0u);
    BOOST_TEST(set->limits.verify_threads == 3u);
    BOOST_TEST(set->limits.message_spill_octets == 0u);
    // show-config writes them back.
    const auto back = config::parse_config(config::to_toml(*set), "shown", "h");
    BOOST_REQUIRE(back.ok());
    BOOST_TEST((back->limits == set->limits));
}

BOOST_AUTO_TEST_CASE(tls_files_come_in_pairs) {
    check_errors({
        {"[tls]\ncert_file = \"c.pem\"\n",
         "config.toml:1: tls.key_file: must be set together with the other (leave both empty "
         "for a self-signed certificate)"},
        {"[tls]\nkey_file = \"k.pem\"\n",
         "config.toml:1: tls.cert_file: must be set together with the other (leave both empty "
         "for a self-signed certificate)"},
    });
    BOOST_TEST(parse("[tls]\ncert_file = \"\"\nkey_file = \"\"\n").value().tls.self_signed());
}

BOOST_AUTO_TEST_CASE(listeners_are_checked) {
    const std::string l0 = "[[listeners]]\naddress = \"127.0.0.1\"\nport = 2525\nrole = \"inbound\"\n";
    check_errors({
        {"listeners = []\n", "config.toml:1: listeners: must list at least one listener"},
        {"[[listeners]]\nport = 25\nrole = \"inbound\"\n",
         "config.toml:1: listeners[0].address: is required"},
        {"[[listeners]]\naddress = \"::\"\nrole = \"inbound\"\n",
         "config.toml:1: listeners[0].port: is required"},
        {"[[listeners]]\naddress = \"::\"\nport = 25\n",
         "config.toml:1: listeners[0].role: is required"},
        {"[[listeners]]\naddress = \"localhost\"\nport = 25\nrole = \"inbound\"\n",
         "config.toml:2: listeners[0].address: \"localhost\" is not an IPv4 or IPv6 address "
         "(use 0.0.0.0 or :: for all)"},
        {"[[listeners]]\naddress = \"::\"\nport = 0\nrole = \"inbound\"\n",
         "config.toml:3: listeners[0].port: must be >= 1"},
        {"[[listeners]]\naddress = \"::\"\nport = 65536\nrole = \"inbound\"\n",
         "config.toml:3: listeners[0].port: must be <= 65535"},
        {"[[listeners]]\naddress = \"::\"\nport = 25\nrole = \"relay\"\n",
         "config.toml:4: listeners[0].role: \"relay\" is not one of \"inbound\", \"submission\""},
        {"[[listeners]]\naddress = \"::\"\nport = 25\nrole = \"inbound\"\ntls = \"ssl\"\n",
         "config.toml:5: listeners[0].tls: \"ssl\" is not one of \"none\", \"starttls\", "
         "\"implicit\""},
        {"[[listeners]]\naddress = \"::\"\nport = 587\nrole = \"submission\"\ntls = \"none\"\n",
         "config.toml:5: listeners[0].tls: a submission listener needs \"starttls\" or "
         "\"implicit\": AUTH is only offered over TLS"},
        {l0 + "\n[[listeners]]\naddress = \"::1\"\nport = 2525\nrole = \"submission\"\n",
         "config.toml:8: listeners[1].port: 2525 is already used by listeners[0]"},
    });
}

BOOST_AUTO_TEST_CASE(users_are_checked) {
    const auto user = [](const std::string& address, const std::string& hash,
                         const std::string& extra = "") {
        return "[[users]]\naddress = \"" + address + "\"\npassword_hash = \"" + hash + "\"\n" +
               extra;
    };
    check_errors({
        {"[[users]]\npassword_hash = \"" + argon_hash + "\"\n",
         "config.toml:1: users[0].address: is required"},
        {"[[users]]\naddress = \"a@localhost\"\n",
         "config.toml:1: users[0].password_hash: is required"},
        {user("alice", argon_hash),
         "config.toml:2: users[0].address: \"alice\" is not an address (local@domain): " +
             pigeon::core::Mailbox::parse("alice").error().message},
        {user("alice@example.org", argon_hash),
         "config.toml:2: users[0].address: domain \"example.org\" is not in local_domains"},
        {user("a@localhost", argon_hash) + user("a@LOCALHOST", bcrypt_hash),
         "config.toml:5: users[1].address: \"a@LOCALHOST\" is the same address as "
         "users[0].address \"a@localhost\" (line 2; addresses match ignoring case): two users would share one "
         "mailbox"},
        {user("a@localhost", "hunter2"),
         "config.toml:3: users[0].password_hash: must be an Argon2id ($argon2id$...) or bcrypt "
         "($2a$ / $2b$) hash; make one with `pigeon passwd`"},
        {user("a@localhost", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
         "config.toml:3: users[0].password_hash: must be an Argon2id ($argon2id$...) or bcrypt "
         "($2a$ / $2b$) hash; make one with `pigeon passwd`"},
        {user("a@localhost", "$2y$10$39YdZfDeWMOxbNIwtSkxqObgvvtppYJqD1v5RoaOKheEJgwRVPnEO"),
         "config.toml:3: users[0].password_hash: must be an Argon2id ($argon2id$...) or bcrypt "
         "($2a$ / $2b$) hash; make one with `pigeon passwd`"},
        {user("a@localhost", "$argon2id$v=19$m=19456$c2FsdA$aGFzaA"),
         "config.toml:3: users[0].password_hash: malformed Argon2id hash (expected "
         "$argon2id$v=19$m=...,t=...,p=...$salt$hash)"},
        {user("a@localhost", "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdA$aGFzaA"),
         "config.toml:3: users[0].password_hash: Argon2id parameters out of range (m "
         "8..1048576 KiB, t 1..64, p 1..16)"},
        {user("a@localhost", "$2b$10$tooshort"),
         "config.toml:3: users[0].password_hash: malformed bcrypt hash (expected $2b$NN$ and 53 "
         "characters of salt and hash)"},
        {user("a@localhost", "$2b$31$39YdZfDeWMOxbNIwtSkxqObgvvtppYJqD1v5RoaOKheEJgwRVPnEO"),
         "config.toml:3: users[0].password_hash: bcrypt cost must be between 04 and 16"},
        {user("a@localhost", argon_hash, "aliases = [\"b@localhost\", \"nope\"]\n"),
         "config.toml:4: users[0].aliases[1]: \"nope\" is not an address (local@domain): " +
             pigeon::core::Mailbox::parse("nope").error().message},
        {user("a@localhost", argon_hash, "aliases = [\"b@x.example\",\n  \"b@X.example\"]\n"),
         "config.toml:5: users[0].aliases[1]: \"b@X.example\" is the same address as "
         "users[0].aliases[0] \"b@x.example\" (line 4; addresses match ignoring case): listed twice"},
        {user("a@localhost", argon_hash, "aliases = [\"a@localhost\"]\n"),
         "config.toml:4: users[0].aliases[0]: \"a@localhost\" is the same address as "
         "users[0].address \"a@localhost\" (line 2; addresses match ignoring case): an alias is not the user's own "
         "address"},
        {user("a@localhost", argon_hash, "aliases = [\"b@localhost\"]\n") +
             user("b@localhost", bcrypt_hash),
         "config.toml:4: users[0].aliases[0]: \"b@localhost\" is the same address as "
         "users[1].address \"b@localhost\" (line 6; addresses match ignoring case): one user may not receive or "
         "send as another"},
    });
    // $2a$ is accepted as well as $2b$.
    BOOST_TEST(parse(user("a@localhost",
                          "$2a$10$39YdZfDeWMOxbNIwtSkxqObgvvtppYJqD1v5RoaOKheEJgwRVPnEO")).ok());
}

BOOST_AUTO_TEST_CASE(delivery_discard_parses_and_round_trips) {
    const auto empty = parse("");
    BOOST_REQUIRE_MESSAGE(empty.ok(), why(empty));
    BOOST_TEST(empty.value().delivery.discard.empty());

    const auto r = parse(
        "local_domains = [\"example.org\", \"bench.test\"]\n"
        "[[users]]\naddress = \"alice@example.org\"\npassword_hash = \"" + argon_hash + "\"\n"
        "aliases = [\"sales@example.org\"]\n"
        "[delivery]\ndiscard = [\"noreply@example.org\", \"Sink@Bench.Test\"]\n");
    BOOST_REQUIRE_MESSAGE(r.ok(), why(r));
    const Config& c = r.value();
    BOOST_TEST((c.delivery.discard == std::vector<std::string>{"noreply@example.org", "Sink@Bench.Test"}));

    // show-config prints the key, and what it prints reads back to the same configuration.
    const std::string text = config::to_toml(c);
    BOOST_TEST(text.find("\n[delivery]\ndiscard = [\"noreply@example.org\", \"Sink@Bench.Test\"]") !=
                   std::string::npos,
               text);
    const auto back = config::parse_config(text, "shown");
    BOOST_REQUIRE_MESSAGE(back.ok(), why(back));
    BOOST_TEST((back.value() == c));
    // And the empty list too.
    BOOST_TEST(config::to_toml(empty.value()).find("\n[delivery]\ndiscard = []") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(delivery_discard_errors_name_the_key) {
    const std::string alice = "[[users]]\naddress = \"alice@localhost\"\npassword_hash = \"" +
                              argon_hash + "\"\naliases = [\"sales@localhost\"]\n";
    check_errors({
        {"[delivery]\ndiscard = [\"noreply@example.org\"]\n",
         "config.toml:2: delivery.discard[0]: domain \"example.org\" is not in local_domains"},
        {"[delivery]\ndiscard = [\"a@localhost\",\n  \"b@localhost\",\n  \"A@LocalHost\"]\n",
         "config.toml:4: delivery.discard[2]: \"A@LocalHost\" is the same address as "
         "delivery.discard[0] \"a@localhost\" (line 2; addresses match ignoring case): listed twice"},
        {alice + "[delivery]\ndiscard = [\"Alice@localhost\"]\n",
         "config.toml:6: delivery.discard[0]: \"Alice@localhost\" is the same address as "
         "users[0].address \"alice@localhost\" (line 2; addresses match ignoring case): an address is either a "
         "mailbox or discarded"},
        {alice + "[delivery]\ndiscard = [\"x@localhost\", \"sales@localhost\"]\n",
         "config.toml:6: delivery.discard[1]: \"sales@localhost\" is the same address as "
         "users[0].aliases[0] \"sales@localhost\" (line 4; addresses match ignoring case): an address is either a "
         "mailbox or discarded"},
        {"[delivery]\ndiscard = [\"PostMaster@localhost\"]\n",
         "config.toml:2: delivery.discard[0]: \"PostMaster@localhost\" may not be discarded: mail "
         "to postmaster must reach a person (RFC 5321 4.5.1)"},
        {"[delivery]\ndiscard = [\"noreply\"]\n",
         "config.toml:2: delivery.discard[0]: \"noreply\" is not an address (local@domain): " +
             pigeon::core::Mailbox::parse("noreply").error().message},
        {"[delivery]\ndiscard = \"noreply@localhost\"\n",
         "config.toml:2: delivery.discard: must be an array, not a string"},
        {"[delivery]\ndiscard = [1]\n",
         "config.toml:2: delivery.discard[0]: must be a string, not an integer"},
        {"[delivery]\ndiscrad = []\n",
         "config.toml:2: delivery.discrad: unknown key (did you mean 'discard'?)"},
        {"delivery = 3\n", "config.toml:1: delivery: must be a table, not an integer"},
    });
}

// Issue 13, item 4: users' addresses, aliases and discard addresses are one set compared
// ignoring case, as policy::Directory matches them; every pair of kinds is refused with both
// entries named.
BOOST_AUTO_TEST_CASE(addresses_are_one_case_insensitive_set) {
    const std::string head = "local_domains = [\"example.org\"]\n";  // line 1
    // A user takes 3 lines ([[users]], address, password_hash), 4 with aliases.
    const auto user = [](const std::string& address, const std::string& aliases = "") {
        return "[[users]]\naddress = \"" + address + "\"\npassword_hash = \"" + argon_hash +
               "\"\n" + (aliases.empty() ? "" : "aliases = [" + aliases + "]\n");
    };
    const std::string same = " (line ";
    const std::string ignoring = "; addresses match ignoring case): ";
    check_errors({
        // user / user: one Maildir for two logins.
        {head + user("Carol@example.org") + user("carol@example.org"),
         "config.toml:6: users[1].address: \"carol@example.org\" is the same address as "
         "users[0].address \"Carol@example.org\"" + same + "3" + ignoring +
             "two users would share one mailbox"},
        // user / alias, the alias first: reported at the alias (the review's alice and bob).
        {head + user("alice@example.org", "\"Bob@example.org\"") + user("bob@example.org"),
         "config.toml:5: users[0].aliases[0]: \"Bob@example.org\" is the same address as "
         "users[1].address \"bob@example.org\"" + same + "7" + ignoring +
             "one user may not receive or send as another"},
        // user / alias, the user first.
        {head + user("bob@example.org") + user("alice@example.org", "\"BOB@Example.org\""),
         "config.toml:8: users[1].aliases[0]: \"BOB@Example.org\" is the same address as "
         "users[0].address \"bob@example.org\"" + same + "3" + ignoring +
             "one user may not receive or send as another"},
        // alias / alias of two users, local or remote.
        {head + user("alice@example.org", "\"Sales@example.org\"") +
             user("bob@example.org", "\"sales@EXAMPLE.org\""),
         "config.toml:9: users[1].aliases[0]: \"sales@EXAMPLE.org\" is the same address as "
         "users[0].aliases[0] \"Sales@example.org\"" + same + "5" + ignoring +
             "two users may not share an alias (it would receive for one, send as both)"},
        {head + user("alice@example.org", "\"news@Lists.example\"") +
             user("bob@example.org", "\"NEWS@lists.example\""),
         "config.toml:9: users[1].aliases[0]: \"NEWS@lists.example\" is the same address as "
         "users[0].aliases[0] \"news@Lists.example\"" + same + "5" + ignoring +
             "two users may not share an alias (it would receive for one, send as both)"},
        // alias / alias of one user.
        {head + user("alice@example.org", "\"a@example.org\", \"A@example.org\""),
         "config.toml:5: users[0].aliases[1]: \"A@example.org\" is the same address as "
         "users[0].aliases[0] \"a@example.org\"" + same + "5" + ignoring + "listed twice"},
        // alias of self.
        {head + user("alice@example.org", "\"ALICE@example.org\""),
         "config.toml:5: users[0].aliases[0]: \"ALICE@example.org\" is the same address as "
         "users[0].address \"alice@example.org\"" + same + "3" + ignoring +
             "an alias is not the user's own address"},
        // discard / user, discard / alias, discard / discard.
        {head + user("alice@example.org") + "[delivery]\ndiscard = [\"ALICE@example.org\"]\n",
         "config.toml:6: delivery.discard[0]: \"ALICE@example.org\" is the same address as "
         "users[0].address \"alice@example.org\"" + same + "3" + ignoring +
             "an address is either a mailbox or discarded"},
        {head + user("alice@example.org", "\"Sales@example.org\"") +
             "[delivery]\ndiscard = [\"sales@example.org\"]\n",
         "config.toml:7: delivery.discard[0]: \"sales@example.org\" is the same address as "
         "users[0].aliases[0] \"Sales@example.org\"" + same + "5" + ignoring +
             "an address is either a mailbox or discarded"},
        {head + "[delivery]\ndiscard = [\"noreply@example.org\", \"NoReply@example.org\"]\n",
         "config.toml:3: delivery.discard[1]: \"NoReply@example.org\" is the same address as "
         "delivery.discard[0] \"noreply@example.org\"" + same + "3" + ignoring + "listed twice"},
        // [delivery] before [[users]] in the file: users are read first, the discard is named.
        {head + "[delivery]\ndiscard = [\"Alice@example.org\"]\n" + user("alice@example.org"),
         "config.toml:3: delivery.discard[0]: \"Alice@example.org\" is the same address as "
         "users[0].address \"alice@example.org\"" + same + "5" + ignoring +
             "an address is either a mailbox or discarded"},
    });
    // Addresses that differ in more than case stay apart.
    const auto ok = parse(head + user("alice@example.org", "\"alice@example.net\", \"alice+x@example.org\"") +
                          user("bob@example.org", "\"bob@example.net\"") +
                          "[delivery]\ndiscard = [\"alice.noreply@example.org\"]\n");
    BOOST_TEST(ok.ok(), why(ok));
}

BOOST_AUTO_TEST_CASE(load_config_reports_unreadable_files) {
    const auto missing = config::load_config("/nonexistent/pigeon.toml");
    BOOST_REQUIRE(!missing.ok());
    BOOST_TEST(missing.error().message ==
               "/nonexistent/pigeon.toml: cannot read the configuration: No such file or directory");
    const auto dir = config::load_config("/tmp");
    BOOST_REQUIRE(!dir.ok());
    BOOST_TEST(dir.error().message == "/tmp: cannot read the configuration: is a directory");
}

BOOST_AUTO_TEST_CASE(outbound_section_parses_and_round_trips) {
    const auto r = parse(
        "[outbound]\n"
        "mx_port = 2526\n"
        "dane = false\n"
        "first_retry_seconds = 60\n"
        "max_retry_interval_seconds = 600\n"
        "delay_warning_seconds = 0\n"
        "[outbound.relayhost]\n"
        "host = \"Smtp.Example.NET\"\n"
        "port = 587\n"
        "tls = \"required\"\n"
        "username = \"me@example.net\"\n"
        "password_file = \"/etc/pigeon/relay-password\"\n"
        "[[outbound.routes]]\n"
        "domain = \"Peer.TEST\"\n"
        "host = \"127.0.0.1\"\n"
        "port = 2600\n"
        "tls = \"none\"\n"
        "[[outbound.routes]]\n"
        "domain = \"partner.test\"\n"
        "host = \"mx.partner.test\"\n"
        "tls = \"verify\"\n"
        "ca_file = \"/etc/pigeon/partner-ca.pem\"\n");
    BOOST_REQUIRE_MESSAGE(r.ok(), why(r));
    const auto& o = r.value().outbound;
    BOOST_TEST(o.enabled);
    BOOST_TEST(o.mx_port == 2526);
    BOOST_TEST(!o.dane);
    BOOST_TEST(o.first_retry_seconds == 60u);
    BOOST_TEST(o.max_retry_interval_seconds == 600u);
    BOOST_TEST(o.delay_warning_seconds == 0u);
    BOOST_TEST(o.give_up_after_seconds == 5u * 24 * 3600);
    BOOST_REQUIRE(o.relayhost.size() == 1u);
    BOOST_TEST(o.relayhost[0].host == "smtp.example.net");
    BOOST_TEST(o.relayhost[0].port == 587);
    BOOST_TEST((o.relayhost[0].tls == config::OutboundTls::required));
    BOOST_TEST(o.relayhost[0].username == "me@example.net");
    BOOST_REQUIRE(o.routes.size() == 2u);
    BOOST_TEST((o.routes[1].to.tls == config::OutboundTls::verify));
    BOOST_TEST(o.routes[1].to.ca_file == "/etc/pigeon/partner-ca.pem");
    BOOST_TEST(o.routes[0].domain == "peer.test");
    BOOST_TEST(o.routes[0].to.host == "127.0.0.1");
    BOOST_TEST(o.routes[0].to.port == 2600);
    BOOST_TEST((o.routes[0].to.tls == config::OutboundTls::none));
    const auto back = config::parse_config(config::to_toml(r.value()), "round-trip");
    BOOST_REQUIRE_MESSAGE(back.ok(), why(back));
    BOOST_TEST((back.value() == r.value()));
}

BOOST_AUTO_TEST_CASE(dns_stub_zones_parse_round_trip_and_are_checked) {
    const auto r = parse(
        "[[dns.stub_zones]]\nzone = \"Dane.Test\"\naddresses = [\"127.0.0.1@5353\", \"::1\"]\n");
    BOOST_REQUIRE_MESSAGE(r.ok(), why(r));
    const auto& z = r.value().dns.stub_zones;
    BOOST_REQUIRE_EQUAL(z.size(), 1u);
    BOOST_TEST(z[0].zone == "dane.test");
    BOOST_TEST((z[0].addresses == std::vector<std::string>{"127.0.0.1@5353", "::1"}));
    const auto back = config::parse_config(config::to_toml(r.value()), "round-trip");
    BOOST_REQUIRE_MESSAGE(back.ok(), why(back));
    BOOST_TEST((back.value() == r.value()));
    check_errors({
        {"[[dns.stub_zones]]\naddresses = [\"127.0.0.1\"]\n",
         "config.toml:1: dns.stub_zones[0].zone: is required"},
        {"[[dns.stub_zones]]\nzone = \"a.test\"\naddresses = []\n",
         "config.toml:3: dns.stub_zones[0].addresses: must name at least one server"},
        {"[[dns.stub_zones]]\nzone = \"a.test\"\naddresses = [\"ns.a.test\"]\n",
         "config.toml:3: dns.stub_zones[0].addresses[0]: \"ns.a.test\" is not an IP address, "
         "optionally with @port"},
    });
}

// The [outbound] retry defaults are the queue's own (docs/queue.md describes one schedule).
BOOST_AUTO_TEST_CASE(outbound_retry_defaults_are_the_queues) {
    const config::OutboundSettings o;
    const pigeon::queue::RetryPolicy p;
    BOOST_TEST(o.first_retry_seconds == p.first_retry_seconds);
    BOOST_TEST(o.max_retry_interval_seconds == p.max_retry_interval_seconds);
    BOOST_TEST(o.give_up_after_seconds == p.give_up_after_seconds);
    BOOST_TEST(o.delay_warning_seconds == p.delay_warning_after_seconds);
}

BOOST_AUTO_TEST_CASE(outbound_errors_name_the_key) {
    check_errors({
        {"[outbound]\nmx_port = 0\n", "config.toml:2: outbound.mx_port: must be >= 1"},
        {"[outbound]\nretry = 5\n", "config.toml:2: outbound.retry: unknown key"},
        {"[outbound]\nfirst_retry_seconds = 900\nmax_retry_interval_seconds = 600\n",
         "config.toml:3: outbound.max_retry_interval_seconds: must be >= "
         "outbound.first_retry_seconds (900)"},
        {"[outbound.relayhost]\nport = 25\n",
         "config.toml:1: outbound.relayhost.host: is required"},
        {"[outbound.relayhost]\nhost = \"bad host\"\n",
         "config.toml:2: outbound.relayhost.host: \"bad host\" is neither a host name nor an IP "
         "address"},
        {"[outbound.relayhost]\nhost = \"a.example\"\ntls = \"maybe\"\n",
         "config.toml:3: outbound.relayhost.tls: \"maybe\" is not one of \"none\", "
         "\"opportunistic\", \"required\", \"verify\""},
        {"[outbound.relayhost]\nhost = \"a.example\"\ntls = \"required\"\nca_file = \"/ca.pem\"\n",
         "config.toml:4: outbound.relayhost.ca_file: only goes with tls = \"verify\""},
        {"[outbound.relayhost]\nhost = \"a.example\"\ntls = \"verify\"\nca_file = \"\"\n",
         "config.toml:4: outbound.relayhost.ca_file: must not be empty"},
        {"[outbound.relayhost]\nhost = \"192.0.2.1\"\ntls = \"verify\"\n",
         "config.toml:2: outbound.relayhost.host: must be a host name with tls = \"verify\": the "
         "certificate names a host"},
        {"[outbound.relayhost]\nhost = \"a.example\"\nusername = \"u\"\n",
         "config.toml:1: outbound.relayhost.password_file: username and password_file go together"},
        {"[outbound.relayhost]\nhost = \"a.example\"\ntls = \"none\"\nusername = \"u\"\n"
         "password_file = \"/p\"\n",
         "config.toml:1: outbound.relayhost.tls: must not be \"none\" with a username: "
         "credentials are only sent over TLS"},
        {"[[outbound.routes]]\nhost = \"127.0.0.1\"\n",
         "config.toml:1: outbound.routes[0].domain: is required"},
        {"[[outbound.routes]]\ndomain = \"a.test\"\nhost = \"127.0.0.1\"\n"
         "[[outbound.routes]]\ndomain = \"a.test\"\nhost = \"127.0.0.2\"\n",
         "config.toml:5: outbound.routes[1].domain: \"a.test\" has a route already"},
    });
}

// Issue 13: a password goes to a certificate that was checked unless the file says otherwise.
BOOST_AUTO_TEST_CASE(a_password_implies_tls_verify_and_a_weaker_mode_is_warned_about) {
    const std::string creds = "username = \"me@example.net\"\npassword_file = \"/etc/pigeon/relay-password\"\n";
    auto r = parse("[outbound.relayhost]\nhost = \"smtp.example.net\"\nport = 587\n" + creds);
    BOOST_REQUIRE_MESSAGE(r.ok(), why(r));
    BOOST_TEST((r.value().outbound.relayhost[0].tls == config::OutboundTls::verify));
    BOOST_TEST(config::credential_warnings(r.value()).empty());
    // Without credentials the default stays opportunistic.
    r = parse("[outbound.relayhost]\nhost = \"smtp.example.net\"\n");
    BOOST_REQUIRE_MESSAGE(r.ok(), why(r));
    BOOST_TEST((r.value().outbound.relayhost[0].tls == config::OutboundTls::opportunistic));
    // An IP address cannot be verified: the file must choose.
    r = parse("[outbound.relayhost]\nhost = \"192.0.2.1\"\n" + creds);
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST(why(r) == "config.toml:2: outbound.relayhost.host: must be a host name: with a password_file, tls "
                         "defaults to \"verify\" and the certificate names a host (set tls explicitly to send the "
                         "password unverified)");
    // Explicitly weaker: accepted, with a warning naming the key.
    r = parse("[outbound.relayhost]\nhost = \"192.0.2.1\"\ntls = \"required\"\n" + creds +
              "[[outbound.routes]]\ndomain = \"a.test\"\nhost = \"mx.a.test\"\n" + creds +
              "[[outbound.routes]]\ndomain = \"b.test\"\nhost = \"mx.b.test\"\ntls = \"opportunistic\"\n" + creds);
    BOOST_REQUIRE_MESSAGE(r.ok(), why(r));
    const auto warnings = config::credential_warnings(r.value());
    BOOST_REQUIRE(warnings.size() == 2u);
    BOOST_TEST(warnings[0] == "outbound.relayhost.tls = \"required\": the password for me@example.net goes to "
                              "192.0.2.1 over TLS whose certificate is not checked; anyone on the path can take it "
                              "(tls = \"verify\" checks it)");
    BOOST_TEST(warnings[1].starts_with("outbound.routes[1].tls = \"opportunistic\": the password for me@example.net"));
    BOOST_TEST((r.value().outbound.routes[0].to.tls == config::OutboundTls::verify));
    // The written file names the mode, so it reads back the same (and warns the same).
    const auto back = config::parse_config(config::to_toml(r.value()), "round-trip");
    BOOST_REQUIRE_MESSAGE(back.ok(), why(back));
    BOOST_TEST((back.value() == r.value()));
    BOOST_TEST(config::credential_warnings(back.value()) == warnings);
}

BOOST_AUTO_TEST_CASE(to_toml_escapes_strings) {
    Config c = config::default_config("mx.example");
    c.create_demo_user = false;
    c.state_dir = "dir with \"quotes\", \\backslash\\, tab\t, newline\n, \x01, \x7f and caf\xC3\xA9";
    c.tls = {"c\"ert.pem", "k\\ey.pem"};
    const auto back = config::parse_config(config::to_toml(c), "round-trip");
    BOOST_REQUIRE_MESSAGE(back.ok(), why(back));
    BOOST_TEST((back.value() == c));
}

// ---- the law: to_toml then parse_config is the identity on valid configurations ------------

namespace {

rc::Gen<std::string> gen_text() {
    static const std::vector<std::string> pieces = {
        "a", "Z", "0", "/", ".", " ", "-", "\"", "\\", "\t", "\n", "\x01", "\x7f",
        "caf\xC3\xA9", "\xE6\x97\xA5", "'", "#", "=", "[", "]"};
    return rc::gen::map(rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(pieces)),
                        [](const std::vector<std::string>& parts) {
                            std::string s;
                            for (const auto& p : parts) s += p;
                            return s;
                        });
}

rc::Gen<std::uint32_t> in(std::uint64_t lo, std::uint64_t hi) {
    return rc::gen::cast<std::uint32_t>(rc::gen::inRange<std::uint64_t>(lo, hi + 1));
}

rc::Gen<Config> gen_config() {
    return rc::gen::exec([] {
        static const std::vector<std::string> domains = {"example.org", "Example.NET", "mx.test",
                                                          "localhost", "a-b.c0.example"};
        static const std::vector<std::string> addresses = {"127.0.0.1", "0.0.0.0", "::", "::1",
                                                            "192.0.2.7", "2001:db8::25"};
        static const std::vector<std::string> hashes = {
            argon_hash, bcrypt_hash, "$2a$04$V7zPhUS7Hrr8OZmga2UGLeGfTGueLUsWX3qwXUHBnrrr9YewUAaMm"};
        static const std::vector<std::string> locals = {"alice", "bob", "c.d", "e+f", "Alice"};
        Config c;
        c.hostname = *rc::gen::elementOf(domains);
        c.local_domains = *rc::gen::unique<std::vector<std::string>>(
            *rc::gen::inRange<std::size_t>(1, 4),
            rc::gen::elementOf(std::vector<std::string>{"example.org", "mx.test", "localhost"}));
        c.state_dir = *rc::gen::nonEmpty(gen_text());
        c.log_level = *rc::gen::element(LogLevel::error, LogLevel::warn, LogLevel::info,
                                        LogLevel::debug);
        c.threads = *rc::gen::inRange(0u, 1025u);
        c.log.format = *rc::gen::element(config::LogFormat::text, config::LogFormat::json);
        c.log.target = *rc::gen::element(config::LogTarget::standard_error, config::LogTarget::syslog,
                                         config::LogTarget::file);
        if (c.log.target == config::LogTarget::file) c.log.file = *rc::gen::nonEmpty(gen_text());
        if (*rc::gen::arbitrary<bool>()) c.tls = {*rc::gen::nonEmpty(gen_text()),
                                                  *rc::gen::nonEmpty(gen_text())};

        const auto ports = *rc::gen::unique<std::vector<std::uint16_t>>(
            *rc::gen::inRange<std::size_t>(0, 6), rc::gen::inRange<std::uint16_t>(1, 65535));
        for (std::uint16_t port : ports) {
            config::Listener l;
            l.address = *rc::gen::elementOf(addresses);
            l.port = port;
            l.role = *rc::gen::element(Role::inbound, Role::submission);
            l.tls = l.role == Role::submission
                        ? *rc::gen::element(TlsMode::starttls, TlsMode::implicit)
                        : *rc::gen::element(TlsMode::none, TlsMode::starttls, TlsMode::implicit);
            c.listeners.push_back(l);
        }
        if (c.listeners.empty()) c.listeners = config::default_listeners();

        // Users: addresses in local domains, distinct ignoring case (as the reader requires);
        // aliases outside them, in a domain of their user's own, so never another user's
        // address or alias.
        const auto lower = [](const std::string& t) { return pigeon::core::ascii_lower(t); };
        const auto names = *rc::gen::uniqueBy<std::vector<std::string>>(
            *rc::gen::inRange<std::size_t>(0, 5), rc::gen::elementOf(locals), lower);
        for (std::size_t i = 0; i < names.size(); ++i) {
            config::User u;
            u.address = names[i] + "@" + *rc::gen::elementOf(c.local_domains);
            u.password_hash = *rc::gen::elementOf(hashes);
            const std::string alias_domain = "@alias" + std::to_string(i) + ".example";
            u.aliases = *rc::gen::uniqueBy<std::vector<std::string>>(
                *rc::gen::inRange<std::size_t>(0, 5), rc::gen::map(
                rc::gen::elementOf(locals), [&](const std::string& l) { return l + alias_domain; }),
                lower);
            c.users.push_back(u);
        }
        // Discard addresses: local parts no user has, in the local domains.
        c.delivery.discard = *rc::gen::unique<std::vector<std::string>>(
            *rc::gen::inRange<std::size_t>(0, 4),
            rc::gen::map(rc::gen::pair(rc::gen::elementOf(std::vector<std::string>{
                                           "noreply", "sink", "No-Reply", "bench.1"}),
                                       rc::gen::elementOf(c.local_domains)),
                         [](const std::pair<std::string, std::string>& p) {
                             return p.first + "@" + p.second;
                         }));

        config::Limits& l = c.limits;
        l.max_connections = *in(1, config::bounds::max_connections);
        l.max_connections_per_ip = *in(1, l.max_connections);
        l.command_timeout_seconds = *in(1, config::bounds::max_timeout_seconds);
        l.data_block_timeout_seconds = *in(1, config::bounds::max_timeout_seconds);
        l.data_timeout_seconds = *in(l.data_block_timeout_seconds, config::bounds::max_timeout_seconds);
        l.max_message_octets = *rc::gen::inRange<std::uint64_t>(config::bounds::min_message_octets,
                                                                config::bounds::max_message_octets + 1);
        l.max_recipients = *in(config::bounds::min_recipients, config::bounds::max_recipients);
        l.max_errors_per_session = *in(1, config::bounds::max_errors_per_session);
        l.auth_failures_per_ip_per_minute = *in(1, config::bounds::max_auth_failures_per_minute);
        l.shutdown_grace_seconds = *in(0, config::bounds::max_shutdown_grace_seconds);
        l.message_memory_octets = *rc::gen::inRange<std::uint64_t>(l.max_message_octets,
                                                                   config::bounds::max_memory_octets + 1);
        l.spool_min_free_octets = *rc::gen::inRange<std::uint64_t>(0, config::bounds::max_memory_octets + 1);
        l.message_spill_octets = *rc::gen::inRange<std::uint64_t>(0, config::bounds::max_memory_octets + 1);
        l.verify_threads = *in(0, config::bounds::max_threads);
        l.verify_cpu_seconds = *in(1, config::bounds::max_verify_cpu_seconds);
        l.ipv6_prefix_bits =
            *in(config::bounds::min_ipv6_prefix_bits, config::bounds::max_ipv6_prefix_bits);
        return c;
    });
}

}  // namespace

RC_BOOST_PROP(to_toml_round_trips, ()) {
    const Config c = *gen_config();
    const std::string text = config::to_toml(c);
    const auto back = config::parse_config(text, "generated");
    RC_LOG() << text;
    RC_ASSERT(back.ok());
    RC_ASSERT(back.value() == c);
}

// Live reload (config/reload.hpp): what applies, what waits for a restart.
RC_BOOST_PROP(reload_applies_all_but_the_restart_only_keys, ()) {
    const Config running = *gen_config();
    const Config next = *gen_config();
    const config::ReloadPlan plan = config::plan_reload(running, next);
    // Nothing needs a restart exactly when everything of the new file applies.
    RC_ASSERT(plan.needs_restart.empty() == (plan.effective == next));
    // The effective configuration agrees with the running one on every restart-only key...
    RC_ASSERT(config::plan_reload(running, plan.effective).needs_restart.empty());
    RC_ASSERT(plan.effective.listeners == running.listeners);
    RC_ASSERT(plan.effective.hostname == running.hostname);
    RC_ASSERT(plan.effective.limits.verify_threads == running.limits.verify_threads);
    // ...and takes the rest from the new file.
    RC_ASSERT(plan.effective.users == next.users);
    RC_ASSERT(plan.effective.local_domains == next.local_domains);
    RC_ASSERT(plan.effective.tls == next.tls);
    RC_ASSERT(plan.effective.spf == next.spf);
    RC_ASSERT(plan.effective.dmarc == next.dmarc);
    RC_ASSERT(plan.effective.limits.max_recipients == next.limits.max_recipients);
    RC_ASSERT(plan.effective.limits.command_timeout_seconds == next.limits.command_timeout_seconds);
    RC_ASSERT(plan.effective.auth == next.auth);
}

BOOST_AUTO_TEST_CASE(reload_applies_auth_dovecot_live) {
    const Config running = config::default_config("mx.example");
    Config next = running;
    next.auth.dovecot = "unix:/run/dovecot/auth-client";
    next.auth.dovecot_timeout_seconds = 7;
    const config::ReloadPlan plan = config::plan_reload(running, next);
    BOOST_TEST(plan.needs_restart.empty());
    BOOST_TEST((plan.effective.auth == next.auth));
}

BOOST_AUTO_TEST_CASE(reload_names_each_restart_only_key) {
    const Config running = config::default_config("mx.example");
    Config next = running;
    next.listeners[0].port = 2626;
    next.limits.verify_threads = 3;
    next.limits.max_recipients = 500;
    next.users.push_back(config::User{"new@localhost", "$argon2id$x", {}});
    const config::ReloadPlan plan = config::plan_reload(running, next);
    BOOST_TEST((plan.needs_restart == std::vector<std::string>{"listeners", "limits.verify_threads"}));
    BOOST_TEST(plan.effective.listeners[0].port == running.listeners[0].port);
    BOOST_TEST(plan.effective.limits.verify_threads == running.limits.verify_threads);
    BOOST_TEST(plan.effective.limits.max_recipients == 500u);
    BOOST_TEST(plan.effective.users.size() == 1u);
    BOOST_TEST(config::plan_reload(running, running).needs_restart.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sendmail_section)

BOOST_AUTO_TEST_CASE(sendmail_parses_round_trips_and_names_bad_keys) {
    const std::string text = "local_domains = [\"example.org\"]\n[sendmail]\nsocket = \"/run/pigeon/sendmail.sock\"\n"
                             "domain = \"example.org\"\ntrusted_users = [\"root\", \"deploy\"]\n"
                             "[sendmail.addresses]\n\"www-data\" = \"web@example.org\"\n";
    auto c = config::parse_config(text, "s.toml", "mx.example.org");
    BOOST_REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
    BOOST_TEST(c->sendmail.socket == "/run/pigeon/sendmail.sock");
    BOOST_TEST(c->sendmail.domain == "example.org");
    BOOST_TEST(c->sendmail.trusted_users == (std::vector<std::string>{"root", "deploy"}));
    BOOST_REQUIRE(c->sendmail.addresses.size() == 1u);
    BOOST_TEST(c->sendmail.addresses[0].address == "web@example.org");
    auto back = config::parse_config(config::to_toml(*c), "round-trip", "mx.example.org");
    BOOST_REQUIRE_MESSAGE(back.ok(), (back.ok() ? "" : back.error().message));
    BOOST_TEST((back->sendmail == c->sendmail));
    BOOST_TEST(config::default_config("mx.example.org").sendmail.socket.empty());

    auto relative = config::parse_config("[sendmail]\nsocket = \"run/s.sock\"\n", "s.toml", "mx.example.org");
    BOOST_REQUIRE(!relative.ok());
    BOOST_TEST(relative.error().message == "s.toml:2: sendmail.socket: must be an absolute path");
    auto bad = config::parse_config("[sendmail.addresses]\nroot = \"not an address\"\n", "s.toml", "mx.example.org");
    BOOST_REQUIRE(!bad.ok());
    BOOST_TEST(bad.error().message.find("s.toml:2: sendmail.addresses.root") == 0u);
    auto typo = config::parse_config("[sendmail]\nsockets = \"/x\"\n", "s.toml", "mx.example.org");
    BOOST_REQUIRE(!typo.ok());
    BOOST_TEST(typo.error().message.find("did you mean 'socket'") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

// [auth] dovecot: "unix:/path" or an IP address and port; the timeouts bounded; round trip.
BOOST_AUTO_TEST_SUITE(auth_section)

BOOST_AUTO_TEST_CASE(off_by_default_and_parses_both_forms) {
    BOOST_TEST(parse("")->auth.dovecot.empty());
    const auto u = parse("[auth]\ndovecot = \"unix:/run/dovecot/auth-client\"\n");
    BOOST_REQUIRE(u);
    BOOST_TEST(u->auth.dovecot == "unix:/run/dovecot/auth-client");
    BOOST_TEST(u->auth.dovecot_connect_timeout_seconds == config::defaults::dovecot_connect_timeout_seconds);
    BOOST_TEST(u->auth.dovecot_timeout_seconds == config::defaults::dovecot_timeout_seconds);
    const auto t = parse("[auth]\ndovecot = \"[::1]:12345\"\ndovecot_connect_timeout_seconds = 2\n"
                         "dovecot_timeout_seconds = 9\n");
    BOOST_REQUIRE(t);
    BOOST_TEST(t->auth.dovecot_connect_timeout_seconds == 2u);
    BOOST_TEST(t->auth.dovecot_timeout_seconds == 9u);
    for (const auto& c : {*u, *t}) {
        const auto back = config::parse_config(config::to_toml(c), "again", "default.example");
        BOOST_REQUIRE(back);
        BOOST_TEST((back->auth == c.auth));
    }
}

BOOST_AUTO_TEST_CASE(endpoints_parse_to_a_path_or_an_address_and_port) {
    std::string why;
    auto u = config::parse_auth_endpoint("unix:/run/dovecot/auth-client", why);
    BOOST_REQUIRE(u);
    BOOST_TEST(u->unix_socket);
    BOOST_TEST(u->path == "/run/dovecot/auth-client");
    auto v4 = config::parse_auth_endpoint("127.0.0.1:12345", why);
    BOOST_REQUIRE(v4);
    BOOST_TEST(!v4->unix_socket);
    BOOST_TEST(v4->address == "127.0.0.1");
    BOOST_TEST(v4->port == 12345u);
    auto v6 = config::parse_auth_endpoint("[::1]:1", why);
    BOOST_REQUIRE(v6);
    BOOST_TEST(v6->address == "::1");
}

BOOST_AUTO_TEST_CASE(bad_endpoints_and_timeouts_name_the_key_and_line) {
    for (const auto* endpoint : {"unix:", "unix:run/auth", "/run/dovecot/auth-client", "localhost:12345",
                                 "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "::1:12345", "[::1]:",
                                 "127.0.0.1:x"}) {
        const std::string e = error_of(std::string("\n[auth]\ndovecot = \"") + endpoint + "\"\n");
        BOOST_TEST(e.find("config.toml:3: auth.dovecot: ") == 0, e);
    }
    const std::string long_path = "unix:/" + std::string(107, 'p');
    BOOST_TEST(error_of("[auth]\ndovecot = \"" + long_path + "\"\n").find("longer than") != std::string::npos);
    BOOST_TEST(error_of("[auth]\ndovecot = \"unix:/run/a\\u0000b\"\n").find("holds NUL") != std::string::npos);
    BOOST_TEST(error_of("[auth]\ndovecot_timeout_seconds = 0\n").find("config.toml:2: auth.dovecot_timeout_seconds") == 0);
    BOOST_TEST(error_of("[auth]\ndovecot_connect_timeout_seconds = 301\n")
                   .find("config.toml:2: auth.dovecot_connect_timeout_seconds") == 0);
    BOOST_TEST(error_of("[auth]\ndovecote = \"unix:/x\"\n").find("did you mean 'dovecot'") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

// [metrics] listen: off when absent; IPv4 "address:port" or IPv6 "[address]:port"; a bad form
// names the key and line; the writer gives it back.
BOOST_AUTO_TEST_SUITE(metrics_settings)

BOOST_AUTO_TEST_CASE(off_unless_listen_is_set) {
    BOOST_TEST(!parse("")->metrics.enabled());
    BOOST_TEST(!parse("[metrics]\n")->metrics.enabled());
}

BOOST_AUTO_TEST_CASE(ipv4_and_bracketed_ipv6) {
    const auto v4 = parse("[metrics]\nlisten = \"127.0.0.1:9187\"\n");
    BOOST_REQUIRE(v4);
    BOOST_TEST(v4->metrics.address == "127.0.0.1");
    BOOST_TEST(v4->metrics.port == 9187u);
    const auto v6 = parse("[metrics]\nlisten = \"[::1]:9187\"\n");
    BOOST_REQUIRE(v6);
    BOOST_TEST(v6->metrics.address == "::1");
    BOOST_TEST(v6->metrics.listen() == "[::1]:9187");
    for (const auto* text : {"[metrics]\nlisten = \"127.0.0.1:9187\"\n", "[metrics]\nlisten = \"[::1]:9187\"\n"}) {
        const auto c = parse(text);
        const auto back = config::parse_config(config::to_toml(*c), "again", "default.example");
        BOOST_REQUIRE(back);
        BOOST_TEST((back->metrics == c->metrics));
    }
}

BOOST_AUTO_TEST_CASE(bad_forms_name_the_key_and_line) {
    for (const auto* listen : {"9187", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "::1:9187",
                               "[127.0.0.1]:9187", "localhost:9187", "[::1]:", "127.0.0.1:x"}) {
        const std::string e = error_of(std::string("\n[metrics]\nlisten = \"") + listen + "\"\n");
        BOOST_TEST(e.find("config.toml:3: metrics.listen: ") == 0, e);
    }
    BOOST_TEST(error_of("[metrics]\nlisten = 9187\n").find("metrics.listen: must be a string") != std::string::npos);
    BOOST_TEST(error_of("[metrics]\nlisen = \"127.0.0.1:9187\"\n").find("did you mean 'listen'") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()


BOOST_AUTO_TEST_SUITE(delivery_store)

// [delivery] maildir: read, shown and read back; a bad template or a user it cannot place is
// an error naming the file, the line and the key.
BOOST_AUTO_TEST_CASE(delivery_maildir_parses_round_trips_and_names_errors) {
    const auto empty = parse("");
    BOOST_REQUIRE_MESSAGE(empty.ok(), why(empty));
    BOOST_TEST(empty.value().delivery.maildir.empty());
    BOOST_TEST(config::to_toml(empty.value()).find("maildir =") == std::string::npos);

    const auto r = parse("[delivery]\nmaildir = \"/var/vmail/%d/%n/Maildir\"\n");
    BOOST_REQUIRE_MESSAGE(r.ok(), why(r));
    BOOST_TEST(r.value().delivery.maildir == "/var/vmail/%d/%n/Maildir");
    const std::string text = config::to_toml(r.value());
    BOOST_TEST(text.find("\nmaildir = \"/var/vmail/%d/%n/Maildir\"\n") != std::string::npos, text);
    const auto back = config::parse_config(text, "shown");
    BOOST_REQUIRE_MESSAGE(back.ok(), why(back));
    BOOST_TEST((back.value() == r.value()));

    const std::string odd_user = "[[users]]\naddress = \"a/b@localhost\"\npassword_hash = \"" +
                                 argon_hash + "\"\n";
    config_file::check_errors({
        {"[delivery]\nmaildir = \"/var/vmail/%h/Maildir\"\n",
         "config.toml:2: delivery.maildir: has an unknown expansion %h (%d domain, %n local part, "
         "%u whole address, %% a percent sign)"},
        {"[delivery]\nmaildir = \"vmail/%d/%n\"\n",
         "config.toml:2: delivery.maildir: must be an absolute path (it starts with '/')"},
        {"[delivery]\nmaildir = \"/var/../%n\"\n", "config.toml:2: delivery.maildir: has a \".\" or \"..\" component"},
        {"[delivery]\nmaildir = 5\n", "config.toml:2: delivery.maildir: must be a string, not an integer"},
        // '/' is atext (RFC 5322 3.2.3): a valid address, but not a path component.
        {odd_user, "config.toml:2: users[0].address: user \"a/b@localhost\": %n of \"a/b@localhost\" "
                   "holds '/': not usable in a Maildir path"},
        {odd_user + "[delivery]\nmaildir = \"/v/%u\"\n",
         "config.toml:5: delivery.maildir: user \"a/b@localhost\": %u of \"a/b@localhost\" holds '/': "
         "not usable in a Maildir path"},
    });
}


// [delivery] lmtp and [delivery.lmtp_domains]: endpoints read, shown and read back; each
// refusal names the key.
BOOST_AUTO_TEST_CASE(delivery_lmtp_parses_round_trips_and_names_errors) {
    const auto r = parse(
        "local_domains = [\"Example.org\", \"other.test\", \"third.test\"]\n"
        "[delivery]\nlmtp = \"unix:/run/dovecot/lmtp\"\n"
        "[delivery.lmtp_domains]\n\"other.test\" = \"127.0.0.1:2424\"\n\"Third.Test\" = \"maildir\"\n");
    BOOST_REQUIRE_MESSAGE(r.ok(), why(r));
    const auto& d = r.value().delivery;
    BOOST_TEST(d.lmtp == "unix:/run/dovecot/lmtp");
    BOOST_TEST(d.lmtp_for("example.org") == "unix:/run/dovecot/lmtp");
    BOOST_TEST(d.lmtp_for("other.test") == "127.0.0.1:2424");
    BOOST_TEST(d.lmtp_for("third.test") == "");  // the embedded Maildir
    const std::string text = config::to_toml(r.value());
    const auto back = config::parse_config(text, "shown");
    BOOST_REQUIRE_MESSAGE(back.ok(), why(back));
    BOOST_TEST((back.value() == r.value()));
    BOOST_TEST(config::to_toml(parse("").value()).find("lmtp") == std::string::npos);

    const std::string bad_address =
        " is neither unix:/path nor address:port with an IP address (\"127.0.0.1:24\", \"[::1]:24\"; names are "
        "not resolved)";
    config_file::check_errors({
        {"[delivery]\nlmtp = \"dovecot:24\"\n", "config.toml:2: delivery.lmtp: \"dovecot:24\"" + bad_address},
        {"[delivery]\nlmtp = \"127.0.0.1:0\"\n", "config.toml:2: delivery.lmtp: \"127.0.0.1:0\"" + bad_address},
        {"[delivery]\nlmtp = \"[::1]:99999\"\n", "config.toml:2: delivery.lmtp: \"[::1]:99999\"" + bad_address},
        {"[delivery]\nlmtp = \"unix:run/lmtp\"\n",
         "config.toml:2: delivery.lmtp: \"unix:run/lmtp\": the socket must be an absolute path "
         "(unix:/run/dovecot/lmtp)"},
        {"[delivery]\nlmtp = \"unix:/" + std::string(120, 'x') + "\"\n",
         "config.toml:2: delivery.lmtp: \"unix:/" + std::string(120, 'x') +
             "\": the socket path is longer than a Unix socket path may be (107)"},
        {"[delivery.lmtp_domains]\n\"elsewhere.test\" = \"[::1]:24\"\n",
         "config.toml:2: delivery.lmtp_domains.elsewhere.test: domain \"elsewhere.test\" is not in local_domains"},
        {"[delivery.lmtp_domains]\n\"localhost\" = \"maildir\"\n\"LocalHost\" = \"maildir\"\n",
         "config.toml:2: delivery.lmtp_domains.localhost: domain \"localhost\" is listed twice (names match ignoring "
         "case)"},
        {"[delivery.lmtp_domains]\n\"localhost\" = \"store\"\n",
         "config.toml:2: delivery.lmtp_domains.localhost: \"store\"" + bad_address +
             " (or \"maildir\" for the embedded store)"},
    });
}

// [delivery] recipient_delimiter and catch-all aliases ("@domain"): read, shown, read back; each
// refusal names the key.
BOOST_AUTO_TEST_CASE(recipient_delimiter_and_catch_all_parse_round_trip_and_name_errors) {
    const std::string users =
        "local_domains = [\"example.org\", \"other.test\"]\n"
        "[[users]]\naddress = \"bob@example.org\"\npassword_hash = \"$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\"\n";
    const auto r = parse(users + "aliases = [\"@Other.Test\"]\n[delivery]\nrecipient_delimiter = \"+-\"\n");
    BOOST_REQUIRE_MESSAGE(r.ok(), why(r));
    BOOST_TEST(r.value().delivery.recipient_delimiter == "+-");
    BOOST_TEST(r.value().users.at(0).aliases.at(0) == "@Other.Test");
    const auto back = config::parse_config(config::to_toml(r.value()), "shown");
    BOOST_REQUIRE_MESSAGE(back.ok(), why(back));
    BOOST_TEST((back.value() == r.value()));
    BOOST_TEST(config::to_toml(parse("").value()).find("recipient_delimiter") == std::string::npos);
    const std::string bad = " must be up to 8 printable ASCII characters other than @, \" and \\ (Postfix's \"+\")";
    config_file::check_errors({
        {"[delivery]\nrecipient_delimiter = \"@\"\n", "config.toml:2: delivery.recipient_delimiter:" + bad},
        {"[delivery]\nrecipient_delimiter = \"+ \"\n", "config.toml:2: delivery.recipient_delimiter:" + bad},
        {"[delivery]\nrecipient_delimiter = \"+++++++++\"\n", "config.toml:2: delivery.recipient_delimiter:" + bad},
        {users + "aliases = [\"@elsewhere.test\"]\n",
         "config.toml:5: users[0].aliases[0]: \"@elsewhere.test\" is a catch-all (\"@domain\") of a domain not in "
         "local_domains"},
        {users + "aliases = [\"@\"]\n",
         "config.toml:5: users[0].aliases[0]: \"@\" is a catch-all (\"@domain\") of a domain not in local_domains"},
    });
}

BOOST_AUTO_TEST_SUITE_END()
