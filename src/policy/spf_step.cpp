#include "policy/spf_step.hpp"

#include <cctype>

namespace pigeon::policy {
namespace {

// RFC 7208 9.1 key-value-pair values are dot-atoms or quoted-strings.
std::string value(const std::string& v) {
    bool atom = !v.empty() && v.front() != '.' && v.back() != '.';
    for (unsigned char c : v)
        if (!(std::isalnum(c) || std::string_view("!#$%&'*+-/=?^_`{|}~.").find(static_cast<char>(c)) !=
                                     std::string_view::npos) ||
            c >= 0x80)
            atom = false;
    if (atom && v.find("..") == std::string::npos) return v;
    std::string q = "\"";
    for (char c : v) {
        if (c == '"' || c == '\\') q += '\\';
        if (c == '\r' || c == '\n') continue;
        q += c;
    }
    return q + "\"";
}

std::string comment(const spf::SpfRequest& rq, const spf::SpfResult& r) {
    const std::string ip = spf::ip_text(rq.ip);
    switch (r.verdict) {
        case spf::Verdict::pass:
            return rq.receiver + ": domain of " + rq.sender + " designates " + ip +
                   " as permitted sender";
        case spf::Verdict::fail:
            return rq.receiver + ": domain of " + rq.sender + " does not designate " + ip +
                   " as permitted sender";
        case spf::Verdict::softfail:
            return rq.receiver + ": transitioning domain of " + rq.sender +
                   " does not designate " + ip + " as permitted sender";
        case spf::Verdict::neutral:
            return rq.receiver + ": " + ip + " is neither permitted nor denied by domain of " +
                   rq.sender;
        case spf::Verdict::none:
            return rq.receiver + ": domain of " + rq.sender + " does not provide an SPF record";
        case spf::Verdict::temperror:
            return rq.receiver + ": temporary error checking " + rq.domain;
        case spf::Verdict::permerror:
            return rq.receiver + ": permanent error in the SPF record of " + rq.domain;
    }
    return rq.receiver;
}

std::string sanitize_comment(std::string s) {
    // A comment may not hold unbalanced parentheses or line breaks.
    for (auto& c : s)
        if (c == '(' || c == ')' || c == '\r' || c == '\n' || c == '\\') c = ' ';
    return s;
}

}  // namespace

std::optional<SpfCheck> spf_check_for(const smtp::CheckSender& check, const std::string& receiver,
                                      std::int64_t now) {
    const auto& e = check.envelope;
    auto ip = spf::parse_ip(e.client_address);
    if (!ip) return std::nullopt;
    SpfCheck out;
    spf::SpfRequest& rq = out.request;
    rq.ip = *ip;
    rq.helo = e.helo;
    rq.receiver = receiver;
    rq.now = now;
    if (e.reverse_path.kind == core::Path::Kind::mailbox) {
        rq.domain = e.reverse_path.mailbox.domain().lowercase();
        rq.sender = e.reverse_path.mailbox.to_string();
        if (e.reverse_path.mailbox.domain().is_literal()) return std::nullopt;
    } else {
        // RFC 7208 2.4: with the null reverse-path, the HELO identity is checked.
        auto helo = core::Domain::parse(e.helo, {.allow_address_literal = true, .allow_utf8 = false});
        if (!helo || helo->is_literal()) return std::nullopt;
        rq.domain = helo->lowercase();
        rq.sender = "postmaster@" + rq.domain;
        out.helo_identity = true;
    }
    return out;
}

std::string received_spf_field(const SpfCheck& check, const spf::SpfResult& r) {
    const spf::SpfRequest& rq = check.request;
    std::string f = "Received-SPF: " + std::string(spf::verdict_name(r.verdict)) + " (" +
                    sanitize_comment(comment(rq, r)) + ")\r\n\tclient-ip=" + spf::ip_text(rq.ip) +
                    "; envelope-from=" + value(rq.sender) + "; helo=" + value(rq.helo) +
                    ";\r\n\treceiver=" + value(rq.receiver) + "; identity=" +
                    (check.helo_identity ? "helo" : "mailfrom") +
                    ";";
    if (!r.problem.empty() && (r.verdict == spf::Verdict::permerror ||
                               r.verdict == spf::Verdict::temperror))
        f += " problem=" + value(r.problem) + ";";
    return f + "\r\n";
}

smtp::Verdict spf_verdict(const config::SpfSettings& settings, const SpfCheck& check,
                          const spf::SpfResult& r) {
    const spf::SpfRequest& rq = check.request;
    smtp::Verdict v;
    if (r.verdict == spf::Verdict::fail && settings.reject_fail) {
        v.accept = false;
        std::string why = r.explanation.empty() ? "SPF check failed" : r.explanation;
        for (auto& c : why)
            if (c == '\r' || c == '\n') c = ' ';
        v.reply = core::Reply(550, "5.7.23", "SPF validation failed: " + why);
        return v;
    }
    if (r.verdict == spf::Verdict::temperror && settings.temperror == config::SpfTempErrorAction::defer) {
        v.accept = false;
        v.reply = core::Reply(451, "4.4.3", "SPF check of " + rq.domain +
                                                " failed temporarily (DNS); try again later");
        return v;
    }
    v.prepend = received_spf_field(check, r);
    // For DMARC at the end of DATA (RFC 7489 4.2: only an SPF pass on the MAIL FROM domain
    // counts toward alignment; the identity is recorded so the HELO check never does).
    v.sender_facts = SpfOutcome{r.verdict, rq.domain, check.helo_identity};
    return v;
}

}  // namespace pigeon::policy
