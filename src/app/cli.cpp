// pigeon/app/cli.cpp: the CLI11 command tree and the commands that need nothing but a config.
#include "app/cli.hpp"

#include "app/auth_commands.hpp"
#include "app/dmarc_report.hpp"

#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <exception>
#include <iostream>
#include <optional>

namespace pigeon::app {
namespace {

std::string plural(std::size_t n, std::string_view word) {
    return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

// Terminal echo is off while a password is typed. A SIGINT in that window would leave the
// user's terminal silent, so the handler puts the saved settings back before dying.
termios saved_termios;

extern "C" void restore_echo_and_die(int sig) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

class EchoOff {
public:
    EchoOff() {
        if (::tcgetattr(STDIN_FILENO, &saved_termios) != 0) return;
        termios quiet = saved_termios;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        previous_ = std::signal(SIGINT, restore_echo_and_die);
        active_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
    ~EchoOff() {
        if (active_) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
        if (previous_ != SIG_ERR) std::signal(SIGINT, previous_);
    }
    EchoOff(const EchoOff&) = delete;
    EchoOff& operator=(const EchoOff&) = delete;

private:
    bool active_ = false;
    void (*previous_)(int) = SIG_ERR;
};

std::optional<std::string> read_line(std::istream& in) {
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

// From a pipe: the first line. From a terminal: typed twice without echo.
std::optional<std::string> read_password(Io& io) {
    if (!io.stdin_is_tty) {
        auto line = read_line(io.in);
        if (!line) io.err << "pigeon passwd: no password on standard input\n";
        return line;
    }
    std::optional<std::string> first, second;
    {
        EchoOff quiet;
        io.err << "Password: " << std::flush;
        first = read_line(io.in);
        io.err << "\n";
        if (first) {
            io.err << "Retype password: " << std::flush;
            second = read_line(io.in);
            io.err << "\n";
        }
    }
    if (!first || !second) {
        io.err << "pigeon passwd: no password entered\n";
        return std::nullopt;
    }
    if (*first != *second) {
        io.err << "pigeon passwd: the passwords do not match\n";
        return std::nullopt;
    }
    return first;
}

int passwd(const Commands& commands, Io& io) {
    const auto password = read_password(io);
    if (!password) return exit_failure;
    if (password->empty()) {
        io.err << "pigeon passwd: the password is empty\n";
        return exit_failure;
    }
    try {
        io.out << commands.hash_password(*password) << "\n";
    } catch (const std::exception& e) {
        io.err << "pigeon passwd: cannot hash the password: " << e.what() << "\n";
        return exit_failure;
    }
    return exit_ok;
}

// The file's configuration, or the embedded default when `path` is empty.
std::optional<config::Config> effective_config(const std::string& path, Io& io) {
    if (path.empty()) return config::default_config(config::system_hostname());
    auto config = config::load_config(path);
    if (!config) {
        io.err << config.error().message << "\n";
        return std::nullopt;
    }
    return std::move(config).value();
}

}  // namespace

int run_cli(const std::vector<std::string>& args, const Commands& commands, Io io) {
    CLI::App app{"Pigeon: an SMTP server for submission and inbound mail.", "pigeon"};
    app.set_version_flag("--version", std::string(version_string));
    app.require_subcommand(1);

    std::string config_path;
    std::string queue_id;

    CLI::App* serve = app.add_subcommand("serve", "Run the server");
    serve->add_option("--config,-c", config_path,
                      "Configuration file (TOML); without it, the embedded default: "
                      "./pigeon-data, ports 2525/2587/2465 on 127.0.0.1, a demo user");

    CLI::App* check = app.add_subcommand("check-config", "Validate a configuration file");
    check->add_option("--config,-c", config_path, "Configuration file (TOML)")->required();

    CLI::App* show = app.add_subcommand(
        "show-config", "Print the effective configuration, defaults filled in, as TOML");
    show->add_option("--config,-c", config_path,
                     "Configuration file (TOML); without it, the embedded default");

    CLI::App* pw = app.add_subcommand(
        "passwd", "Read a password on standard input and print its hash for [[users]]");

    CLI::App* queue = app.add_subcommand("queue", "Inspect or change the outgoing queue");
    queue->require_subcommand(1);
    CLI::App* queue_list = queue->add_subcommand("list", "List queued messages");
    CLI::App* queue_show = queue->add_subcommand("show", "Show one queued message");
    CLI::App* queue_delete = queue->add_subcommand("delete", "Delete one queued message");
    CLI::App* queue_flush = queue->add_subcommand("flush", "Retry every deferred recipient now");
    CLI::App* queue_retry = queue->add_subcommand("retry", "Retry one queued message now");
    CLI::App* queue_hold = queue->add_subcommand("hold", "Keep one queued message but deliver it only after release");
    CLI::App* queue_release = queue->add_subcommand("release", "Deliver a held message again");
    for (CLI::App* sub : {queue_show, queue_delete, queue_retry, queue_hold, queue_release})
        sub->add_option("ID", queue_id, "Queue id")->required();
    SpfCheckArgs spf_args;
    CLI::App* spf = app.add_subcommand("spf", "SPF (RFC 7208) tools");
    spf->require_subcommand(1);
    CLI::App* spf_check = spf->add_subcommand(
        "check", "Evaluate SPF for a client IP and sender; prints an Authentication-Results entry");
    spf_check->add_option("--ip", spf_args.ip, "The SMTP client's IP address")->required();
    spf_check->add_option("--sender", spf_args.sender,
                          "MAIL FROM address (\"<>\" for the null sender: checks --helo)")
        ->required();
    spf_check->add_option("--helo", spf_args.helo, "The HELO/EHLO name");
    spf_check->add_option("--zone", spf_args.zone,
                          "Answer DNS from this zone file (RFC 1035 format) instead of the network");
    spf_check->add_flag("--explain", spf_args.explain,
                        "Show each term evaluated, each DNS query and the lookup counts");

    SimRunArgs sim_args;
    std::uint64_t sim_seed = 0;
    CLI::App* sim = app.add_subcommand("sim", "The deterministic simulator (sim/README.md)");
    sim->require_subcommand(1);
    CLI::App* sim_run = sim->add_subcommand("run", "Run one scenario (sim/scenarios/*.toml)");
    sim_run->add_option("FILE", sim_args.file, "Scenario file (TOML)")->required();
    CLI::Option* sim_seed_option = sim_run->add_option("--seed", sim_seed, "Seed (default: the scenario's)");
    sim_run->add_flag("--explain", sim_args.explain,
                      "Print the time-ordered transcript with the RFC sections behind each step");
    sim_run->add_option("--trace", sim_args.trace_file, "Write the transcript to FILE (\"-\": stdout)");
    sim_run->add_option("--repeat", sim_args.repeat,
                        "Run N times (seeds S..S+N-1) quietly; print scenarios_per_second")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}));
    SimSwarmArgs swarm_args;
    CLI::App* sim_swarm = sim->add_subcommand(
        "swarm", "Random scenarios from seeds, checked against the invariants (sim/README.md)");
    sim_swarm->add_option("--seeds", swarm_args.seeds, "How many seeds (default 100)")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}));
    sim_swarm->add_option("--start", swarm_args.start, "First seed (default 1)");
    sim_swarm->add_flag("--explain", swarm_args.explain, "Print each run's annotated transcript");
    sim_swarm->add_flag("--verbose", swarm_args.verbose, "One line for every seed, also those that pass");
    sim_swarm->add_option("--trace", swarm_args.trace_file,
                          "Write the last run's transcript to FILE (\"-\": stdout)");

    // DKIM and DMARC tools (app/auth_commands.hpp): messages on standard input.
    DkimKeygenArgs keygen_args;
    DkimSignArgs sign_args;
    DkimVerifyArgs verify_args;
    DmarcCheckArgs dmarc_args;
    CLI::App* dkim = app.add_subcommand("dkim", "DKIM (RFC 6376, RFC 8463) tools");
    dkim->require_subcommand(1);
    CLI::App* dkim_keygen = dkim->add_subcommand(
        "keygen", "Write a new private key and print the TXT record to publish");
    dkim_keygen->add_option("--domain", keygen_args.domain, "Signing domain (d=)")->required();
    dkim_keygen->add_option("--selector", keygen_args.selector, "Selector (s=)")->required();
    dkim_keygen->add_option("--algorithm", keygen_args.algorithm, "rsa (default) or ed25519");
    dkim_keygen->add_option("--bits", keygen_args.bits, "RSA key size, 1024..4096 (default 2048)");
    dkim_keygen->add_option("--out", keygen_args.out,
                            "Private key file (default <selector>._domainkey.<domain>.key)");
    CLI::App* dkim_sign = dkim->add_subcommand("sign", "Sign the message on standard input");
    dkim_sign->add_option("--domain", sign_args.domain, "Signing domain (d=)")->required();
    dkim_sign->add_option("--selector", sign_args.selector, "Selector (s=)")->required();
    dkim_sign->add_option("--key", sign_args.key_file, "PEM private key file")->required();
    dkim_sign->add_option("--algorithm", sign_args.algorithm, "rsa-sha256 (default) or ed25519-sha256");
    CLI::App* dkim_verify = dkim->add_subcommand(
        "verify", "Verify every DKIM-Signature of the message on standard input");
    dkim_verify->add_option("--zone", verify_args.zone, "Answer DNS from this zone file");
    dkim_verify->add_flag("--explain", verify_args.explain,
                          "Show the data hashed and the DNS records used");
    CLI::App* dmarc = app.add_subcommand("dmarc", "DMARC (RFC 7489) tools");
    dmarc->require_subcommand(1);
    CLI::App* dmarc_check = dmarc->add_subcommand(
        "check", "SPF, DKIM and DMARC for the message on standard input");
    dmarc_check->add_option("--ip", dmarc_args.ip, "The SMTP client's IP address")->required();
    dmarc_check->add_option("--mail-from", dmarc_args.mail_from,
                            "MAIL FROM address (\"<>\" for the null sender)")
        ->required();
    dmarc_check->add_option("--helo", dmarc_args.helo, "The HELO/EHLO name");
    dmarc_check->add_option("--zone", dmarc_args.zone, "Answer DNS from this zone file");
    dmarc_check->add_flag("--explain", dmarc_args.explain,
                          "Show the records used, the alignment decision and the disposition");
    std::string report_domain, report_since, report_until;
    CLI::App* dmarc_report = dmarc->add_subcommand(
        "report", "Write an RFC 7489 aggregate report (XML) from the evaluations recorded");
    dmarc_report->add_option("DOMAIN", report_domain, "The policy domain reported on")->required();
    dmarc_report->add_option("--since", report_since, "Start: unix time or YYYY-MM-DD (UTC)")
        ->required();
    dmarc_report->add_option("--until", report_until, "End (exclusive); default now");
    dmarc_report->add_option("--config,-c", config_path,
                             "Configuration file (TOML); without it, the embedded default");

    for (CLI::App* sub : {queue_list, queue_show, queue_delete, queue_flush, queue_retry, queue_hold, queue_release})
        sub->add_option("--config,-c", config_path,
                        "Configuration file (TOML); without it, the embedded default");

    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    if (argv.empty()) argv.push_back("pigeon");
    try {
        app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e, io.out, io.err);
        if (code == 0) return exit_ok;
        // The spf, dkim and dmarc tools promise 2 for bad arguments (docs/spf.md,
        // docs/dkim.md, docs/dmarc.md); elsewhere 64.
        const bool tool = args.size() > 1 && (args[1] == "spf" || args[1] == "dkim" || args[1] == "dmarc");
        return tool ? 2 : exit_usage;
    }

    if (*pw) return passwd(commands, io);
    if (*dkim_keygen) return run_dkim_keygen(keygen_args, io.out, io.err);
    if (*dkim_sign) return run_dkim_sign(sign_args, io.in, io.out, io.err);
    if (*dkim_verify) return run_dkim_verify(verify_args, io.in, io.out, io.err);
    if (*dmarc_check) return run_dmarc_check(dmarc_args, io.in, io.out, io.err);
    if (*sim_run) {
        if (!commands.sim_run) return exit_usage;
        if (*sim_seed_option) sim_args.seed = sim_seed;
        return commands.sim_run(sim_args, io);
    }
    if (*sim_swarm) {
        if (!commands.sim_swarm) return exit_usage;
        return commands.sim_swarm(swarm_args, io);
    }
    if (*spf_check) {
        if (!commands.spf_check) return exit_usage;
        return commands.spf_check(spf_args, io);
    }

    if (*check) {
        const auto config = config::load_config(config_path);
        if (!config) {
            io.err << config.error().message << "\n";
            return exit_bad_config;
        }
        io.out << "OK: " << plural(config->listeners.size(), "listener") << ", "
               << plural(config->local_domains.size(), "local domain") << ", "
               << plural(config->users.size(), "user");
        if (!config->delivery.discard.empty())
            io.out << ", " << config->delivery.discard.size()
                   << (config->delivery.discard.size() == 1 ? " discard address" : " discard addresses");
        io.out << "\n";
        for (const std::string& w : config::credential_warnings(*config)) io.out << "warning: " << w << "\n";
        return exit_ok;
    }

    const auto config = effective_config(config_path, io);
    if (!config) return exit_bad_config;
    if (*show) {
        io.out << config::to_toml(*config);
        return exit_ok;
    }
    if (*dmarc_report)
        return run_dmarc_report_command(config->state_dir, report_domain, report_since,
                                        report_until, config->hostname, io.out, io.err);
    if (*serve) return commands.serve(*config, config_path.empty());
    if (*queue_list) return commands.queue_list(*config);
    if (*queue_show) return commands.queue_show(*config, queue_id);
    if (*queue_delete) return commands.queue_delete(*config, queue_id);
    if (*queue_flush) return run_queue_flush(*config, io.out, io.err);
    if (*queue_retry) return run_queue_retry(*config, queue_id, io.out, io.err);
    if (*queue_hold) return run_queue_change(*config, ControlRequest::Kind::hold, queue_id, io.out, io.err);
    if (*queue_release) return run_queue_change(*config, ControlRequest::Kind::release, queue_id, io.out, io.err);
    return exit_usage;  // unreachable: a subcommand is required
}

}  // namespace pigeon::app
