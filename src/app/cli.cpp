// pigeon/app/cli.cpp: the CLI11 command tree and the commands that need nothing but a config.
#include "app/cli.hpp"
#include "os/privilege.hpp"

#include "app/auth_commands.hpp"
#include "app/dmarc_report.hpp"
#include "app/sendmail.hpp"

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

}  // namespace

std::optional<config::Config> effective_config(const std::string& path, Io& io) {
    if (path.empty()) return config::default_config(config::system_hostname());
    auto config = config::load_config(path);
    if (!config) {
        io.err << config.error().message << "\n";
        return std::nullopt;
    }
    return std::move(config).value();
}

namespace {

constexpr const char* config_help = "Configuration file (TOML); without it, the embedded default";

// The command line: every subcommand, what its options fill in, and which command it runs.
// The options are members, so CLI11 writes into them while parsing; the object never moves.
class CommandLine {
public:
    CommandLine() {
        app_.set_version_flag("--version", std::string(version_string));
        app_.require_subcommand(1);
        add_server_commands();
        add_queue_commands();
        add_spf_commands();
        add_sim_commands();
        add_dkim_commands();
        add_dmarc_commands();
        add_srs_commands();
        for (CLI::App* sub : {queue_list_, queue_show_, queue_delete_, queue_flush_, queue_retry_, queue_hold_,
                              queue_release_})
            sub->add_option("--config,-c", config_path_, config_help);
    }

    // A usage error exits 64, except for the spf, dkim, dmarc and srs tools, which promise 2 for
    // bad arguments (docs/spf.md, docs/dkim.md, docs/dmarc.md, docs/routing.md); --help and
    // --version exit 0.
    std::optional<int> parse(const std::vector<std::string>& args, Io& io) {
        std::vector<const char*> argv;
        for (const std::string& a : args) argv.push_back(a.c_str());
        if (argv.empty()) argv.push_back("pigeon");
        try {
            app_.parse(static_cast<int>(argv.size()), argv.data());
        } catch (const CLI::ParseError& e) {
            const int code = app_.exit(e, io.out, io.err);
            if (code == 0) return exit_ok;
            const bool tool = args.size() > 1 && (args[1] == "spf" || args[1] == "dkim" || args[1] == "dmarc" ||
                                                  args[1] == "srs");
            return tool ? 2 : exit_usage;
        }
        return std::nullopt;
    }

    // Runs the subcommand given: first those that need no configuration, then check-config,
    // then those that run on the effective configuration.
    int run(const Commands& commands, Io& io) {
        if (auto status = run_tool(commands, io)) return *status;
        if (*check_) return check_config(io);
        const auto config = effective_config(config_path_, io);
        if (!config) return exit_bad_config;
        return run_with_config(*config, commands, io);
    }

private:
    void add_server_commands() {
        serve_ = app_.add_subcommand("serve", "Run the server");
        serve_->add_option("--config,-c", config_path_,
                           "Configuration file (TOML); without it, the embedded default: "
                           "./pigeon-data, ports 2525/2587/2465 on 127.0.0.1, a demo user");
        check_ = app_.add_subcommand("check-config", "Validate a configuration file");
        check_->add_option("--config,-c", config_path_, "Configuration file (TOML)")->required();
        show_ = app_.add_subcommand("show-config",
                                    "Print the effective configuration, defaults filled in, as TOML");
        show_->add_option("--config,-c", config_path_, config_help);
        reload_ = app_.add_subcommand("reload",
                                      "Make the running server re-read its configuration (as SIGHUP does) and "
                                      "print the outcome; exits 1 when it keeps the old one");
        reload_->add_option("--config,-c", config_path_, config_help);
        passwd_ = app_.add_subcommand("passwd",
                                      "Read a password on standard input and print its hash for [[users]]");
        // Parsed by run_sendmail_names before CLI11; here for --help.
        app_.add_subcommand("sendmail", "Hand a message to the running server, as sendmail(1) (docs/operations.md)")
            ->prefix_command();
        app_.add_subcommand("mailq", "List the queue as Postfix's mailq does (sendmail -bp)")->prefix_command();
    }

    void add_queue_commands() {
        CLI::App* queue = app_.add_subcommand("queue", "Inspect or change the outgoing queue");
        queue->require_subcommand(1);
        queue_list_ = queue->add_subcommand("list", "List queued messages");
        queue_list_->add_flag("--json", queue_json_, "One JSON document (docs/queue.md)");
        queue_show_ = queue->add_subcommand("show", "Show one queued message");
        queue_delete_ = queue->add_subcommand("delete", "Delete one queued message");
        queue_flush_ = queue->add_subcommand("flush", "Retry every deferred recipient now");
        queue_retry_ = queue->add_subcommand("retry", "Retry one queued message now");
        queue_hold_ = queue->add_subcommand("hold", "Keep a queued message (or --all) but deliver it only after release");
        queue_release_ = queue->add_subcommand("release", "Deliver a held message (or --all) again");
        for (CLI::App* sub : {queue_show_, queue_delete_, queue_retry_})
            sub->add_option("ID", queue_id_, "Queue id")->required();
        for (CLI::App* sub : {queue_hold_, queue_release_}) add_id_or_all(sub);
    }

    // hold and release: exactly one of a queue id and --all.
    void add_id_or_all(CLI::App* sub) {
        CLI::Option* id = sub->add_option("ID", queue_id_, "Queue id");
        CLI::Option* all = sub->add_flag("--all", queue_all_, "Every queued message");
        id->excludes(all);
        sub->callback([id, all] {
            if (id->count() == 0 && all->count() == 0) throw CLI::RequiredError("ID or --all");
        });
    }

    void add_spf_commands() {
        CLI::App* spf = app_.add_subcommand("spf", "SPF (RFC 7208) tools");
        spf->require_subcommand(1);
        spf_check_ = spf->add_subcommand(
            "check", "Evaluate SPF for a client IP and sender; prints an Authentication-Results entry");
        spf_check_->add_option("--ip", spf_args_.ip, "The SMTP client's IP address")->required();
        spf_check_->add_option("--sender", spf_args_.sender,
                               "MAIL FROM address (\"<>\" for the null sender: checks --helo)")
            ->required();
        spf_check_->add_option("--helo", spf_args_.helo, "The HELO/EHLO name");
        spf_check_->add_option("--zone", spf_args_.zone,
                               "Answer DNS from this zone file (RFC 1035 format) instead of the network");
        spf_check_->add_flag("--explain", spf_args_.explain,
                             "Show each term evaluated, each DNS query and the lookup counts");
    }

    void add_sim_commands() {
        CLI::App* sim = app_.add_subcommand("sim", "The deterministic simulator (sim/README.md)");
        sim->require_subcommand(1);
        sim_run_ = sim->add_subcommand("run", "Run one scenario (sim/scenarios/*.toml)");
        sim_run_->add_option("FILE", sim_args_.file, "Scenario file (TOML)")->required();
        sim_seed_option_ = sim_run_->add_option("--seed", sim_seed_, "Seed (default: the scenario's)");
        sim_run_->add_flag("--explain", sim_args_.explain,
                           "Print the time-ordered transcript with the RFC sections behind each step");
        sim_run_->add_option("--trace", sim_args_.trace_file, "Write the transcript to FILE (\"-\": stdout)");
        sim_run_->add_option("--repeat", sim_args_.repeat,
                             "Run N times (seeds S..S+N-1) quietly; print scenarios_per_second")
            ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}));
        sim_swarm_ = sim->add_subcommand(
            "swarm", "Random scenarios from seeds, checked against the invariants (sim/README.md)");
        sim_swarm_->add_option("--seeds", swarm_args_.seeds, "How many seeds (default 100)")
            ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}));
        sim_swarm_->add_option("--start", swarm_args_.start, "First seed (default 1)");
        sim_swarm_->add_flag("--explain", swarm_args_.explain, "Print each run's annotated transcript");
        sim_swarm_->add_flag("--verbose", swarm_args_.verbose, "One line for every seed, also those that pass");
        sim_swarm_->add_option("--trace", swarm_args_.trace_file,
                               "Write the last run's transcript to FILE (\"-\": stdout)");
    }

    // DKIM and DMARC tools (app/auth_commands.hpp): messages on standard input.
    void add_dkim_commands() {
        CLI::App* dkim = app_.add_subcommand("dkim", "DKIM (RFC 6376, RFC 8463) tools");
        dkim->require_subcommand(1);
        dkim_keygen_ = dkim->add_subcommand("keygen", "Write a new private key and print the TXT record to publish");
        dkim_keygen_->add_option("--domain", keygen_args_.domain, "Signing domain (d=)")->required();
        dkim_keygen_->add_option("--selector", keygen_args_.selector, "Selector (s=)")->required();
        dkim_keygen_->add_option("--algorithm", keygen_args_.algorithm, "rsa (default) or ed25519");
        dkim_keygen_->add_option("--bits", keygen_args_.bits, "RSA key size, 1024..4096 (default 2048)");
        dkim_keygen_->add_option("--out", keygen_args_.out,
                                 "Private key file (default <selector>._domainkey.<domain>.key)");
        dkim_sign_ = dkim->add_subcommand("sign", "Sign the message on standard input");
        dkim_sign_->add_option("--domain", sign_args_.domain, "Signing domain (d=)")->required();
        dkim_sign_->add_option("--selector", sign_args_.selector, "Selector (s=)")->required();
        dkim_sign_->add_option("--key", sign_args_.key_file, "PEM private key file")->required();
        dkim_sign_->add_option("--algorithm", sign_args_.algorithm, "rsa-sha256 (default) or ed25519-sha256");
        dkim_verify_ = dkim->add_subcommand("verify", "Verify every DKIM-Signature of the message on standard input");
        dkim_verify_->add_option("--zone", verify_args_.zone, "Answer DNS from this zone file");
        dkim_verify_->add_flag("--explain", verify_args_.explain, "Show the data hashed and the DNS records used");
    }

    void add_srs_commands() {
        CLI::App* srs = app_.add_subcommand("srs", "Sender Rewriting Scheme tools (libsrs2's format, as postsrsd)");
        srs->require_subcommand(1);
        srs_forward_ = srs->add_subcommand("forward", "Rewrite envelope senders as a forwarder does");
        srs_reverse_ = srs->add_subcommand("reverse", "Decode SRS addresses back to the senders they stand for");
        for (CLI::App* sub : {srs_forward_, srs_reverse_}) {
            sub->add_option("ADDRESS", srs_args_.addresses, "Addresses, one result a line")->required();
            sub->add_option("--domain", srs_args_.domain, "The forwarding domain (the SRS addresses' @domain)")
                ->required();
            sub->add_option("--secret-file", srs_args_.secret_file,
                            "Secrets, one a line; the first signs, all verify (postsrsd's file)")
                ->required();
            sub->add_option("--day", srs_day_, "The day, in days since 1970-01-01 UTC (default: today)");
            sub->add_option("--max-age", srs_args_.max_age_days, "Days an SRS0 address stays valid (default 21)");
        }
    }

    void add_dmarc_commands() {
        CLI::App* dmarc = app_.add_subcommand("dmarc", "DMARC (RFC 7489) tools");
        dmarc->require_subcommand(1);
        dmarc_check_ = dmarc->add_subcommand("check", "SPF, DKIM and DMARC for the message on standard input");
        dmarc_check_->add_option("--ip", dmarc_args_.ip, "The SMTP client's IP address")->required();
        dmarc_check_->add_option("--mail-from", dmarc_args_.mail_from,
                                 "MAIL FROM address (\"<>\" for the null sender)")
            ->required();
        dmarc_check_->add_option("--helo", dmarc_args_.helo, "The HELO/EHLO name");
        dmarc_check_->add_option("--zone", dmarc_args_.zone, "Answer DNS from this zone file");
        dmarc_check_->add_flag("--explain", dmarc_args_.explain,
                               "Show the records used, the alignment decision and the disposition");
        dmarc_report_ = dmarc->add_subcommand(
            "report", "Write an RFC 7489 aggregate report (XML) from the evaluations recorded");
        dmarc_report_->add_option("DOMAIN", report_domain_, "The policy domain reported on")->required();
        dmarc_report_->add_option("--since", report_since_, "Start: unix time or YYYY-MM-DD (UTC)")->required();
        dmarc_report_->add_option("--until", report_until_, "End (exclusive); default now");
        dmarc_report_->add_option("--config,-c", config_path_, config_help);
    }

    // The subcommands that need no configuration; nullopt for the others.
    std::optional<int> run_tool(const Commands& commands, Io& io) {
        if (*passwd_) return passwd(commands, io);
        if (*dkim_keygen_) return run_dkim_keygen(keygen_args_, io.out, io.err);
        if (*dkim_sign_) return run_dkim_sign(sign_args_, io.in, io.out, io.err);
        if (*dkim_verify_) return run_dkim_verify(verify_args_, io.in, io.out, io.err);
        if (*dmarc_check_) return run_dmarc_check(dmarc_args_, io.in, io.out, io.err);
        if (*srs_forward_ || *srs_reverse_) {
            srs_args_.reverse = static_cast<bool>(*srs_reverse_);
            if (srs_reverse_->count("--day") + srs_forward_->count("--day") > 0) srs_args_.day = srs_day_;
            return run_srs(srs_args_, io.out, io.err);
        }
        if (*sim_run_) {
            if (!commands.sim_run) return exit_usage;
            if (*sim_seed_option_) sim_args_.seed = sim_seed_;
            return commands.sim_run(sim_args_, io);
        }
        if (*sim_swarm_) return commands.sim_swarm ? commands.sim_swarm(swarm_args_, io) : exit_usage;
        if (*spf_check_) return commands.spf_check ? commands.spf_check(spf_args_, io) : exit_usage;
        return std::nullopt;
    }

    int check_config(Io& io) {
        const auto config = config::load_config(config_path_);
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

    int run_with_config(const config::Config& config, const Commands& commands, Io& io) {
        if (*show_) {
            io.out << config::to_toml(config);
            return exit_ok;
        }
        if (*dmarc_report_)
            return run_dmarc_report_command(config.state_dir, report_domain_, report_since_, report_until_,
                                            config.hostname, io.out, io.err);
        if (*serve_) return commands.serve(config, config_path_);
        // Root acting on a service user's state directory acts as that user (os/privilege.hpp),
        // so that the control requests and spool files it writes stay the server's.
        if (*reload_ || *queue_list_ || *queue_show_ || *queue_delete_ || *queue_flush_ || *queue_retry_ ||
            *queue_hold_ || *queue_release_)
            if (auto s = os::become_owner_of(config.state_dir); !s) {
                io.err << "pigeon: cannot act as the owner of " << config.state_dir << ": " << s.error().message << "\n";
                return exit_failure;
            }
        if (*reload_) return run_reload(config, io.out, io.err);
        if (*queue_list_) return queue_json_ ? print_queue_json(config, io.out, io.err) : commands.queue_list(config);
        if (*queue_show_) return commands.queue_show(config, queue_id_);
        if (*queue_delete_) return commands.queue_delete(config, queue_id_);
        if (*queue_flush_) return run_queue_flush(config, io.out, io.err);
        if (*queue_retry_) return run_queue_retry(config, queue_id_, io.out, io.err);
        using K = ControlRequest::Kind;
        if (*queue_hold_) return run_queue_change(config, queue_all_ ? K::hold_all : K::hold, queue_id_, io.out, io.err);
        if (*queue_release_)
            return run_queue_change(config, queue_all_ ? K::release_all : K::release, queue_id_, io.out, io.err);
        return exit_usage;  // unreachable: a subcommand is required
    }

    CLI::App app_{"Pigeon: an SMTP server for submission and inbound mail.", "pigeon"};
    std::string config_path_, queue_id_;
    bool queue_json_ = false, queue_all_ = false;
    CLI::App *serve_ = nullptr, *check_ = nullptr, *show_ = nullptr, *passwd_ = nullptr, *reload_ = nullptr;
    CLI::App *queue_list_ = nullptr, *queue_show_ = nullptr, *queue_delete_ = nullptr, *queue_flush_ = nullptr,
             *queue_retry_ = nullptr, *queue_hold_ = nullptr, *queue_release_ = nullptr;
    SpfCheckArgs spf_args_;
    CLI::App* spf_check_ = nullptr;
    SimRunArgs sim_args_;
    std::uint64_t sim_seed_ = 0;
    CLI::Option* sim_seed_option_ = nullptr;
    CLI::App *sim_run_ = nullptr, *sim_swarm_ = nullptr;
    SimSwarmArgs swarm_args_;
    DkimKeygenArgs keygen_args_;
    DkimSignArgs sign_args_;
    DkimVerifyArgs verify_args_;
    DmarcCheckArgs dmarc_args_;
    CLI::App *dkim_keygen_ = nullptr, *dkim_sign_ = nullptr, *dkim_verify_ = nullptr;
    CLI::App *dmarc_check_ = nullptr, *dmarc_report_ = nullptr;
    SrsArgs srs_args_;
    std::int64_t srs_day_ = 0;
    CLI::App *srs_forward_ = nullptr, *srs_reverse_ = nullptr;
    std::string report_domain_, report_since_, report_until_;
};

}  // namespace

namespace {

// `sendmail ...` and `mailq` (the package's links to this binary), `pigeon sendmail ...` and
// `pigeon mailq`: sendmail(1)'s own option syntax, so they are parsed before CLI11 (sendmail.hpp).
std::optional<int> run_sendmail_names(const std::vector<std::string>& args, Io& io) {
    if (args.empty()) return std::nullopt;
    const std::string_view name = program_name(args[0]);
    if (name == "sendmail" || name == "mailq")
        return run_sendmail({args.begin() + 1, args.end()}, name == "mailq", io);
    if (args.size() > 1 && (args[1] == "sendmail" || args[1] == "mailq"))
        return run_sendmail({args.begin() + 2, args.end()}, args[1] == "mailq", io);
    return std::nullopt;
}

}  // namespace

int run_cli(const std::vector<std::string>& args, const Commands& commands, Io io) {
    if (auto status = run_sendmail_names(args, io)) return *status;
    CommandLine command_line;
    if (auto status = command_line.parse(args, io)) return *status;
    return command_line.run(commands, io);
}

}  // namespace pigeon::app
