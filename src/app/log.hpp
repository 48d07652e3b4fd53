// pigeon/app/log.hpp: the text of a log line made safe to write, whatever it quotes.
//
// A log line quotes what others wrote: SPF terms and DNS TXT text, From: domains, DKIM d=
// values, client commands. Any of them may carry CR, LF or terminal escapes; written raw, one
// logical line would become several (a forged entry) or rewrite what a terminal shows. The
// server's Logger (app/logger.hpp) passes every line through append_log_text, so no caller has
// to remember to.
//
// Contract:
//   - append_log_text(out, text) appends `text` to `out`, escaping:
//       CR, LF, TAB                         -> \r  \n  \t
//       the other C0 controls and DEL       -> \xNN (two lower-case hex digits)
//       backslash                           -> \\  (so every escape in the output is ours)
//       bytes that are not well-formed UTF-8 (RFC 3629 3-4: stray continuation bytes,
//       overlong forms, surrogates, above U+10FFFF, cut-off sequences) -> \xNN per byte
//       C1 controls U+0080..U+009F, the line and paragraph separators U+2028 and U+2029, and
//       the bidirectional controls U+202A..U+202E and U+2066..U+2069 (they break or reorder
//       what a reader sees)                 -> \xNN per byte of their UTF-8
//     Everything else, printable ASCII and the rest of UTF-8, is copied unchanged.
//   - The result never contains a byte below 0x20 or 0x7F, is a function of `text` alone,
//     and unescapes back to `text` (tests/app/log_test.cpp checks both as properties).
//   - Text with nothing to escape (the usual case) costs one scan and one append.
#pragma once
#include <string>
#include <string_view>

namespace pigeon::app {

void append_log_text(std::string& out, std::string_view text);

inline std::string escape_log_text(std::string_view text) {
    std::string out;
    append_log_text(out, text);
    return out;
}

}  // namespace pigeon::app
