// pigeon srs forward|reverse (app/auth_commands.hpp): policy/srs.hpp from the command line,
// for operators checking what a bounce address stands for and for the interoperability test
// against postsrsd (tests/integration/test_srs.py).
#include <chrono>
#include <fstream>
#include <sstream>

#include "app/auth_commands.hpp"
#include "policy/srs.hpp"

namespace pigeon::app {

core::Result<std::vector<std::string>> parse_srs_secrets(std::string_view text, const std::string& file) {
    std::vector<std::string> secrets;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!line.empty()) secrets.emplace_back(line);
        start = end + 1;
    }
    if (secrets.empty()) return core::ParseError{file + ": no secret (one a line; the first signs)"};
    return secrets;
}

int run_srs(const SrsArgs& args, std::ostream& out, std::ostream& err) {
    std::ifstream in(args.secret_file, std::ios::binary);
    if (!in) {
        err << "pigeon srs: --secret-file " << args.secret_file << ": cannot be read\n";
        return auth_cmd::bad_input;
    }
    std::stringstream text;
    text << in.rdbuf();
    auto secrets = parse_srs_secrets(text.str(), args.secret_file);
    if (!secrets) {
        err << "pigeon srs: " << secrets.error().message << "\n";
        return auth_cmd::bad_input;
    }
    policy::SrsOptions options;
    options.domain = args.domain;
    options.secrets = std::move(secrets).value();
    options.max_age_days = args.max_age_days;
    const policy::Srs srs(std::move(options));
    const std::int64_t day =
        args.day ? *args.day
                 : policy::srs_day(std::chrono::duration_cast<std::chrono::seconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
    int status = 0;
    for (const std::string& a : args.addresses) {
        if (args.reverse) {
            const policy::SrsReverse r = srs.reverse(a, day);
            if (r.outcome == policy::SrsReverse::Outcome::decoded) {
                out << r.address << "\n";
            } else {
                err << a << ": " << r.reason << "\n";
                status = auth_cmd::failure;
            }
        } else {
            const policy::SrsForward f = srs.forward(a, day);
            out << f.address << "\n";
            if (!f.error.empty()) {
                err << a << ": not rewritten: " << f.error << "\n";
                status = auth_cmd::failure;
            }
        }
    }
    return status;
}

}  // namespace pigeon::app
