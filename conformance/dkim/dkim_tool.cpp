// pigeon-dkim-tool: DKIM signing and verification over files, for the interop scripts
// (tests/auth/dkim/interop/). The logic is the library's (auth/dkim); this only reads files.
//
//   pigeon-dkim-tool sign --domain D --selector S --key PEM_FILE [--algorithm rsa-sha256|ed25519-sha256]
//                         [--canon relaxed/relaxed] [--time T] [--headers a:b:c] < message
//       prints the DKIM-Signature field (CRLF lines) to prepend.
//   pigeon-dkim-tool verify --zone FILE [--time T] < message
//       prints one line per signature: "<status> d=<d> s=<s> <reason>"; exit 0 if all pass,
//       1 if any does not, 2 on usage errors or when there is no signature.
// --zone takes an RFC 1035 zone file (dns::ZoneResolver) or, when parsing as a zone fails,
// "name TXT value" / "name value" lines. Input with bare LF line ends is converted to CRLF.
#include <botan/auto_rng.h>

#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include "auth/dkim/dkim.hpp"
#include "dns/zone_resolver.hpp"

using namespace pigeon;

namespace {

std::string to_crlf(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
        out += text[i];
    }
    return out;
}

std::string read_all(std::istream& in) { return std::string(std::istreambuf_iterator<char>(in), {}); }

int usage() {
    std::cerr << "usage: pigeon-dkim-tool sign --domain D --selector S --key FILE [--algorithm A] [--canon H/B] [--time T]\n"
                 "       pigeon-dkim-tool verify --zone FILE [--time T]\n";
    return 2;
}

std::optional<dkim::Canon> canon_of(const std::string& s) {
    if (s == "simple") return dkim::Canon::simple;
    if (s == "relaxed") return dkim::Canon::relaxed;
    return std::nullopt;
}

// "name [TXT] value" lines: a value may be quoted ("...") in one or more strings.
dns::ZoneResolver simple_zone(const std::string& text) {
    dns::ZoneResolver zone;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        std::istringstream ls(line);
        std::string name, word;
        ls >> name;
        std::string rest;
        std::getline(ls, rest);
        std::size_t b = rest.find_first_not_of(" \t");
        rest = b == std::string::npos ? "" : rest.substr(b);
        if (rest.rfind("TXT ", 0) == 0 || rest.rfind("IN TXT ", 0) == 0) rest = rest.substr(rest.find("TXT ") + 4);
        std::string value;
        if (!rest.empty() && rest[0] == '"') {
            bool in_quote = false;
            for (char c : rest) {
                if (c == '"') in_quote = !in_quote;
                else if (in_quote) value += c;
            }
        } else {
            value = rest;
        }
        if (!name.empty() && name.back() == '.') name.pop_back();
        zone.add(dns::Record{name, dns::RrType::txt, 300, dns::Txt{{value}}});
    }
    return zone;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage();
    std::string command = argv[1];
    std::map<std::string, std::string> args;
    for (int i = 2; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
    std::int64_t now = args.count("--time") ? std::stoll(args["--time"]) : static_cast<std::int64_t>(std::time(nullptr));
    std::string message = to_crlf(read_all(std::cin));
    Botan::AutoSeeded_RNG rng;

    if (command == "sign") {
        if (!args.count("--domain") || !args.count("--selector") || !args.count("--key")) return usage();
        std::ifstream key_file(args["--key"], std::ios::binary);
        if (!key_file) {
            std::cerr << "cannot read " << args["--key"] << "\n";
            return 2;
        }
        dkim::SignOptions o;
        o.domain = args["--domain"];
        o.selector = args["--selector"];
        o.private_key = read_all(key_file);
        o.now = now;
        if (args.count("--algorithm")) {
            auto a = dkim::algorithm_from_name(args["--algorithm"]);
            if (!a) return usage();
            o.algorithm = *a;
        }
        if (args.count("--canon")) {
            std::string c = args["--canon"];
            std::size_t slash = c.find('/');
            auto h = canon_of(c.substr(0, slash));
            auto b = canon_of(slash == std::string::npos ? "simple" : c.substr(slash + 1));
            if (!h || !b) return usage();
            o.header_canon = *h;
            o.body_canon = *b;
        }
        if (args.count("--headers")) {
            o.headers.clear();
            std::istringstream hs(args["--headers"]);
            std::string h;
            while (std::getline(hs, h, ':')) o.headers.push_back(h);
        }
        auto s = dkim::sign(message, o, rng);
        if (!s) {
            std::cerr << "sign: " << s.error().message << "\n";
            return 1;
        }
        std::cout << s.value();
        return 0;
    }
    if (command == "verify") {
        if (!args.count("--zone")) return usage();
        std::ifstream zf(args["--zone"], std::ios::binary);
        std::string zone_text = read_all(zf);
        auto parsed = dns::ZoneResolver::parse(zone_text);
        dns::ZoneResolver zone = parsed ? std::move(parsed.value()) : simple_zone(zone_text);
        dkim::VerifyOptions options;
        options.now = now;
        int rc = 2;
        dkim::check_dkim_async(zone, message, options, [&](dkim::DkimVerification v) {
            if (!v.problem.empty()) {
                std::cout << "error " << v.problem << "\n";
                return;
            }
            if (v.signatures.empty()) {
                std::cout << "none\n";
                return;
            }
            rc = 0;
            for (const auto& s : v.signatures) {
                std::cout << dkim::status_name(s.status) << " d=" << s.domain << " s=" << s.selector;
                if (s.algorithm) std::cout << " a=" << dkim::algorithm_name(*s.algorithm);
                if (s.weak_algorithm) std::cout << " (weak: RFC 8301)";
                if (s.body_length) std::cout << " l=" << *s.body_length;
                if (!s.reason.empty()) std::cout << " " << s.reason;
                std::cout << "\n";
                if (s.status != dkim::Status::pass) rc = 1;
            }
        });
        return rc;
    }
    return usage();
}
