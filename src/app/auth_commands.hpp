// pigeon/app/auth_commands.hpp: the DKIM and DMARC command-line tools, for teaching and for
// checking a deployment by hand (dkim_cmd.cpp, dmarc_cmd.cpp).
//
// Contract:
//   pigeon dkim keygen --domain D --selector S [--algorithm rsa|ed25519] [--bits N] [--out FILE]
//       Writes the private key (PKCS#8 PEM) to FILE, default "<S>._domainkey.<D>.key" in the
//       current directory, created with mode 0600 and never over an existing file. Prints the
//       zone line to publish, `<S>._domainkey.<D>. IN TXT "..." "..."` (strings of at most 255
//       octets, RFC 1035 3.3), then a zone comment ("; ...") saying where the key went, so the
//       output can be appended to a zone file as it is. RSA bits: 1024..4096.
//   pigeon dkim sign --domain D --selector S --key FILE [--algorithm rsa-sha256|ed25519-sha256] < msg
//       Prints the DKIM-Signature field followed by the message (CRLF line ends).
//   pigeon dkim verify [--zone FILE] [--explain] < msg
//       One line per signature, top first: "dkim=pass header.d=example.com header.s=sel"
//       (a non-pass result carries its reason as an RFC 8601 comment); "dkim=none" when the
//       message has no signature. --explain adds, per signature, the canonicalized header and
//       body data that were hashed, and the DNS records used.
//   pigeon dmarc check --ip IP --mail-from ADDR [--helo NAME] [--zone FILE] [--explain] < msg
//       Runs SPF (IP, MAIL FROM, HELO), DKIM, then DMARC. The first line is the list of RFC 8601
//       results of an Authentication-Results field, unfolded and without the authserv-id:
//       "spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com header.s=sel;
//       dmarc=pass (p=reject) header.from=example.com". --explain adds the DMARC explanation
//       (discovery, the alignment decisions), the DNS records used and the disposition.
//   Messages are read from `in`; bare LF line ends are converted to CRLF, and a message larger
//   than max_command_message_octets is refused. DNS comes from --zone FILE (dns::ZoneResolver)
//   or libunbound. Exit status: 0 for any verdict, 2 for unusable input (bad arguments, a
//   missing or unreadable key or zone file, an empty or unparseable message), 1 when DNS or the
//   file system fails (libunbound cannot start, the key cannot be written).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "auth/dkim/dkim.hpp"
#include "auth/dmarc/auth_results.hpp"
#include "core/result.hpp"
#include "dns/dns.hpp"

namespace pigeon::app {

// 64 MiB: far above any SMTP size limit worth configuring, so it only stops a runaway pipe.
inline constexpr std::size_t max_command_message_octets = 64u * 1024u * 1024u;

struct DkimKeygenArgs {
    std::string domain, selector, algorithm = "rsa";
    std::size_t bits = 2048;
    std::string out;  // the private key file; "" = "<selector>._domainkey.<domain>.key"
};
struct DkimSignArgs {
    std::string domain, selector, key_file, algorithm = "rsa-sha256";
};
struct DkimVerifyArgs {
    std::string zone;  // "" = libunbound
    bool explain = false;
};
struct DmarcCheckArgs {
    std::string ip, mail_from, helo, zone;  // mail_from "" or "<>": the null reverse-path
    bool explain = false;
};

int run_dkim_keygen(const DkimKeygenArgs& args, std::ostream& out, std::ostream& err);
int run_dkim_sign(const DkimSignArgs& args, std::istream& in, std::ostream& out, std::ostream& err);
int run_dkim_verify(const DkimVerifyArgs& args, std::istream& in, std::ostream& out, std::ostream& err);
int run_dmarc_check(const DmarcCheckArgs& args, std::istream& in, std::ostream& out, std::ostream& err);

// Shared by dkim_cmd.cpp and dmarc_cmd.cpp (defined in dkim_cmd.cpp); not a CLI surface.
namespace auth_cmd {

inline constexpr int bad_input = 2;   // unusable input
inline constexpr int failure = 1;     // DNS or the file system failed

// The whole message from `in`, bare LF line ends turned into CRLF. On failure `error` says why
// (empty input, over max_command_message_octets) and the result is empty.
std::string read_message(std::istream& in, std::string& error);

// --zone FILE or libunbound, recording every question and its answer for --explain. Answers
// may arrive on libunbound's thread; the log is locked.
class RecordingResolver : public dns::Resolver {
public:
    struct Lookup {
        dns::Question question;
        dns::Answer answer;
    };
    // nullptr with `error` and `status` (bad_input for the zone file, failure for libunbound).
    static std::unique_ptr<RecordingResolver> open(const std::string& zone_file, std::string& error,
                                                   int& status);
    void resolve(const dns::Question& question, std::function<void(dns::Answer)> done) override;
    std::vector<Lookup> lookups() const;

private:
    explicit RecordingResolver(std::unique_ptr<dns::Resolver> inner) : inner_(std::move(inner)) {}
    std::unique_ptr<dns::Resolver> inner_;
    mutable std::mutex mutex_;
    std::vector<Lookup> log_;
};

// "  <name> <TYPE>: NOERROR (insecure) "txt..."" lines, one per record (or one for none).
void print_lookups(const std::vector<RecordingResolver::Lookup>& lookups, std::ostream& out);

// Runs the DKIM verifier and waits for it (the resolver may answer from another thread).
dkim::DkimVerification verify_dkim(dns::Resolver& resolver, const std::string& message, std::int64_t now);

// One RFC 8601 resinfo on one line: method=result [(comment)] ptype.property=value ...
std::string render(const dmarc::ResInfo& info);

}  // namespace auth_cmd

// pigeon srs forward|reverse: the Sender Rewriting Scheme of policy/srs.hpp, with libsrs2's
// (postsrsd's) format and secret file (one secret a line, the first signs). forward prints each
// address rewritten (or as it was: the null sender, an address already @ --domain); reverse
// prints each decoded address, or names the refusal on stderr. 0 when every address went
// through, 1 when one was refused, 2 for bad arguments (a missing or empty secret file).
struct SrsArgs {
    bool reverse = false;
    std::string domain, secret_file;
    std::vector<std::string> addresses;
    std::optional<std::int64_t> day;  // days since 1970-01-01 UTC; default today
    unsigned max_age_days = 21;
};
int run_srs(const SrsArgs& args, std::ostream& out, std::ostream& err);
// The secrets of a postsrsd-style file: every non-empty line, verbatim (a trailing CR
// dropped); an error naming the file when it has none.
core::Result<std::vector<std::string>> parse_srs_secrets(std::string_view text, const std::string& file);

}  // namespace pigeon::app
