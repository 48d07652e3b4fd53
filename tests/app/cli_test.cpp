// Tests for the command line of app/cli.hpp, with fake commands: usage errors, check-config,
// show-config, and which configuration serve and queue get.
#include "app/cli.hpp"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace app = pigeon::app;
namespace config = pigeon::config;
using config::Config;

namespace {

const std::string bcrypt_hash = "$2b$10$39YdZfDeWMOxbNIwtSkxqObgvvtppYJqD1v5RoaOKheEJgwRVPnEO";

std::string why(const pigeon::core::Result<Config>& r) { return r ? std::string() : r.error().message; }

}  // namespace

BOOST_AUTO_TEST_SUITE(cli)

namespace {

struct Calls {
    std::vector<std::string> log;
    std::optional<Config> config;
};

struct Run {
    int status = -1;
    std::string out;
    std::string err;
};

app::Commands fake_commands(Calls& calls) {
    return app::Commands{
        .serve = [&](const Config& c, const std::string& path) {
            calls.log.push_back(path.empty() ? "serve embedded" : "serve file");
            calls.config = c;
            return 0;
        },
        .queue_list = [&](const Config& c) {
            calls.log.push_back("list");
            calls.config = c;
            return 0;
        },
        .queue_show = [&](const Config&, const std::string& id) {
            calls.log.push_back("show " + id);
            return 0;
        },
        .queue_delete = [&](const Config&, const std::string& id) {
            calls.log.push_back("delete " + id);
            return 1;
        },
        .spf_check = [&](const app::SpfCheckArgs& a, app::Io&) {
            calls.log.push_back("spf " + a.ip + " " + a.sender + " " + a.helo + " " + a.zone +
                                (a.explain ? " explain" : ""));
            return 0;
        },
        .hash_password = [&](std::string_view pw) {
            calls.log.push_back("hash " + std::string(pw));
            return std::string("$argon2id$fake");
        },
    };
}

Run run(std::vector<std::string> args, Calls& calls, const std::string& input = "") {
    args.insert(args.begin(), "pigeon");
    std::istringstream in(input);
    std::ostringstream out, err;
    Run r;
    r.status = app::run_cli(args, fake_commands(calls), app::Io{in, out, err, false});
    r.out = out.str();
    r.err = err.str();
    return r;
}

// A config file in a fresh temporary directory, removed at the end of the test.
struct TempFile {
    std::filesystem::path dir;
    std::string path;
    explicit TempFile(const std::string& text) {
        dir = std::filesystem::temp_directory_path() /
              ("pigeon-config-test-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        path = (dir / "pigeon.toml").string();
        std::ofstream(path) << text;
    }
    ~TempFile() { std::filesystem::remove_all(dir); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(version_and_help) {
    Calls calls;
    const Run v = run({"--version"}, calls);
    BOOST_TEST(v.status == 0);
    BOOST_TEST(v.out == "pigeon 0.1.0\n");
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"--help"}, {"serve", "--help"}, {"check-config", "--help"}, {"show-config", "-h"},
             {"passwd", "--help"}, {"queue", "--help"}, {"queue", "show", "--help"}}) {
        const Run h = run(args, calls);
        BOOST_TEST(h.status == 0);
        BOOST_TEST(h.out.find("Usage:") != std::string::npos, h.out);
    }
    BOOST_TEST(run({"--help"}, calls).out.find("check-config") != std::string::npos);
    BOOST_TEST(calls.log.empty());
}

BOOST_AUTO_TEST_CASE(usage_errors_exit_64) {
    Calls calls;
    BOOST_TEST(run({}, calls).status == app::exit_usage);
    BOOST_TEST(run({"frobnicate"}, calls).status == app::exit_usage);
    BOOST_TEST(run({"check-config"}, calls).status == app::exit_usage);  // --config is required
    BOOST_TEST(run({"queue"}, calls).status == app::exit_usage);
    BOOST_TEST(run({"queue", "show"}, calls).status == app::exit_usage);  // ID is required
    BOOST_TEST(run({"serve", "--bogus"}, calls).status == app::exit_usage);
    BOOST_TEST(calls.log.empty());
}

// hold and release take exactly one of ID and --all; the error names what is wrong.
BOOST_AUTO_TEST_CASE(hold_and_release_need_an_id_or_all_not_both) {
    Calls calls;
    for (const std::string verb : {"hold", "release"}) {
        const Run neither = run({"queue", verb}, calls);
        BOOST_TEST(neither.status == app::exit_usage);
        BOOST_TEST(neither.err.find("ID or --all is required") != std::string::npos, neither.err);
        const Run both = run({"queue", verb, "--all", "0123456789ABCDEF"}, calls);
        BOOST_TEST(both.status == app::exit_usage);
        BOOST_TEST(both.err.find("excludes --all") != std::string::npos, both.err);
        const Run unknown = run({"queue", verb, "--every"}, calls);
        BOOST_TEST(unknown.status == app::exit_usage);
        BOOST_TEST(unknown.err.find("--every") != std::string::npos, unknown.err);
        BOOST_TEST(run({"queue", verb, "--help"}, calls).out.find("--all") != std::string::npos);
    }
    BOOST_TEST(calls.log.empty());
}

BOOST_AUTO_TEST_CASE(check_config_summarises_a_valid_file) {
    Calls calls;
    const Run r = run({"check-config", "--config", PIGEON_SOURCE_DIR "/docs/pigeon.example.toml"},
                      calls);
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out == "OK: 3 listeners, 2 local domains, 2 users, 1 discard address\n");

    TempFile one("[[listeners]]\naddress = \"::1\"\nport = 2525\nrole = \"inbound\"\n"
                 "[[users]]\naddress = \"a@localhost\"\npassword_hash = \"" + bcrypt_hash + "\"\n");
    BOOST_TEST(run({"check-config", "-c", one.path}, calls).out ==
               "OK: 1 listener, 1 local domain, 1 user\n");
}

BOOST_AUTO_TEST_CASE(check_config_exits_2_on_errors) {
    Calls calls;
    TempFile bad("[limits]\nmax_recipients = 10\n");
    const Run r = run({"check-config", "--config", bad.path}, calls);
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.out.empty());
    BOOST_TEST(r.err == bad.path + ":2: limits.max_recipients: must be >= 100 (RFC 5321 4.5.3.1.8)\n");

    // Two users that are one address ignoring case (issue 13, item 4): refused, both named.
    TempFile twins("[[users]]\naddress = \"Carol@localhost\"\npassword_hash = \"" + bcrypt_hash +
                   "\"\n[[users]]\naddress = \"carol@localhost\"\npassword_hash = \"" +
                   bcrypt_hash + "\"\n");
    const Run t = run({"check-config", "--config", twins.path}, calls);
    BOOST_TEST(t.status == 2);
    BOOST_TEST(t.out.empty());
    BOOST_TEST(t.err == twins.path + ":5: users[1].address: \"carol@localhost\" is the same "
                                     "address as users[0].address \"Carol@localhost\" (line 2; "
                                     "addresses match ignoring case): two users would share one "
                                     "mailbox\n");

    const Run missing = run({"check-config", "--config", "/nonexistent.toml"}, calls);
    BOOST_TEST(missing.status == 2);
    BOOST_TEST(missing.err ==
               "/nonexistent.toml: cannot read the configuration: No such file or directory\n");
}

BOOST_AUTO_TEST_CASE(serve_and_queue_get_the_effective_config) {
    Calls calls;
    BOOST_TEST(run({"serve"}, calls).status == 0);
    BOOST_REQUIRE(calls.config.has_value());
    BOOST_TEST(calls.config->create_demo_user);
    BOOST_TEST(calls.config->state_dir == "./pigeon-data");

    TempFile file("state_dir = \"/srv/pigeon\"\n");
    BOOST_TEST(run({"serve", "--config", file.path}, calls).status == 0);
    BOOST_TEST(calls.config->state_dir == "/srv/pigeon");
    BOOST_TEST(!calls.config->create_demo_user);

    BOOST_TEST(run({"queue", "list", "--config", file.path}, calls).status == 0);
    BOOST_TEST(run({"queue", "show", "Q123"}, calls).status == 0);
    BOOST_TEST(run({"queue", "delete", "Q9", "-c", file.path}, calls).status == 1);
    BOOST_TEST((calls.log == std::vector<std::string>{"serve embedded", "serve file", "list",
                                                      "show Q123", "delete Q9"}));

    TempFile bad("threads = -3\n");
    const Run r = run({"serve", "--config", bad.path}, calls);
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err == bad.path + ":1: threads: must be >= 0\n");
    BOOST_TEST(run({"queue", "list", "--config", bad.path}, calls).status == 2);
    BOOST_TEST(calls.log.size() == 5u);  // the commands never ran with a bad config
}

BOOST_AUTO_TEST_CASE(spf_check_takes_its_options_and_bad_arguments_exit_2) {
    Calls calls;
    BOOST_TEST(run({"spf", "check", "--ip", "192.0.2.1", "--sender", "a@b.example", "--helo",
                    "h.example", "--zone", "z.db", "--explain"},
                   calls)
                   .status == 0);
    BOOST_TEST((calls.log ==
                std::vector<std::string>{"spf 192.0.2.1 a@b.example h.example z.db explain"}));
    BOOST_TEST(run({"spf", "check", "--sender", "a@b.example"}, calls).status == 2);  // no --ip
    BOOST_TEST(run({"spf", "check", "--ip", "1.2.3.4", "--bogus"}, calls).status == 2);
    BOOST_TEST(run({"spf"}, calls).status == 2);
    BOOST_TEST(calls.log.size() == 1u);
}

BOOST_AUTO_TEST_CASE(show_config_prints_parseable_toml) {
    Calls calls;
    TempFile file("hostname = \"mx.example\"\n[limits]\nmax_recipients = 250\n");
    const Run r = run({"show-config", "--config", file.path}, calls);
    BOOST_TEST(r.status == 0);
    const auto back = config::parse_config(r.out, "shown");
    BOOST_REQUIRE_MESSAGE(back.ok(), why(back));
    BOOST_TEST(back.value().limits.max_recipients == 250u);
    BOOST_TEST((back.value() == config::load_config(file.path).value()));

    const Run embedded = run({"show-config"}, calls);
    BOOST_TEST(embedded.status == 0);
    BOOST_TEST(config::parse_config(embedded.out, "shown").ok());
}

BOOST_AUTO_TEST_CASE(passwd_hashes_the_first_line) {
    Calls calls;
    const Run r = run({"passwd"}, calls, "s3cret\r\nignored\n");
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out == "$argon2id$fake\n");
    BOOST_TEST((calls.log == std::vector<std::string>{"hash s3cret"}));

    const Run none = run({"passwd"}, calls, "");
    BOOST_TEST(none.status == 1);
    BOOST_TEST(none.err == "pigeon passwd: no password on standard input\n");
    const Run empty = run({"passwd"}, calls, "\n");
    BOOST_TEST(empty.status == 1);
    BOOST_TEST(empty.err == "pigeon passwd: the password is empty\n");
    BOOST_TEST(calls.log.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
