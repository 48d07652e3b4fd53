#include "app/log_format.hpp"

#include <cstdint>

#include "app/log.hpp"

namespace pigeon::app {
namespace {

using core::MailEvent;

// Pigeon does no reverse lookup of its clients: the name is "unknown", as in Postfix's lines
// for a client without one.
std::string client_text(std::string_view ip) { return "unknown[" + std::string(ip) + "]"; }

std::string delays_text(const core::RecipientDelivery& d) {
    return std::to_string(d.delay_before) + "/0/" + std::to_string(d.delay_setup) + "/" +
           std::to_string(d.delay_transmission);
}

std::string text_of(const core::ClientConnected& e) {
    return (e.disconnected ? "disconnect from " : "connect from ") + client_text(e.client_ip);
}
std::string text_of(const core::MessageReceived& e) {
    std::string s = e.queue_id + ": client=" + client_text(e.client_ip);
    if (!e.sasl_username.empty()) s += ", sasl_username=" + e.sasl_username;
    return s;
}
std::string text_of(const core::MessagePickedUp& e) {
    return e.queue_id + ": uid=" + std::to_string(e.uid) + " from=<" + e.from + ">";
}
std::string text_of(const core::MessageQueued& e) {
    return e.queue_id + ": from=<" + e.from + ">, size=" + std::to_string(e.size) +
           ", nrcpt=" + std::to_string(e.nrcpt) + " (queue active)";
}
std::string text_of(const core::RecipientDelivery& e) {
    return e.queue_id + ": to=<" + e.to + ">, relay=" + e.relay + ", delay=" +
           std::to_string(e.delay) + ", delays=" + delays_text(e) + ", dsn=" + e.dsn +
           ", status=" + core::delivery_status_name(e.status) + " (" + e.detail + ")";
}
std::string text_of(const core::MessageRemoved& e) { return e.queue_id + ": removed"; }
std::string text_of(const core::Refused& e) {
    std::string s = "NOQUEUE: reject: " + e.stage + " from " + client_text(e.client_ip) + ": " +
                    e.reply + "; from=<" + e.from + ">";
    if (!e.to.empty()) s += " to=<" + e.to + ">";
    return s + " proto=" + (e.esmtp ? "ESMTP" : "SMTP") + " helo=<" + e.helo + ">";
}

// One JSON object's members, written in order.
class JsonMembers {
public:
    explicit JsonMembers(std::string& out) : out_(out) { out_ += '{'; }
    JsonMembers& str(std::string_view key, std::string_view value) {
        name(key);
        append_json_string(out_, value);
        return *this;
    }
    JsonMembers& num(std::string_view key, std::int64_t value) {
        name(key);
        out_ += std::to_string(value);
        return *this;
    }
    void close() { out_ += '}'; }

private:
    void name(std::string_view key) {
        if (!first_) out_ += ',';
        first_ = false;
        out_ += '"';
        out_ += key;  // our own names: nothing to escape
        out_ += "\":";
    }
    std::string& out_;
    bool first_ = true;
};

void members_of(JsonMembers& j, const core::ClientConnected& e) {
    j.str("event", e.disconnected ? "disconnect" : "connect").str("client_ip", e.client_ip);
}
void members_of(JsonMembers& j, const core::MessageReceived& e) {
    j.str("event", "received").str("queue_id", e.queue_id).str("client_ip", e.client_ip);
    if (!e.sasl_username.empty()) j.str("sasl_username", e.sasl_username);
}
void members_of(JsonMembers& j, const core::MessagePickedUp& e) {
    j.str("event", "pickup").str("queue_id", e.queue_id).num("uid", e.uid).str("from", e.from);
}
void members_of(JsonMembers& j, const core::MessageQueued& e) {
    j.str("event", "queued").str("queue_id", e.queue_id).str("from", e.from);
    j.num("size", static_cast<std::int64_t>(e.size)).num("nrcpt", static_cast<std::int64_t>(e.nrcpt));
}
void members_of(JsonMembers& j, const core::RecipientDelivery& e) {
    j.str("event", "delivery").str("queue_id", e.queue_id).str("to", e.to).str("relay", e.relay);
    j.num("delay", e.delay).str("delays", delays_text(e)).str("dsn", e.dsn);
    j.str("status", core::delivery_status_name(e.status)).str("detail", e.detail);
}
void members_of(JsonMembers& j, const core::MessageRemoved& e) {
    j.str("event", "removed").str("queue_id", e.queue_id);
}
void members_of(JsonMembers& j, const core::Refused& e) {
    j.str("event", "reject").str("stage", e.stage).str("client_ip", e.client_ip).str("reply", e.reply);
    j.str("from", e.from);
    if (!e.to.empty()) j.str("to", e.to);
    j.str("proto", e.esmtp ? "ESMTP" : "SMTP").str("helo", e.helo);
}

// The spool's events are the queue manager's, pigeon sendmail's are pickup's; the others say
// whose they are.
core::MailService service_of(const core::MessagePickedUp&) { return core::MailService::pickup; }
core::MailService service_of(const core::MessageQueued&) { return core::MailService::qmgr; }
core::MailService service_of(const core::MessageRemoved&) { return core::MailService::qmgr; }
template <class Event>
core::MailService service_of(const Event& e) {
    return e.service;
}

JsonMembers json_head(std::string& out, const LineHead& head, std::string_view service) {
    JsonMembers j(out);
    j.str("ts", head.stamp).str("level", core::log_level_name(head.level)).str("service", service);
    j.num("pid", head.pid);
    return j;
}

// "warning: " and "error: " as Postfix writes them; nothing at info and debug.
std::string_view level_word(core::LogLevel level) {
    switch (level) {
        case core::LogLevel::error: return "error: ";
        case core::LogLevel::warn: return "warning: ";
        default: return "";
    }
}

void append_text(std::string& out, const LineHead& head, std::string_view service,
                 std::string_view text, bool with_head) {
    if (with_head) {
        out.append(head.stamp).append(" ").append(core::log_level_name(head.level)).append(" ");
        append_tag(out, service, head.pid);
    }
    out.append(level_word(head.level));
    append_log_text(out, text);  // whatever the line quotes, it stays one line
}

}  // namespace

std::string event_text(const MailEvent& event) {
    return std::visit([](const auto& e) { return text_of(e); }, event);
}

std::string_view event_service(const MailEvent& event) {
    return core::mail_service_name(std::visit([](const auto& e) { return service_of(e); }, event));
}

void append_tag(std::string& out, std::string_view service, long pid) {
    out.append("pigeon/").append(service).append("[").append(std::to_string(pid)).append("]: ");
}

void append_json_string(std::string& out, std::string_view text) {
    std::string safe;
    append_log_text(safe, text);  // no control byte, valid UTF-8: only " and \ remain
    out += '"';
    for (char c : safe) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
}

void append_line(std::string& out, LineFormat format, const LineHead& head, std::string_view text,
                 bool with_head) {
    if (format == LineFormat::text) {
        append_text(out, head, head.service, text, with_head);
        return;
    }
    JsonMembers j = json_head(out, head, head.service);
    j.str("msg", text);
    j.close();
}

void append_event_line(std::string& out, LineFormat format, const LineHead& head,
                       const MailEvent& event, bool with_head) {
    const std::string_view service = event_service(event);
    if (format == LineFormat::text) {
        append_text(out, head, service, event_text(event), with_head);
        return;
    }
    JsonMembers j = json_head(out, head, service);
    std::visit([&j](const auto& e) { members_of(j, e); }, event);
    j.close();
}

}  // namespace pigeon::app
