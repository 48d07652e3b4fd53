// pigeon-conformance --tcp: planning, one server per group, the summary (see the header).
#include "tcp_mode.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "core/address.hpp"
#include "pigeon_process.hpp"
#include "tcp_transport.hpp"

namespace pigeon::conformance {
namespace fs = std::filesystem;
namespace {

// The server's configuration ranges (docs/configuration.md, src/config/reader.cpp).
constexpr std::uint64_t min_message_octets = 65536, max_message_octets = 4294967296ULL;
constexpr std::size_t min_recipients = 100, max_recipients = 100000;
constexpr std::size_t max_errors_limit = 1000;
// How long a transcript's stored message may take to appear in the state directory.
constexpr auto stored_wait = std::chrono::seconds(5);

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

const core::DomainSyntax host_syntax{.allow_address_literal = false, .allow_utf8 = false};

bool is_address(std::string_view s) { return s.find('@') != std::string_view::npos; }

// A transcript's AUTH succeeds somewhere: it expects a 235 reply.
bool expects_auth_success(const Transcript& t) {
    return std::any_of(t.steps.begin(), t.steps.end(), [](const Step& s) {
        return (s.kind == Step::Kind::expect_exact || s.kind == Step::Kind::expect_regex) &&
               s.text.rfind("235", 0) == 0;
    });
}

bool uses_timeout(const Transcript& t) {
    return std::any_of(t.steps.begin(), t.steps.end(),
                       [](const Step& s) { return s.kind == Step::Kind::timeout; });
}

struct Recipients {
    // Those the server's configuration can name (a Mailbox without UTF-8 and with a domain
    // name: what config/reader.cpp accepts as an alias).
    std::vector<core::Mailbox> nameable;
    // Valid recipients it cannot: an address literal domain, a UTF-8 mailbox.
    std::vector<std::string> unnameable;
};

// The mailboxes a transcript sends RCPT TO for. Syntax errors are left out: the session
// answers those itself (501), the policy never sees them.
Recipients recipients(const Transcript& t) {
    static const std::regex rcpt(R"(RCPT TO:\s*<([^>\r\n]*)>)", std::regex::icase);
    static const std::regex utf8_mail(R"(MAIL FROM:[^\r\n]* SMTPUTF8)", std::regex::icase);
    // Without MAIL ... SMTPUTF8 the session refuses a UTF-8 recipient itself (553 5.6.7,
    // RFC 6531 3.4), so the policy, and the configuration, never see it.
    const bool utf8 = std::any_of(t.steps.begin(), t.steps.end(), [](const Step& s) {
        return s.kind == Step::Kind::send && std::regex_search(s.text, utf8_mail);
    });
    Recipients out;
    for (const auto& step : t.steps) {
        if (step.kind != Step::Kind::send) continue;
        for (std::sregex_iterator it(step.text.begin(), step.text.end(), rcpt), end; it != end; ++it) {
            std::string path = (*it)[1].str();
            if (const auto colon = path.find(':'); colon != std::string::npos && path[0] == '@')
                path.erase(0, colon + 1);  // a source route: the mailbox follows it
            auto m = core::Mailbox::parse(path);
            if (m && !m->domain().is_literal() &&
                core::Domain::parse(m->domain().text(), host_syntax))
                out.nameable.push_back(std::move(m).value());
            else if (m || (utf8 && core::Mailbox::parse(path, core::AddressSyntax{.allow_utf8 = true})))
                out.unnameable.push_back(path);
        }
    }
    return out;
}

ListenerSetup listener_for(const Transcript& t) {
    ListenerSetup l;
    l.role = t.config.role;
    l.tls = t.config.tls_active ? "implicit" : t.config.tls_available ? "starttls" : "none";
    return l;
}

// Transcript users that the server can have: those whose name is an address.
std::vector<std::pair<std::string, std::string>> address_users(const Transcript& t) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [user, password] : t.users)
        if (is_address(user) && core::Mailbox::parse(user)) out.emplace_back(user, password);
    return out;
}

std::string group_key(const Transcript& t) {
    std::ostringstream k;
    k << lower(t.config.hostname) << '|' << t.config.max_message_octets << '|'
      << t.config.max_recipients << '|' << t.config.max_errors << '|' << uses_timeout(t);
    for (const auto& [user, password] : address_users(t)) k << '|' << user << ':' << password;
    return k.str();
}

struct Entry {
    fs::path file;
    Transcript transcript;
    std::string skip;  // non-empty: not run over TCP
};

struct Group {
    std::vector<Entry*> entries;
    ServerSetup setup;
    std::map<std::string, std::string> passwords;  // address user -> password
};

// Every regular file under `dir` but the certificate, by path.
std::set<fs::path> stored_files(const fs::path& dir) {
    std::set<fs::path> out;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->path().filename() == "tls" && it->is_directory()) {
            it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file(ec)) out.insert(it->path());
    }
    return out;
}

std::string slurp(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// `# policy: enqueue-requires=TEXT` over TCP: the server answers 250 whatever it stored, so
// the check moves to what it stored: a file that appeared in the state directory during the
// transcript (spool record or Maildir message) must hold every TEXT. Empty when one does.
std::string check_stored(const Transcript& t, const fs::path& state_dir,
                         const std::set<fs::path>& before) {
    const auto& texts = t.policy.enqueue_requires;
    const auto deadline = std::chrono::steady_clock::now() + stored_wait;
    std::size_t seen = 0;
    while (true) {
        const auto now_files = stored_files(state_dir);
        seen = 0;
        for (const auto& f : now_files) {
            if (before.count(f)) continue;
            ++seen;
            const auto content = slurp(f);  // may have been moved meanwhile: then it is ""
            if (std::all_of(texts.begin(), texts.end(), [&](const std::string& text) {
                    return content.find(text) != std::string::npos;
                }))
                return {};
        }
        if (std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::string want;
    for (const auto& text : texts) want += (want.empty() ? "" : " and ") + escape(text);
    return "no message stored by the server contains " + want + " (" + std::to_string(seen) +
           " new file(s) in the state directory)";
}

PlayResult failed(std::string message) {
    PlayResult r;
    r.failure = Failure{0, std::move(message), {}, {}};
    return r;
}

// Removes a directory when the run ends (the reused certificate).
struct TempDir {
    fs::path path;
    ~TempDir() {
        std::error_code ec;
        if (!path.empty()) fs::remove_all(path, ec);
    }
};

}  // namespace

std::string tcp_skip_reason(const Transcript& t) {
    const auto& c = t.config;
    const auto& p = t.policy;
    if (!t.tcp_skip.empty()) return "# tcp: skip " + t.tcp_skip;
    // The in-memory player answers the session's requests from `# policy:`; the real server
    // answers from its configuration, with its own reply texts.
    if (!p.reject_senders.empty() || !p.reject_recipients.empty() ||
        !p.reject_message_containing.empty())
        return "policy reject-*: a test-double verdict (and reply text) the server's "
               "configuration cannot express";
    if (p.enqueue_fails) return "policy enqueue-fails: the server's spool cannot be made to fail";
    if (p.tempfail_auth) return "policy tempfail-auth: the server's AUTH cannot be made to tempfail";
    if (c.auth_without_tls || (c.role == smtp::Role::submission && !c.tls_available && !c.tls_active))
        return "auth_without_tls: no such server setting (submission listeners always need TLS)";
    if (c.max_message_octets < min_message_octets || c.max_message_octets > max_message_octets)
        return "max_message_octets outside the server's range 65536..4294967296 "
               "(RFC 5321 4.5.3.1.7)";
    if (c.max_recipients < min_recipients || c.max_recipients > max_recipients)
        return "max_recipients outside the server's range 100..100000 (RFC 5321 4.5.3.1.8)";
    if (c.max_errors == 0 || c.max_errors > max_errors_limit)
        return "max_errors outside the server's range 1..1000";
    if (!core::Domain::parse(c.hostname, host_syntax))
        return "hostname is not a domain name the server's configuration accepts";
    // The player accepts every recipient; the server only its users and their aliases.
    if (const auto r = recipients(t); !r.unnameable.empty())
        return "RCPT to an address no server configuration can make local (an address "
               "literal or a UTF-8 mailbox)";
    if (expects_auth_success(t))
        for (const auto& [user, password] : t.users)
            if (!is_address(user))
                return "AUTH succeeds as a bare user name (e.g. '" + user +
                       "'): the server's users log in with their address (local@domain)";
    return {};
}

int run_over_tcp(const std::vector<fs::path>& files, const TcpRunOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    std::vector<Entry> entries;
    int failed_count = 0, passed = 0, servers = 0, server_problems = 0;
    std::map<std::string, std::vector<std::string>> skipped;  // reason -> transcripts

    entries.reserve(files.size());
    for (const auto& file : files) {
        auto t = load_transcript(file);
        if (!t) {
            std::cout << "FAIL " << file.filename().string() << "\n  " << t.error().message << "\n";
            ++failed_count;
            continue;
        }
        Entry e{file, std::move(t).value(), {}};
        e.skip = tcp_skip_reason(e.transcript);
        if (!e.skip.empty()) {
            std::cout << "SKIP " << file.filename().string() << "  (" << e.skip << ")\n";
            skipped[e.skip].push_back(e.transcript.name);
        }
        entries.push_back(std::move(e));
    }

    // One server per configuration; its listeners, local domains and users serve them all.
    std::vector<std::string> order;
    std::map<std::string, Group> groups;
    for (auto& e : entries) {
        if (!e.skip.empty()) continue;
        const auto key = group_key(e.transcript);
        auto [it, fresh] = groups.try_emplace(key);
        Group& g = it->second;
        if (fresh) {
            order.push_back(key);
            const auto& c = e.transcript.config;
            g.setup.hostname = c.hostname;
            g.setup.max_message_octets = c.max_message_octets;
            g.setup.max_recipients = c.max_recipients;
            g.setup.max_errors = c.max_errors;
            g.setup.tiny_timeouts = uses_timeout(e.transcript);
            for (const auto& [user, password] : address_users(e.transcript))
                g.passwords[user] = password;
        }
        g.entries.push_back(&e);
        const auto l = listener_for(e.transcript);
        if (std::find(g.setup.listeners.begin(), g.setup.listeners.end(), l) == g.setup.listeners.end())
            g.setup.listeners.push_back(l);
    }

    // The in-memory player accepts every recipient; the server accepts users and aliases of
    // its local domains. So each group gets one catch-all user in the hostname's domain whose
    // aliases are every recipient its transcripts name, and those domains become local.
    std::map<std::string, std::string> hashes;  // password -> hash (Argon2 is slow)
    auto hash_of = [&](const std::string& password) -> core::Result<std::string> {
        if (auto it = hashes.find(password); it != hashes.end()) return it->second;
        auto h = hash_password(options.pigeon, password);
        if (h) hashes[password] = h.value();
        return h;
    };
    const std::string sink_password = "conformance-catch-all";

    TempDir cert_dir;
    for (const auto& key : order) {
        Group& g = groups[key];
        auto& s = g.setup;
        std::set<std::string> domains{lower(s.hostname)};
        s.local_domains = {s.hostname};
        auto add_domain = [&](const std::string& d) {
            if (domains.insert(lower(d)).second) s.local_domains.push_back(d);
        };
        std::set<std::string> taken;
        std::string problem;
        for (const auto& [user, password] : g.passwords) {
            auto h = hash_of(password);
            if (!h) {
                problem = h.error().message;
                break;
            }
            s.users.push_back(UserSetup{user, h.value(), {}});
            add_domain(core::Mailbox::parse(user)->domain().text());
            taken.insert(lower(user));
        }
        UserSetup sink{"conformance-sink@" + s.hostname, {}, {}};
        taken.insert(lower(sink.address));
        for (const auto* e : g.entries)
            for (const auto& m : recipients(e->transcript).nameable) {
                if (!taken.insert(lower(m.to_string())).second) continue;
                sink.aliases.push_back(m.to_string());
                add_domain(m.domain().text());
            }
        if (problem.empty()) {
            auto h = hash_of(sink_password);
            if (h) sink.password_hash = h.value();
            else problem = h.error().message;
        }
        s.users.push_back(std::move(sink));
        if (!cert_dir.path.empty()) {
            s.cert_file = cert_dir.path / "cert.pem";
            s.key_file = cert_dir.path / "key.pem";
        }

        std::unique_ptr<PigeonProcess> server;
        if (problem.empty()) {
            auto started_server = PigeonProcess::start(options.pigeon, s);
            if (started_server) server = std::move(started_server).value();
            else problem = started_server.error().message;
        }
        ++servers;
        if (!server) {
            std::cout << "SERVER FAIL: cannot start pigeon for " << g.entries.size()
                      << " transcript(s) (hostname " << s.hostname << "): " << problem << "\n";
            ++server_problems;
            for (const auto* e : g.entries) {
                options.print_failure(e->file, e->transcript,
                                      failed("no server to play against (SERVER FAIL above)"));
                ++failed_count;
            }
            continue;
        }
        // The first server's generated certificate serves the rest: RSA key generation in a
        // sanitizer build is the slowest part of a start.
        if (cert_dir.path.empty()) {
            const auto tls = server->state_dir() / "tls";
            std::error_code ec;
            const fs::path dir = fs::temp_directory_path() / ("pigeon-conformance-cert-" +
                                                               std::to_string(::getpid()));
            fs::create_directories(dir, ec);
            fs::copy_file(tls / "cert.pem", dir / "cert.pem", fs::copy_options::overwrite_existing, ec);
            if (!ec)
                fs::copy_file(tls / "key.pem", dir / "key.pem", fs::copy_options::overwrite_existing, ec);
            if (!ec) cert_dir.path = dir;
            else fs::remove_all(dir, ec);
        }
        if (options.verbose)
            std::cout << "-- server for " << g.entries.size() << " transcript(s) in "
                      << server->directory().string() << "\n";

        for (const auto* e : g.entries) {
            const auto& t = e->transcript;
            const auto l = listener_for(t);
            const auto index = static_cast<std::size_t>(
                std::find(s.listeners.begin(), s.listeners.end(), l) - s.listeners.begin());
            TcpOptions tcp;
            tcp.port = server->port(index);
            tcp.implicit_tls = l.tls == "implicit";
            tcp.server_times_out = s.tiny_timeouts;
            const auto before = stored_files(server->state_dir());
            TcpTransport transport(tcp);
            PlayResult result;
            if (auto error = transport.connect(); !error.empty())
                result = failed("connect to 127.0.0.1:" + std::to_string(tcp.port) + ": " + error);
            else
                result = play(t, transport);
            if (result.passed() && !t.policy.enqueue_requires.empty())
                if (auto why = check_stored(t, server->state_dir(), before); !why.empty())
                    result.failure = Failure{0, why, {}, {}};
            if (result.passed()) {
                ++passed;
                std::cout << "PASS " << e->file.filename().string() << "  (" << t.title << ")\n";
                if (options.verbose)
                    for (const auto& line : result.dialogue) std::cout << "    " << line << "\n";
            } else {
                ++failed_count;
                options.print_failure(e->file, t, result);
                if (options.verbose) {
                    std::cout << "  server log:\n";
                    std::istringstream log(server->log());
                    for (std::string line; std::getline(log, line);) std::cout << "    " << line << "\n";
                }
            }
        }
        if (auto why = server->stop(); !why.empty()) {
            std::cout << "SERVER FAIL: pigeon (hostname " << s.hostname << ") " << why << "\n";
            ++server_problems;
        }
    }

    const auto seconds = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - started).count() / 1000.0;
    std::size_t skip_count = 0;
    for (const auto& [reason, names] : skipped) skip_count += names.size();
    std::cout << "\nover TCP: " << files.size() << " transcripts: "
              << (passed + failed_count) << " ran (" << passed << " passed, " << failed_count
              << " failed), " << skip_count << " skipped; " << servers << " server run(s)";
    if (server_problems) std::cout << ", " << server_problems << " with problems";
    std::cout << ", " << seconds << " s\n";
    if (!skipped.empty()) {
        std::cout << "skipped, by reason:\n";
        for (const auto& [reason, names] : skipped) {
            std::cout << "  " << names.size() << "  " << reason << ":\n     ";
            for (const auto& n : names) std::cout << " " << n;
            std::cout << "\n";
        }
    }
    return failed_count == 0 && server_problems == 0 ? 0 : 1;
}

}  // namespace pigeon::conformance
