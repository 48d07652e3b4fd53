// pigeon dkim keygen / sign / verify (see app/auth_commands.hpp), and the helpers the dmarc
// command shares. The DKIM logic is the library's (auth/dkim); this file reads and writes
// files and streams, picks the resolver, and formats what the library returns.
#include <botan/auto_rng.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>

#include "app/auth_commands.hpp"
#include "app/wait_for.hpp"
#include "auth/dkim/canon.hpp"
#include "auth/dkim/record.hpp"
#include "dns/unbound_resolver.hpp"
#include "dns/zone_resolver.hpp"

namespace pigeon::app {
namespace auth_cmd {

std::string read_message(std::istream& in, std::string& error) {
    std::string raw;
    char buffer[65536];
    // One octet past the limit tells "exactly at the limit" from "over it".
    while (raw.size() <= max_command_message_octets && in.read(buffer, sizeof buffer).gcount() > 0)
        raw.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (raw.size() > max_command_message_octets) {
        error = "the message on standard input is larger than " +
                std::to_string(max_command_message_octets / (1024 * 1024)) + " MiB";
        return {};
    }
    if (raw.empty()) {
        error = "no message on standard input";
        return {};
    }
    // Messages saved by editors and mail stores often have bare LF line ends; DKIM hashes
    // CRLF lines (RFC 6376 3.4), so a message is signed and verified as it would travel.
    std::string message;
    message.reserve(raw.size() + raw.size() / 32);
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) message += '\r';
        message += raw[i];
    }
    return message;
}

std::unique_ptr<RecordingResolver> RecordingResolver::open(const std::string& zone_file, std::string& error,
                                                           int& status) {
    if (!zone_file.empty()) {
        auto loaded = dns::ZoneResolver::load(zone_file);
        if (!loaded.ok()) {
            error = "--zone: " + loaded.error().message;
            status = bad_input;
            return nullptr;
        }
        return std::unique_ptr<RecordingResolver>(
            new RecordingResolver(std::make_unique<dns::ZoneResolver>(std::move(loaded).value())));
    }
    auto unbound = dns::UnboundResolver::create(dns::UnboundOptions{});
    if (!unbound.ok()) {
        error = "DNS: " + unbound.error().message;
        status = failure;
        return nullptr;
    }
    return std::unique_ptr<RecordingResolver>(new RecordingResolver(std::move(unbound).value()));
}

void RecordingResolver::resolve(const dns::Question& question, std::function<void(dns::Answer)> done) {
    inner_->resolve(question, [this, question, done = std::move(done)](dns::Answer answer) {
        {
            std::lock_guard lock(mutex_);
            log_.push_back({question, answer});
        }
        done(std::move(answer));
    });
}

std::vector<RecordingResolver::Lookup> RecordingResolver::lookups() const {
    std::lock_guard lock(mutex_);
    return log_;
}

void print_lookups(const std::vector<RecordingResolver::Lookup>& lookups, std::ostream& out) {
    for (const auto& l : lookups) {
        out << "  " << l.question.name << " " << dns::type_name(l.question.type) << ": "
            << dns::rcode_name(l.answer.rcode) << " (" << dns::security_name(l.answer.security) << ")";
        if (l.answer.records.empty()) {
            out << (l.answer.rcode == dns::Rcode::noerror ? ", no records" : "") << "\n";
            continue;
        }
        out << "\n";
        for (const auto& r : l.answer.records) out << "    " << dns::to_zone_line(r) << "\n";
    }
}

dkim::DkimVerification verify_dkim(dns::Resolver& resolver, const std::string& message, std::int64_t now) {
    dkim::VerifyOptions options;
    options.now = now;
    // The resolver may answer from its own thread.
    return wait_for<dkim::DkimVerification>(
        [&](auto done) { dkim::check_dkim_async(resolver, message, options, std::move(done)); });
}

std::string render(const dmarc::ResInfo& info) {
    std::string out = info.method + "=" + info.result;
    if (!info.comment.empty()) {
        out += " (";
        for (char c : info.comment) {
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) continue;  // one line, always
            if (c == '(' || c == ')' || c == '\\') out += '\\';
            out += c;
        }
        out += ")";
    }
    for (const auto& p : info.properties)
        out += " " + p.ptype + "." + p.property + "=" + dmarc::quote_value(p.value);
    return out;
}

}  // namespace auth_cmd

namespace {

using auth_cmd::bad_input;
using auth_cmd::failure;

// Key files are a few KiB; anything much larger is not a key.
constexpr std::size_t max_key_file_octets = 1024 * 1024;
constexpr std::size_t min_rsa_bits = 1024;  // RFC 8301 3.2: verifiers reject smaller keys
constexpr std::size_t max_rsa_bits = 4096;  // RFC 8301 3.2: verifiers need only go this far
// --explain shows at most this much of each hashed text: enough to see what canonicalization
// did, without flooding the terminal with a large attachment.
constexpr std::size_t max_shown_octets = 16 * 1024;

// A domain or selector as DKIM puts it in DNS: LDH labels (plus '_'), 1-63 octets each.
bool valid_dns_name(std::string_view name) {
    if (name.empty() || name.size() > dns::max_name_text_octets) return false;
    std::size_t label = 0;
    for (char c : name) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
        if (++label > dns::max_label_octets) return false;
    }
    return label > 0;
}

std::string strip_dot(std::string s) {
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

// The zone file form of a TXT record's text: quoted strings of at most 255 octets.
std::string txt_strings(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); i += dns::max_character_string_octets) {
        if (!out.empty()) out += ' ';
        out += '"';
        for (char c : text.substr(i, dns::max_character_string_octets)) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    return out.empty() ? "\"\"" : out;
}

// Hashed data made visible: CR, LF, TAB and other controls escaped, a line break after each LF.
void show_data(std::ostream& out, std::string_view data) {
    const std::string_view shown = data.substr(0, max_shown_octets);
    std::string line = "    ";
    for (char c : shown) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '\r') line += "\\r";
        else if (c == '\n') {
            out << line << "\\n\n";
            line = "    ";
        } else if (c == '\t') line += "\\t";
        else if (c == '\\') line += "\\\\";
        else if (u < 0x20 || u >= 0x7f) {
            static const char hex[] = "0123456789abcdef";
            line += "\\x";
            line += hex[u >> 4];
            line += hex[u & 15];
        } else line += c;
    }
    if (line.size() > 4) out << line << "\n";
    if (data.size() > shown.size())
        out << "    ... (" << data.size() - shown.size() << " more octets not shown)\n";
}

// The header hash input of RFC 6376 3.7 (as auth/dkim computes it, repeated here only to
// show it): the h= fields bottom up, then the signature field without b= and its CRLF.
std::string header_data(const dkim::Message& message, const dkim::Signature& sig, const dkim::Field& field) {
    std::string data;
    std::map<std::string, std::size_t> used;
    for (const std::string& name : sig.headers) {
        std::size_t skip = used[name]++;
        for (auto it = message.fields.rbegin(); it != message.fields.rend(); ++it) {
            if (!dkim::name_equals(it->name, name)) continue;
            if (skip > 0) {
                --skip;
                continue;
            }
            data += dkim::canonicalize_header(*it, sig.header_canon);
            break;
        }
    }
    const auto value_offset = static_cast<std::size_t>(field.value.data() - field.raw.data());
    std::string raw(field.raw);
    raw.erase(value_offset + sig.b_begin, sig.b_end - sig.b_begin);
    dkim::Field stripped{raw, field.name,
                         std::string_view(raw).substr(value_offset, field.value.size() - (sig.b_end - sig.b_begin))};
    std::string last = dkim::canonicalize_header(stripped, sig.header_canon);
    if (last.size() >= 2) last.resize(last.size() - 2);
    return data + last;
}

std::string result_line(const dkim::SignatureResult& s) {
    dmarc::ResInfo info{"dkim", dkim::status_name(s.status), s.reason, {}};
    if (!s.domain.empty()) info.properties.push_back({"header", "d", s.domain});
    if (!s.selector.empty()) info.properties.push_back({"header", "s", s.selector});
    return auth_cmd::render(info);
}

void explain_signatures(std::ostream& out, const std::string& text, const dkim::DkimVerification& v) {
    auto message = dkim::parse_message(text);
    if (!message.ok()) return;
    std::size_t index = 0;
    for (const dkim::Field& field : message->fields) {
        if (!dkim::name_equals(field.name, "DKIM-Signature")) continue;
        if (index >= v.signatures.size()) break;
        const dkim::SignatureResult& r = v.signatures[index++];
        out << "\nsignature " << index << ": " << result_line(r) << "\n";
        auto sig = dkim::parse_signature(field.value);
        if (!sig.ok()) {
            out << "  unusable: " << sig.error().message << "\n";
            continue;
        }
        out << "  a=" << dkim::algorithm_name(sig->algorithm) << " c=" << dkim::canon_name(sig->header_canon)
            << "/" << dkim::canon_name(sig->body_canon) << " i=" << sig->identity;
        if (r.key_bits != 0) out << " key: " << r.key_bits << " bits";
        if (r.testing) out << " (key record says t=y: testing)";
        if (r.weak_algorithm) out << " (rsa-sha1 is historic, RFC 8301)";
        out << "\n  h=";
        for (std::size_t i = 0; i < sig->headers.size(); ++i) out << (i ? ":" : "") << sig->headers[i];
        out << "\n";
        const std::string header = header_data(*message, *sig, field);
        out << "  header data hashed (" << dkim::canon_name(sig->header_canon) << ", " << header.size()
            << " octets):\n";
        show_data(out, header);
        std::string body = dkim::canonicalize_body(message->body, sig->body_canon);
        if (sig->body_length) {
            out << "  l=" << *sig->body_length << ": only that many body octets are covered\n";
            if (*sig->body_length <= body.size()) body.resize(static_cast<std::size_t>(*sig->body_length));
        }
        out << "  body data hashed (" << dkim::canon_name(sig->body_canon) << ", " << body.size()
            << " octets):\n";
        show_data(out, body);
    }
    if (v.ignored > 0) out << "\n" << v.ignored << " more signature(s) not verified (limit reached)\n";
}

std::optional<std::string> read_file(const std::string& path, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = "cannot read \"" + path + "\": " + std::strerror(errno);
        return std::nullopt;
    }
    std::string text;
    char buffer[4096];
    while (text.size() <= max_key_file_octets && in.read(buffer, sizeof buffer).gcount() > 0)
        text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_key_file_octets) {
        error = "\"" + path + "\" is too large to be a key file";
        return std::nullopt;
    }
    return text;
}

// Writes `text` to a new file with mode 0600: O_EXCL, so an existing file (or a symlink
// planted in its place) is never overwritten.
int write_new_private_file(const std::string& path, const std::string& text, std::string& error) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        const int e = errno;
        error = "cannot create \"" + path + "\": " + std::strerror(e);
        return e == EEXIST ? bad_input : failure;
    }
    std::size_t done = 0;
    bool ok = ::fchmod(fd, 0600) == 0;  // the umask can only narrow it; say it outright anyway
    while (ok && done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) ok = false;
        else done += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) ok = false;
    if (!ok) {
        error = "cannot write \"" + path + "\": " + std::strerror(errno);
        ::unlink(path.c_str());  // no half-written key left behind
        return failure;
    }
    return 0;
}

}  // namespace

int run_dkim_keygen(const DkimKeygenArgs& args, std::ostream& out, std::ostream& err) {
    const char* me = "pigeon dkim keygen: ";
    const std::string domain = strip_dot(args.domain);
    if (!valid_dns_name(domain)) {
        err << me << "--domain: \"" << args.domain << "\" is not a domain name\n";
        return bad_input;
    }
    if (!valid_dns_name(args.selector)) {
        err << me << "--selector: \"" << args.selector
            << "\" is not a selector (letters, digits, '-', '_', dot-separated)\n";
        return bad_input;
    }
    dkim::KeyType type;
    if (args.algorithm == "rsa") {
        type = dkim::KeyType::rsa;
        if (args.bits < min_rsa_bits || args.bits > max_rsa_bits) {
            err << me << "--bits: " << args.bits << " is outside " << min_rsa_bits << ".." << max_rsa_bits
                << " (RFC 8301)\n";
            return bad_input;
        }
    } else if (args.algorithm == "ed25519") {
        type = dkim::KeyType::ed25519;
    } else {
        err << me << "--algorithm: \"" << args.algorithm << "\" is not rsa or ed25519\n";
        return bad_input;
    }
    const std::string name = args.selector + "._domainkey." + domain;
    const std::string path = args.out.empty() ? name + ".key" : args.out;
    // Checked before generating, so a 4096-bit key is not computed only to be thrown away;
    // the O_EXCL open below still decides.
    std::error_code ec;
    if (std::filesystem::symlink_status(path, ec).type() != std::filesystem::file_type::not_found && !ec) {
        err << me << "\"" << path << "\" already exists; refusing to overwrite a key (choose --out)\n";
        return bad_input;
    }

    Botan::AutoSeeded_RNG rng;
    auto key = dkim::generate_key(type, rng, args.bits);
    if (!key.ok()) {
        err << me << key.error().message << "\n";
        return failure;
    }
    std::string error;
    if (int status = write_new_private_file(path, key->private_key_pem, error); status != 0) {
        err << me << error << "\n";
        return status;
    }
    out << name << ". IN TXT " << txt_strings(key->dns_record) << "\n";
    out << "; the private key is in " << path << " (mode 0600); publish the TXT record above\n";
    return 0;
}

int run_dkim_sign(const DkimSignArgs& args, std::istream& in, std::ostream& out, std::ostream& err) {
    const char* me = "pigeon dkim sign: ";
    dkim::SignOptions options;
    options.domain = strip_dot(args.domain);
    options.selector = args.selector;
    if (!valid_dns_name(options.domain)) {
        err << me << "--domain: \"" << args.domain << "\" is not a domain name\n";
        return bad_input;
    }
    if (!valid_dns_name(options.selector)) {
        err << me << "--selector: \"" << args.selector << "\" is not a selector\n";
        return bad_input;
    }
    const auto algorithm = dkim::algorithm_from_name(args.algorithm);
    if (!algorithm || *algorithm == dkim::Algorithm::rsa_sha1) {
        err << me << "--algorithm: \"" << args.algorithm << "\" is not rsa-sha256 or ed25519-sha256\n";
        return bad_input;
    }
    options.algorithm = *algorithm;
    if (args.key_file.empty()) {
        err << me << "--key: the private key file is required\n";
        return bad_input;
    }
    std::string error;
    const auto key_text = read_file(args.key_file, error);
    if (!key_text) {
        err << me << "--key: " << error << "\n";
        return bad_input;
    }
    Botan::AutoSeeded_RNG rng;
    auto key = dkim::load_private_key(*key_text, rng);
    if (!key.ok()) {
        err << me << "--key: \"" << args.key_file << "\" is not a usable private key: " << key.error().message
            << "\n";
        return bad_input;
    }
    options.key = key.value();
    const std::string message = auth_cmd::read_message(in, error);
    if (message.empty()) {
        err << me << error << "\n";
        return bad_input;
    }
    options.now = static_cast<std::int64_t>(std::time(nullptr));
    auto field = dkim::sign(message, options, rng);
    if (!field.ok()) {
        err << me << field.error().message << "\n";
        return bad_input;
    }
    out << field.value() << message;
    return 0;
}

int run_dkim_verify(const DkimVerifyArgs& args, std::istream& in, std::ostream& out, std::ostream& err) {
    const char* me = "pigeon dkim verify: ";
    std::string error;
    const std::string message = auth_cmd::read_message(in, error);
    if (message.empty()) {
        err << me << error << "\n";
        return bad_input;
    }
    int status = 0;
    auto resolver = auth_cmd::RecordingResolver::open(args.zone, error, status);
    if (!resolver) {
        err << me << error << "\n";
        return status;
    }
    const auto v = auth_cmd::verify_dkim(*resolver, message, static_cast<std::int64_t>(std::time(nullptr)));
    if (!v.problem.empty()) {
        err << me << "the message's header section cannot be parsed: " << v.problem << "\n";
        return bad_input;
    }
    if (v.signatures.empty()) out << "dkim=none\n";
    for (const auto& s : v.signatures) out << result_line(s) << "\n";
    if (!args.explain) return 0;
    explain_signatures(out, message, v);
    const auto lookups = resolver->lookups();
    out << "\nDNS records used (in the order asked):\n";
    if (lookups.empty()) out << "  none\n";
    auth_cmd::print_lookups(lookups, out);
    return 0;
}

}  // namespace pigeon::app
