// pigeon/queue/dsn.cpp: RFC 3464 delivery status notifications inside RFC 6522 reports.
#include "queue/dsn.hpp"

#include "core/clock.hpp"

#include <algorithm>
#include <array>
#include <memory>

namespace pigeon::queue {
namespace {

constexpr std::string_view crlf = "\r\n";
// Folding: aim for 78 octets a line (RFC 5322 2.1.1 SHOULD); a word longer than this is cut
// so that no line can pass the 998-octet MUST.
constexpr std::size_t soft_line_octets = 78;
constexpr std::size_t max_word_octets = 900;
constexpr std::size_t max_header_line_octets = 998;

bool is_ascii_text(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x80;
    });
}

// One line of 7-bit printable text: controls (CR, LF, TAB...) become spaces, runs of spaces
// one, octets >= 0x80 '?'; leading and trailing spaces are dropped.
std::string one_line_ascii(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (char ch : in) {
        const auto c = static_cast<unsigned char>(ch);
        char put = c >= 0x80 ? '?' : (c < 0x20 || c == 0x7F) ? ' ' : ch;
        if (put == ' ' && (out.empty() || out.back() == ' ')) {
            continue;
        }
        out += put;
    }
    while (!out.empty() && out.back() == ' ') {
        out.pop_back();
    }
    return out;
}

// A host name for a "dns;" field: letters, digits and . - _ : [ ] only.
std::string host_text(std::string_view in) {
    std::string out;
    for (char c : in) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']') {
            out += c;
        }
    }
    return out.substr(0, 255);
}

std::vector<std::string_view> words_of(std::string_view text) {
    std::vector<std::string_view> words;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && text[i] == ' ') ++i;
        std::size_t j = i;
        while (j < text.size() && text[j] != ' ') ++j;
        for (std::size_t k = i; k < j; k += max_word_octets) {
            words.push_back(text.substr(k, std::min(max_word_octets, j - k)));
        }
        i = j;
    }
    return words;
}

// `head` (e.g. "Diagnostic-Code:") then the words of `text`, each after one space, a new
// line ("CRLF" + continuation) whenever the line would pass soft_line_octets.
std::string fold(std::string_view head, std::string_view text, std::string_view continuation,
                 std::size_t soft = soft_line_octets) {
    std::string out(head);
    std::size_t line = head.size();
    bool first = true;
    for (std::string_view w : words_of(text)) {
        if (!first && line + 1 + w.size() > soft) {
            out += crlf;
            out += continuation;
            out += w;
            line = continuation.size() + w.size();
        } else {
            if (!out.empty() && !(first && head.empty())) out += ' ';
            out += w;
            line += (line == 0 ? 0 : 1) + w.size();
        }
        first = false;
    }
    out += crlf;
    return out;
}

std::string field(std::string_view name, std::string_view value) {
    return fold(std::string(name) + ":", value, " ");
}

std::string hex(std::uint64_t v, int digits) {
    static constexpr char d[] = "0123456789ABCDEF";
    std::string s(static_cast<std::size_t>(digits), '0');
    for (int i = digits - 1; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = d[v & 0xF];
    return s;
}

// splitmix64 finaliser: spreads the caller's random value and a counter over 64 bits.
std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// RFC 6533 utf-8-addr-xtext: QCHAR as itself, everything else as \x{HEX} of its code point
// (an invalid UTF-8 octet as U+FFFD).
std::string utf8_addr_xtext(std::string_view s) {
    std::string out;
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x21 && c <= 0x7E && c != '+' && c != '=' && c != '\\') {
            out += static_cast<char>(c);
            ++i;
            continue;
        }
        std::uint32_t cp = 0xFFFD;
        std::size_t n = 1;
        if (c < 0x80) {
            cp = c;
        } else if ((c & 0xE0) == 0xC0 || (c & 0xF0) == 0xE0 || (c & 0xF8) == 0xF0) {
            const std::size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
            std::uint32_t v = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
            bool ok = i + len <= s.size();
            for (std::size_t k = 1; ok && k < len; ++k) {
                const auto cc = static_cast<unsigned char>(s[i + k]);
                ok = (cc & 0xC0) == 0x80;
                v = (v << 6) | (cc & 0x3F);
            }
            if (ok) {
                cp = v;
                n = len;
            }
        }
        out += "\\x{" + hex(cp, cp > 0xFFFF ? 6 : cp > 0xFF ? 4 : 2) + "}";
        i += n;
    }
    return out;
}

// The original header section, ready to quote: CRLF line ends (a bare CR or LF becomes one),
// NUL as '?', lines longer than 998 octets split with a continuation space.
std::string header_section(std::string_view message) {
    std::size_t end = message.size();
    if (message.substr(0, 2) == crlf) {
        end = 0;
    } else if (const auto blank = message.find("\r\n\r\n"); blank != std::string_view::npos) {
        end = blank + 2;
    }
    const std::string_view h = message.substr(0, end);
    std::string out;
    out.reserve(h.size() + 2);
    std::size_t line = 0;
    for (std::size_t i = 0; i < h.size(); ++i) {
        const char c = h[i];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < h.size() && h[i + 1] == '\n') ++i;
            out += crlf;
            line = 0;
            continue;
        }
        if (line >= max_header_line_octets - 1) {
            out += "\r\n ";
            line = 1;
        }
        out += c == '\0' ? '?' : c;
        ++line;
    }
    if (!out.empty() && line != 0) out += crlf;
    return out;
}

std::string address_text(const core::Path& path, std::string_view reporting_mta) {
    if (path.kind == core::Path::Kind::postmaster) return "postmaster@" + std::string(reporting_mta);
    if (path.kind == core::Path::Kind::null) return "";
    return path.mailbox.to_string();
}

// Address for a 7-bit context (part 1): ASCII as is, else xtext-escaped.
std::string ascii_address(const core::Path& path, std::string_view reporting_mta) {
    const std::string a = address_text(path, reporting_mta);
    return is_ascii_text(a) ? a : utf8_addr_xtext(a);
}

core::EnhancedStatus effective_status(const DsnRecipient& r) {
    core::EnhancedStatus s = r.status;
    if (s.cls != 4 && s.cls != 5) {
        s = r.action == DsnRecipient::Action::failed ? core::EnhancedStatus{5, 0, 0}
                                                     : core::EnhancedStatus{4, 0, 0};
    }
    return s;
}

// A word-wrapped paragraph of part 1: "indent" starts every line after the first.
std::string paragraph(std::string_view first, std::string_view text, std::string_view indent) {
    return fold(first, one_line_ascii(text), indent, 76);
}

}  // namespace

std::string rfc5322_date(std::int64_t t) {
    // The clamp is the DSN's own rule; the formatting is the one the rest of Pigeon uses.
    return core::format_rfc5322_date(std::clamp<std::int64_t>(t, 0, 253402300799));  // ..9999-12-31T23:59:59Z
}

std::string dsn_address(const core::Path& path, std::string_view reporting_mta) {
    const std::string a = address_text(path, reporting_mta);
    if (is_ascii_text(a)) return "rfc822; " + a;
    return "utf-8; " + utf8_addr_xtext(a);
}

namespace {

// Letters and digits only, at most 64: the queue id goes into Message-ID.
std::string message_id_safe(std::string_view id) {
    std::string out;
    for (char c : id) {
        if (((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) && out.size() < 64) {
            out += c;
        }
    }
    return out;
}

// What the parts of one notice share.
struct DsnContext {
    const DsnRequest& request;
    const core::Path& sender;
    std::string host;      // the reporting MTA, as text
    std::string queue_id;  // message_id_safe
    bool any_failed;
    bool any_delayed;
};

// Part 1, for a person: what happened, then each recipient with the reason.
std::string human_part(const DsnContext& c) {
    const DsnRequest& request = c.request;
    const std::string& host = c.host;
    const bool any_failed = c.any_failed;
    std::string human;
    human += "This is the mail system at host " + host + "." + std::string(crlf) + std::string(crlf);
    if (any_failed) {
        human += paragraph("", "I'm sorry to have to inform you that your message could not be delivered to "
                               "one or more recipients. The details are below.", "");
    }
    if (c.any_delayed) {
        std::string text = "Your message has not yet been delivered to one or more recipients. "
                           "This is only a warning: you do not need to send the message again.";
        if (request.will_retry_until_unix != 0) {
            text += " Delivery will be attempted until " + rfc5322_date(request.will_retry_until_unix) + ".";
        }
        if (any_failed) human += crlf;
        human += paragraph("", text, "");
    }
    human += crlf;
    human += "Queue ID: " + (c.queue_id.empty() ? std::string("(none)") : c.queue_id) + std::string(crlf);
    human += "Sent by:  " + ascii_address(c.sender, host) + std::string(crlf);
    human += "Arrived:  " + rfc5322_date(request.arrival_unix) + std::string(crlf);
    for (const DsnRecipient& r : request.recipients) {
        const bool failed = r.action == DsnRecipient::Action::failed;
        human += crlf;
        human += paragraph("", "<" + ascii_address(r.recipient, host) + ">: " +
                                   (failed ? "delivery failed" : "delivery delayed") + " (status " +
                                   effective_status(r).to_string() + ")", "    ");
        const std::string diag = one_line_ascii(r.diagnostic);
        const std::string mta = host_text(r.remote_mta);
        if (!diag.empty()) {
            const std::string who = r.diagnostic_from_peer
                                        ? (mta.empty() ? std::string("the remote server") : mta) + " said:"
                                        : std::string("reason:");
            human += paragraph("    " + who, diag, "        ");
        } else if (!mta.empty()) {
            human += paragraph("    last tried:", mta, "        ");
        }
    }
    return human;
}

// Part 2, for a program: the RFC 3464 per-message and per-recipient fields.
std::string status_part(const DsnContext& c) {
    const DsnRequest& request = c.request;
    const std::string& host = c.host;
    std::string status;
    status += field("Reporting-MTA", "dns; " + host);
    if (!c.queue_id.empty()) status += field("X-Pigeon-Queue-ID", c.queue_id);
    status += field("X-Pigeon-Sender", dsn_address(c.sender, host));
    status += field("Arrival-Date", rfc5322_date(request.arrival_unix));
    for (const DsnRecipient& r : request.recipients) {
        const bool failed = r.action == DsnRecipient::Action::failed;
        status += crlf;
        status += field("Final-Recipient", dsn_address(r.recipient, host));
        status += field("Action", failed ? "failed" : "delayed");
        status += field("Status", effective_status(r).to_string());
        const std::string mta = host_text(r.remote_mta);
        if (!mta.empty()) status += field("Remote-MTA", "dns; " + mta);
        const std::string diag = one_line_ascii(r.diagnostic);
        if (!diag.empty()) {
            status += r.diagnostic_from_peer ? field("Diagnostic-Code", "smtp; " + diag)
                                             : field("X-Pigeon-Reason", diag);
        }
        if (r.last_attempt_unix != 0) status += field("Last-Attempt-Date", rfc5322_date(r.last_attempt_unix));
        if (!failed && request.will_retry_until_unix != 0) {
            status += field("Will-Retry-Until", rfc5322_date(request.will_retry_until_unix));
        }
    }
    return status;
}

// A boundary found nowhere in the content (RFC 2046 5.1.1).
std::string boundary_for(std::uint64_t random, const std::string& human, const std::string& status,
                         const std::string& headers) {
    std::string boundary;
    for (std::uint64_t k = 0;; ++k) {
        boundary = "=_pigeon_" + hex(mix(random + k * 0x9E3779B97F4A7C15ull), 16);
        if (k != 0) boundary += "_" + std::to_string(k);  // distinct, so this loop ends
        if (human.find(boundary) == std::string::npos && status.find(boundary) == std::string::npos &&
            headers.find(boundary) == std::string::npos) {
            break;
        }
    }
    return boundary;
}

// The whole multipart/report message (RFC 6522) around the three parts.
std::string dsn_message(const DsnContext& c, const std::string& to, const std::string& human,
                        const std::string& status, const std::string& headers, bool eight_bit) {
    const DsnRequest& request = c.request;
    const std::string& host = c.host;
    const std::string boundary = boundary_for(request.boundary_random, human, status, headers);
    std::string m;
    m.reserve(human.size() + status.size() + headers.size() + 1024);
    m += "Date: " + rfc5322_date(request.now_unix) + std::string(crlf);
    m += "From: Mail Delivery System <MAILER-DAEMON@" + host + ">" + std::string(crlf);
    m += "To: <" + to + ">" + std::string(crlf);
    m += std::string("Subject: ") +
         (c.any_failed ? "Undelivered Mail Returned to Sender" : "Delayed Mail (still being retried)") +
         std::string(crlf);
    m += "Message-ID: <" + (c.queue_id.empty() ? std::string("message") : c.queue_id) + ".dsn." +
         std::to_string(request.now_unix) + "-" + hex(mix(request.boundary_random ^ 0x5A5A5A5A5A5A5A5Aull) >> 32, 8) +
         "@" + host + ">" + std::string(crlf);
    m += "Auto-Submitted: auto-replied" + std::string(crlf);
    m += "MIME-Version: 1.0" + std::string(crlf);
    m += "Content-Type: multipart/report; report-type=delivery-status;" + std::string(crlf);
    m += "\tboundary=\"" + boundary + "\"" + std::string(crlf);
    if (eight_bit) m += "Content-Transfer-Encoding: 8bit" + std::string(crlf);
    m += crlf;
    m += "This is a MIME-encapsulated message." + std::string(crlf) + std::string(crlf);
    m += "--" + boundary + std::string(crlf);
    m += "Content-Description: Notification" + std::string(crlf);
    m += "Content-Type: text/plain; charset=us-ascii" + std::string(crlf) + std::string(crlf);
    m += human;
    m += crlf;
    m += "--" + boundary + std::string(crlf);
    m += "Content-Description: Delivery report" + std::string(crlf);
    m += "Content-Type: message/delivery-status" + std::string(crlf) + std::string(crlf);
    m += status;
    m += crlf;
    m += "--" + boundary + std::string(crlf);
    m += "Content-Description: Undelivered Message Headers" + std::string(crlf);
    m += "Content-Type: text/rfc822-headers" + std::string(crlf);
    if (eight_bit) m += "Content-Transfer-Encoding: 8bit" + std::string(crlf);
    m += crlf;
    m += headers;
    m += crlf;
    m += "--" + boundary + "--" + std::string(crlf);
    return m;
}

}  // namespace

std::optional<Submission> make_dsn(const DsnRequest& request) {
    const core::Path& sender = request.original_envelope.reverse_path;
    if (sender.kind != core::Path::Kind::mailbox || request.recipients.empty()) {
        return std::nullopt;  // never a DSN for a DSN (or for anything with a null sender)
    }
    std::string host = host_text(request.reporting_mta);
    if (host.empty()) host = "localhost";
    const auto failed = [](const DsnRecipient& r) { return r.action == DsnRecipient::Action::failed; };
    const DsnContext c{request, sender, host, message_id_safe(request.queue_id),
                       std::any_of(request.recipients.begin(), request.recipients.end(), failed),
                       !std::all_of(request.recipients.begin(), request.recipients.end(), failed)};
    const std::string human = human_part(c);
    const std::string status = status_part(c);
    // Part 3: the original header section.
    const std::string headers = header_section(request.original_message);
    const bool eight_bit = !is_ascii_text(headers);
    const std::string to = address_text(sender, host);
    std::string m = dsn_message(c, to, human, status, headers, eight_bit);

    Submission dsn;
    dsn.envelope.reverse_path = core::Path::null_path();
    dsn.envelope.recipients.push_back(sender);
    dsn.envelope.body = eight_bit ? core::BodyType::eight_bit_mime : core::BodyType::seven_bit;
    dsn.envelope.smtputf8 = !is_ascii_text(to);
    dsn.envelope.declared_size = m.size();
    dsn.message = std::make_shared<const std::string>(std::move(m));
    return dsn;
}

}  // namespace pigeon::queue
