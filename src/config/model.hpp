// pigeon/config/model.hpp: the server's configuration as data, and its defaults.
//
// Contract:
//   - Every default lives in namespace `defaults` below and nowhere else; docs/configuration.md
//     documents the same values (tests/config/config_test.cpp checks the example file parses).
//   - The bounds that the reader (config/reader.hpp) checks are named in namespace `bounds`.
//   - default_config() is the embedded configuration used when `pigeon serve` has no --config.
//   - Nothing here reads a file; system_hostname() asks the operating system for its name.
//
// The rest of the layer: config/reader.hpp (TOML to Config, with line-accurate errors),
// config/validate.hpp (the rules that are not about TOML's shape), config/writer.hpp (Config to
// TOML), config/session.hpp (the session options a Config gives). config/config.hpp has them all.
#pragma once
#include "config/endpoint.hpp"
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/log_level.hpp"
#include "core/tls_mode.hpp"
#include "smtp/server/session.hpp"

namespace pigeon::config {

using core::log_level_name;
using core::LogLevel;
using core::tls_mode_name;
using core::TlsMode;

struct Listener {
    std::string address;  // an IPv4 or IPv6 address to bind ("0.0.0.0" / "::" for all)
    std::uint16_t port = 0;
    smtp::Role role = smtp::Role::inbound;
    TlsMode tls = TlsMode::starttls;
    friend bool operator==(const Listener&, const Listener&) = default;
};

struct TlsFiles {
    // PEM files. Both empty: a self-signed certificate is generated into
    // <state_dir>/tls/ on first start and reused afterwards. Exactly one empty is an error.
    std::string cert_file;
    std::string key_file;
    bool self_signed() const { return cert_file.empty() && key_file.empty(); }
    friend bool operator==(const TlsFiles&, const TlsFiles&) = default;
};

struct User {
    std::string address;                // the login name and mailbox, "local@domain"
    std::string password_hash;          // "$argon2id$..." or bcrypt "$2a$" / "$2b$"
    std::vector<std::string> aliases;   // other addresses this user may use in MAIL FROM
    friend bool operator==(const User&, const User&) = default;
};

struct Limits {
    std::uint32_t max_connections = 0;
    std::uint32_t max_connections_per_ip = 0;
    std::uint32_t command_timeout_seconds = 0;
    std::uint32_t data_block_timeout_seconds = 0;
    std::uint32_t data_timeout_seconds = 0;
    std::uint64_t max_message_octets = 0;
    std::uint32_t max_recipients = 0;
    std::uint32_t max_errors_per_session = 0;
    std::uint32_t auth_failures_per_ip_per_minute = 0;
    std::uint32_t shutdown_grace_seconds = 0;
    std::uint64_t message_memory_octets = 0;   // messages in flight, summed over all sessions
    std::uint64_t spool_min_free_octets = 0;   // below it MAIL gets 452 4.3.1; 0: no check
    std::uint64_t message_spill_octets = 0;    // a message past this goes to a file; 0: never
    std::uint32_t verify_threads = 0;          // DKIM/DMARC worker pool; 0: one per CPU core
    std::uint32_t verify_cpu_seconds = 0;      // DKIM verification CPU per message
    std::uint32_t ipv6_prefix_bits = 0;  // "per ip" limits count IPv6 clients per this network
    friend bool operator==(const Limits&, const Limits&) = default;
};

// The defaults, named once. Timeouts follow RFC 5321 4.5.3.2, which mostly gives the
// *client's* timeouts; which value a server-side limit borrows is stated at each one.
namespace defaults {
inline constexpr std::string_view state_dir = "./pigeon-data";
inline constexpr std::string_view local_domain = "localhost";
inline constexpr LogLevel log_level = LogLevel::info;
inline constexpr std::string_view syslog_socket = "/dev/log";
inline constexpr unsigned threads = 0;  // 0: one per CPU core
inline constexpr std::string_view listen_address = "127.0.0.1";
// Unprivileged stand-ins for 25 / 587 / 465, so the embedded default runs as any user.
inline constexpr std::uint16_t inbound_port = 2525;
inline constexpr std::uint16_t submission_port = 2587;
inline constexpr std::uint16_t submissions_port = 2465;

inline constexpr std::uint32_t max_connections = 256;
inline constexpr std::uint32_t max_connections_per_ip = 16;
// RFC 5321 4.5.3.2.7 "Server Timeout": a server SHOULD wait at least 5 minutes for the next
// command. This is the only timeout the RFC sets for the server side.
inline constexpr std::uint32_t command_timeout_seconds = 5 * 60;
// RFC 5321 4.5.3.2.5 "Data Block": the client allows 3 minutes for each send of message
// data; the server allows the same silence between two chunks of data after the 354.
inline constexpr std::uint32_t data_block_timeout_seconds = 3 * 60;
// RFC 5321 4.5.3.2.6 "DATA Termination": the client waits 10 minutes for the reply to the
// final ".". The server borrows the value as its bound on the whole transfer (354 to "."),
// so a client trickling a byte just inside the block timeout cannot hold a slot forever.
inline constexpr std::uint32_t data_timeout_seconds = 10 * 60;
// (RFC 5321 4.5.3.2.1 "Initial 220 Message", 5 minutes, is client-side only: how long a
// client waits for our greeting. It has no server setting.)
inline constexpr std::uint64_t max_message_octets = 25 * 1024 * 1024;  // advertised as SIZE
inline constexpr std::uint32_t max_recipients = 100;                    // RFC 5321 4.5.3.1.8
inline constexpr std::uint32_t max_errors_per_session = 10;             // then 421 and close
inline constexpr std::uint32_t auth_failures_per_ip_per_minute = 5;
inline constexpr std::uint32_t shutdown_grace_seconds = 30;
// Server-wide budget for the octets of messages being received and checked: 20 messages of the
// default maximum size. Past it DATA gets 452 4.3.1 (docs/security.md).
inline constexpr std::uint64_t message_memory_octets = 512ull << 20;
// Free space the spool's file system keeps: below it new MAIL gets 452 4.3.1, so the mail
// already accepted (queue files, delivery, bounces) still has room. Postfix's queue_minfree
// asks for at least 1.5 x the message size limit; this is 10 x the default.
inline constexpr std::uint64_t spool_min_free_octets = 256ull << 20;
// A message being received is written to a file beside the spool once it holds this many
// octets (and read back through a mapping), so what it takes in memory stays near this.
inline constexpr std::uint64_t message_spill_octets = 1ull << 20;
inline constexpr std::uint32_t verify_threads = 0;  // 0: one per CPU core
// CPU time DKIM verification may spend on one message (a 25 MiB message with ten signatures
// needs well under a second); past it the remaining signatures get temperror.
inline constexpr std::uint32_t verify_cpu_seconds = 5;
// One IPv6 subscriber usually holds a whole /64 (RFC 6177, RFC 7934): max_connections_per_ip
// and auth_failures_per_ip_per_minute count an IPv6 client per /64, an IPv4 client per address.
inline constexpr std::uint32_t ipv6_prefix_bits = 64;
// Local submission: where the package's server listens (a RuntimeDirectory, not the private
// state directory, so that every local user can reach it), and who is trusted by default.
inline constexpr std::string_view sendmail_socket = "/run/pigeon/sendmail.sock";
inline constexpr std::string_view sendmail_trusted_user = "root";
// [auth] dovecot: how long connecting (and Dovecot's handshake) may take, and how long one
// AUTH may wait for Dovecot's answer (Dovecot itself delays a FAIL by auth_failure_delay, 2 s
// by default, and more under its own penalty: 15 s at most).
inline constexpr std::uint32_t dovecot_connect_timeout_seconds = 5;
inline constexpr std::uint32_t dovecot_timeout_seconds = 30;
}  // namespace defaults

// Bounds checked by parse_config (inclusive); named so the docs and tests can cite them.
namespace bounds {
inline constexpr std::uint64_t min_message_octets = 64 * 1024;  // RFC 5321 4.5.3.1.7
inline constexpr std::uint64_t max_message_octets = std::uint64_t{1} << 32;  // 4 GiB
inline constexpr std::uint32_t min_recipients = 100;            // RFC 5321 4.5.3.1.8
inline constexpr std::uint32_t max_recipients = 100000;
inline constexpr std::uint32_t max_timeout_seconds = 24 * 60 * 60;
inline constexpr std::uint32_t max_connections = 1000000;
inline constexpr std::uint32_t max_errors_per_session = 1000;
inline constexpr std::uint32_t max_auth_failures_per_minute = 100000;
inline constexpr std::uint32_t max_shutdown_grace_seconds = 3600;
inline constexpr std::uint32_t max_dovecot_timeout_seconds = 300;  // [auth] dovecot_*timeout_seconds
inline constexpr std::uint32_t min_ipv6_prefix_bits = 1;
inline constexpr std::uint32_t max_ipv6_prefix_bits = 128;  // 128: every address on its own
inline constexpr unsigned max_threads = 1024;
inline constexpr std::uint64_t max_memory_octets = std::uint64_t{1} << 40;  // 1 TiB
inline constexpr std::uint32_t max_verify_cpu_seconds = 3600;
}  // namespace bounds

Limits default_limits();

// Where DNS answers come from (src/dns): libunbound with DNSSEC validation, or a zone file.
struct DnsSettings {
    // Answer only from this RFC 1035 zone file (tests, demos, machines without network).
    // Empty: libunbound, recursing from the root or through `forwarders`.
    std::string zone_file;
    std::vector<std::string> forwarders;  // "192.0.2.53" or "192.0.2.53@5353"
    std::string trust_anchor_file = "/usr/share/dns/root.key";  // Debian's dns-root-data
    std::uint32_t timeout_seconds = 5;  // per query; a session never waits longer per lookup
    // Zones answered by these authoritative servers, asked directly (no recursion): internal
    // zones, or a test's NSD on loopback. Each address "192.0.2.53" or "192.0.2.53@5353".
    struct StubZone {
        std::string zone;
        std::vector<std::string> addresses;
        friend bool operator==(const StubZone&, const StubZone&) = default;
    };
    std::vector<StubZone> stub_zones;  // [[dns.stub_zones]]
    friend bool operator==(const DnsSettings&, const DnsSettings&) = default;
};

// What the inbound role does with SPF (RFC 7208) at MAIL FROM.
enum class SpfTempErrorAction { defer, accept };
const char* spf_temperror_name(SpfTempErrorAction action);
struct SpfSettings {
    bool check = true;        // evaluate SPF for inbound mail
    bool reject_fail = true;  // "fail" -> 550 5.7.23 (RFC 7208 8.4, RFC 7372)
    // "temperror": defer -> 451 4.4.3 (the sender retries, RFC 7208 8.6); accept -> deliver
    // with the result recorded.
    SpfTempErrorAction temperror = SpfTempErrorAction::defer;
    friend bool operator==(const SpfSettings&, const SpfSettings&) = default;
};

// A DKIM signing key: submission signs every accepted message whose From: domain is `domain`
// with every key configured for it (two selectors at once while rotating).
struct DkimKey {
    std::string domain;    // d=
    std::string selector;  // s=
    std::string key_file;  // PEM private key (pigeon dkim keygen writes one)
    friend bool operator==(const DkimKey&, const DkimKey&) = default;
};

// DKIM verification and DMARC (RFC 7489) for inbound mail, at the end of DATA.
struct DmarcSettings {
    bool check = true;    // verify DKIM, evaluate DMARC, add Authentication-Results
    bool enforce = true;  // apply p=reject (550 5.7.1) and p=quarantine (Junk folder)
    // A DMARC temperror (DNS trouble): defer -> 451 4.7.5; accept -> deliver and record.
    SpfTempErrorAction temperror = SpfTempErrorAction::defer;
    // Domains whose p=reject is applied as quarantine here (a local override).
    std::vector<std::string> never_reject;
    friend bool operator==(const DmarcSettings&, const DmarcSettings&) = default;
};

// The outbound role (docs/outbound.md): how remote recipients leave.
enum class OutboundTls { none, opportunistic, required, verify };
const char* outbound_tls_name(OutboundTls tls);

// A fixed next hop: the relayhost (smarthost), or the target of a per-domain route.
struct NextHopSettings {
    std::string host;  // host name (its A/AAAA records, no MX) or IP address
    std::uint16_t port = 25;
    OutboundTls tls = OutboundTls::opportunistic;  // required: never in clear; verify: and authenticated
    std::string ca_file;        // verify: the trusted CAs (PEM bundle); empty: the system's
    std::string username;       // AUTH PLAIN over TLS; empty: no AUTH
    std::string password_file;  // the password, read at start (first line), never in this file
    friend bool operator==(const NextHopSettings&, const NextHopSettings&) = default;
};

struct RouteSettings {
    std::string domain;  // recipient domain (lower case)
    NextHopSettings to;
    friend bool operator==(const RouteSettings&, const RouteSettings&) = default;
};

struct OutboundSettings {
    bool enabled = true;        // false: remote recipients stay queued
    std::uint16_t mx_port = 25; // the port MX hosts are contacted on (tests use others)
    bool dane = true;           // RFC 7672 where DNSSEC proves TLSA records
    std::vector<NextHopSettings> relayhost;  // zero or one: every remote recipient goes there
    std::vector<RouteSettings> routes;       // [[outbound.routes]], before the relayhost
    std::uint32_t max_connections = 50;
    std::uint32_t max_per_destination = 4;
    std::uint32_t connect_timeout_seconds = 30;
    std::uint32_t command_timeout_seconds = 300;  // RFC 5321 4.5.3.2: 5 minutes per reply
    std::uint32_t data_timeout_seconds = 600;     // RFC 5321 4.5.3.2.6: 10 minutes for the end of data
    std::uint32_t first_retry_seconds = 300;
    std::uint32_t max_retry_interval_seconds = 7200;  // queue::RetryPolicy's default
    std::uint32_t give_up_after_seconds = 5 * 24 * 3600;  // RFC 5321 4.5.4.1: 4-5 days
    std::uint32_t delay_warning_seconds = 4 * 3600;       // 0: no delay notices
    friend bool operator==(const OutboundSettings&, const OutboundSettings&) = default;
};

// The operator's log ([log]); the level stays the top-level log_level.
enum class LogFormat { text, json };
enum class LogTarget { standard_error, syslog, file };
struct LogSettings {
    LogFormat format = LogFormat::text;
    LogTarget target = LogTarget::standard_error;
    std::string file;  // required with target = file
    std::string syslog_socket{defaults::syslog_socket};
    friend bool operator==(const LogSettings&, const LogSettings&) = default;
};

// Local delivery ([delivery]).
struct DeliverySettings {
    // Addresses ("local@domain", the domain in local_domains) whose mail is accepted at RCPT,
    // committed to the spool as usual, then marked delivered ("discarded") without any copy
    // written (Postfix's discard(8)): no-reply addresses, benchmark sinks. Never a user's
    // address or alias, never postmaster.
    std::vector<std::string> discard;
    // Where local mailboxes are (config/maildir_template.hpp): "/var/vmail/%d/%n/Maildir";
    // empty: <state_dir>/mail/%d/%n/Maildir.
    std::string maildir;
    // LMTP (RFC 2033) instead of the Maildir: "unix:/run/dovecot/lmtp" or "127.0.0.1:24"
    // ("[::1]:24"); empty: the Maildir. [delivery.lmtp_domains] overrides it per local domain
    // (kept lower case), where "maildir" names the embedded Maildir store.
    std::string lmtp;
    std::vector<std::pair<std::string, std::string>> lmtp_domains;  // domain -> endpoint
    // Postfix's recipient_delimiter: "+" makes bob+lists@ a recipient of bob@ when no user or
    // alias is bob+lists@ itself (the local part is cut at the first of these characters);
    // empty: off.
    std::string recipient_delimiter;
    // The endpoint for a local domain (lower case): lmtp_domains, else lmtp; "": the Maildir.
    std::string lmtp_for(std::string_view domain) const;
    friend bool operator==(const DeliverySettings&, const DeliverySettings&) = default;
};

// [sendmail]: local submission (`pigeon sendmail`, net/local_submission.hpp, docs/security.md).
struct SendmailAddress {
    std::string login;    // a Unix login name
    std::string address;  // the sender address it is mapped to
    friend bool operator==(const SendmailAddress&, const SendmailAddress&) = default;
};
struct SendmailSettings {
    // The Unix socket local programs hand mail to (mode 0666; the server authenticates the
    // caller by SO_PEERCRED). Empty: no local submission. The package sets
    // defaults::sendmail_socket, the path `pigeon sendmail` tries without -C or
    // PIGEON_SENDMAIL_SOCKET.
    std::string socket;
    // <login>@domain for logins not in `addresses`; empty: the first local domain.
    std::string domain;
    std::vector<SendmailAddress> addresses;  // [sendmail.addresses] login = "address"
    // Logins that may name any envelope sender and From: (sendmail's trusted users).
    std::vector<std::string> trusted_users{std::string(defaults::sendmail_trusted_user)};
    friend bool operator==(const SendmailSettings&, const SendmailSettings&) = default;
};

// [directory]: where the users are (docs/configuration.md "[directory]"). The default, "toml",
// is [[users]] in this file; the others replace [[users]] for recipients, logins and senders
// (local_domains and [delivery] discard stay here).
struct DirectorySettings {
    enum class Backend { toml, passwd_file, sqlite, postgresql };
    Backend backend = Backend::toml;
    std::string path;      // passwd-file, sqlite: the file
    std::string conninfo;  // postgresql: a libpq connection string
    // SQL, one parameter ($1, or ? for SQLite) bound to the lower-cased address or login:
    std::string recipient_query;  // first column of the first row: the address that receives
    std::string login_query;      // first column of the first row: the password hash
    std::string sender_query;     // first column of each row: an address the login may use
    std::uint32_t cache_seconds = 30;
    std::uint32_t cache_entries = 10000;
    std::uint32_t timeout_ms = 2000;
    std::uint32_t max_lookups = 64;  // in flight at once; more are answered "unavailable"
    std::uint32_t threads = 2;       // the backend's own pool
    friend bool operator==(const DirectorySettings&, const DirectorySettings&) = default;
};

// [auth]: who checks the passwords of submission AUTH. `dovecot` empty: the [[users]] hashes;
// set: Dovecot's auth service over its client protocol (policy/dovecot_auth.hpp,
// net/dovecot_auth_client.hpp), "unix:/run/dovecot/auth-client" or "127.0.0.1:PORT" /
// "[::1]:PORT" (an IP address: no DNS lookup on the AUTH path).
struct AuthSettings {
    std::string dovecot;
    std::uint32_t dovecot_connect_timeout_seconds = defaults::dovecot_connect_timeout_seconds;
    std::uint32_t dovecot_timeout_seconds = defaults::dovecot_timeout_seconds;
    friend bool operator==(const AuthSettings&, const AuthSettings&) = default;
};

// Where [auth] dovecot points: a Unix socket path, or an IP address and port.
using AuthEndpoint = Endpoint;  // config/endpoint.hpp
// [auth] dovecot's wording of parse_endpoint's problems: nullopt with `why` set. Pure.
std::optional<AuthEndpoint> parse_auth_endpoint(std::string_view text, std::string& why);

// [metrics]: the Prometheus endpoint (/metrics, /healthz; net/metrics_http.hpp). Off unless
// `listen` is set: "127.0.0.1:9187" or "[::1]:9187".
struct MetricsSettings {
    std::string address;  // empty: no endpoint
    std::uint16_t port = 0;
    bool enabled() const { return !address.empty(); }
    std::string listen() const;  // back to the key's text form
    friend bool operator==(const MetricsSettings&, const MetricsSettings&) = default;
};

struct Config {
    std::string hostname;                    // our name in the greeting, EHLO and Received:
    std::vector<std::string> local_domains;  // domains whose mail we deliver here
    std::vector<Listener> listeners;
    TlsFiles tls;
    std::vector<User> users;
    Limits limits;
    std::string state_dir;  // queue, mailboxes, generated certificate
    // Privilege (docs/operations.md "Privileges and systemd"): started as root, the server
    // binds its listeners and reads its keys, then runs as `user` (and `group`, default: the
    // user's primary group). As root without `user` it refuses to start unless allow_root.
    std::string user;
    std::string group;
    bool allow_root = false;
    LogLevel log_level = defaults::log_level;
    LogSettings log;
    unsigned threads = defaults::threads;
    DnsSettings dns;
    SpfSettings spf;
    DmarcSettings dmarc;
    std::vector<DkimKey> dkim_keys;  // [[dkim.keys]]
    OutboundSettings outbound;
    DeliverySettings delivery;
    SendmailSettings sendmail;
    MetricsSettings metrics;
    DirectorySettings directory;
    AuthSettings auth;
    // Hook for the embedded default: the serve path creates one demo user on first start
    // and prints its password once. Not a file key; a config file lists its users instead.
    bool create_demo_user = false;

    friend bool operator==(const Config&, const Config&) = default;
};

// The three embedded listeners on 127.0.0.1: 2525 inbound (STARTTLS), 2587 submission
// (STARTTLS, AUTH required), 2465 submission (implicit TLS). Also used when a file has
// no [[listeners]].
std::vector<Listener> default_listeners();

// What a file with no keys gives: every default, local domain "localhost", the default
// listeners, no users. The reader starts from it.
Config empty_file_config(std::string hostname);

// The embedded default: hostname as given, local domain "localhost", the default listeners,
// a self-signed certificate, no users but create_demo_user = true.
Config default_config(std::string hostname);

// This machine's name (gethostname), or "localhost" when that is not a valid domain name.
std::string system_hostname();

}  // namespace pigeon::config
