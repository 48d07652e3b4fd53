// pigeon/app/log_format.hpp: how one log line looks, as text or JSON, whatever it goes to.
//
// Text (stderr and file targets):
//   2026-11-22T05:40:00Z info pigeon/smtpd[4242]: 0A1B2C3D4E5F6G7H: client=unknown[192.0.2.1]
// The time stamp is RFC 3339 UTC, then the level where syslog puts the host name, then the
// Postfix-style tag "pigeon/<service>[pid]:" and the text, so pflogsumm --syslog-name=pigeon
// and the greps operators use on Postfix logs read it. Warnings and errors say "warning: " and
// "error: " after the tag, as Postfix does. The syslog target sends only the tag and the text
// (syslog adds the time and host).
//
// JSON: one object per line, keys in a fixed order:
//   {"ts":"2026-11-22T05:40:00Z","level":"info","service":"smtpd","pid":4242,
//    "event":"received","queue_id":"...","client_ip":"192.0.2.1"}
// Free text lines carry "msg"; events carry their fields (core/mail_event.hpp) by name, numbers
// as JSON numbers.
//
// Contract:
//   - Every string that goes into a line passes through append_log_text (app/log.hpp) first,
//     for every format: a line never holds a raw control byte, and JSON strings are valid
//     JSON (and valid UTF-8) whatever the input.
//   - The functions append exactly one line without its line end; pure functions of their
//     arguments (the caller supplies the time stamp and pid).
#pragma once
#include <string>
#include <string_view>

#include "core/log_level.hpp"
#include "core/mail_event.hpp"

namespace pigeon::app {

enum class LineFormat { text, json };

// What every line carries besides its text: time stamp text ("2026-11-22T05:40:00Z"), level,
// the Postfix-style service name ("smtpd", "qmgr", "master"...), and the process id.
struct LineHead {
    std::string_view stamp;
    core::LogLevel level = core::LogLevel::info;
    std::string_view service;
    long pid = 0;
};

// The Postfix text of an event, after the tag: "0A1B...: from=<a@b>, size=3, nrcpt=1 (queue
// active)". Not escaped (append_line escapes it).
std::string event_text(const core::MailEvent& event);
std::string_view event_service(const core::MailEvent& event);

// A free text line. with_head = false (syslog, which writes its own time stamp and tag) leaves
// out a text line's time stamp, level and tag; a JSON line is always whole.
void append_line(std::string& out, LineFormat format, const LineHead& head, std::string_view text,
                 bool with_head = true);
// An event's line at `head.level`; head.service is ignored (the event names its own).
void append_event_line(std::string& out, LineFormat format, const LineHead& head,
                       const core::MailEvent& event, bool with_head = true);
// "pigeon/smtpd[4242]: ", the tag of every line.
void append_tag(std::string& out, std::string_view service, long pid);

// `text` escaped for the log, then as a JSON string with its quotes.
void append_json_string(std::string& out, std::string_view text);

}  // namespace pigeon::app
