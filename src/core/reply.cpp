// pigeon/core/reply.cpp: SMTP replies, their formatter and their (incremental) parser.
#include "core/reply.hpp"

#include <stdexcept>

#include "core/limits.hpp"

namespace pigeon::core {

namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// One RFC 3463 subject or detail: 1*3digit, and no leading zero so that to_string(parse(s))
// == s; otherwise "2.01.0" and "2.1.0" would parse to the same value and the law would break.
std::optional<int> parse_component(std::string_view s) {
    if (s.empty() || s.size() > 3) {
        return std::nullopt;
    }
    if (s.size() > 1 && s[0] == '0') {
        return std::nullopt;
    }
    int value = 0;
    for (char c : s) {
        if (!is_digit(c)) {
            return std::nullopt;
        }
        value = value * 10 + (c - '0');
    }
    return value;
}

// The enhanced status at the start of a line's text: the code followed by SP or end of text.
// Returns the code and how many octets to strip (the code and its SP).
struct Leading {
    EnhancedStatus status;
    std::size_t length;
};

std::optional<Leading> leading_status(std::string_view text) {
    const std::size_t sp = text.find(' ');
    const std::string_view word = text.substr(0, sp);
    const auto status = EnhancedStatus::parse(word);
    if (!status) {
        return std::nullopt;
    }
    return Leading{*status, sp == std::string_view::npos ? word.size() : sp + 1};
}

}  // namespace

std::string EnhancedStatus::to_string() const {
    return std::to_string(cls) + '.' + std::to_string(subject) + '.' + std::to_string(detail);
}

std::optional<EnhancedStatus> EnhancedStatus::parse(std::string_view text) {
    // class "." subject "." detail, class one of 2, 4, 5 (RFC 3463 section 2).
    if (text.size() < 5 || text[1] != '.') {
        return std::nullopt;
    }
    if (text[0] != '2' && text[0] != '4' && text[0] != '5') {
        return std::nullopt;
    }
    const std::string_view rest = text.substr(2);
    const std::size_t dot = rest.find('.');
    if (dot == std::string_view::npos) {
        return std::nullopt;
    }
    const auto subject = parse_component(rest.substr(0, dot));
    const auto detail = parse_component(rest.substr(dot + 1));
    if (!subject || !detail) {
        return std::nullopt;
    }
    return EnhancedStatus{text[0] - '0', *subject, *detail};
}

Reply::Reply(int c, std::string_view enhanced_code, std::string text) : code(c) {
    if (!enhanced_code.empty()) {
        // The code is a literal in our own source; a bad one is a programming error that the
        // tests must catch, not something to paper over by dropping the code.
        enhanced = EnhancedStatus::parse(enhanced_code);
        if (!enhanced || enhanced->cls != c / 100) {
            throw std::invalid_argument("Reply: bad enhanced status code for reply " +
                                        std::to_string(c) + ": " + std::string(enhanced_code));
        }
    }
    lines.push_back(std::move(text));
}

std::string format_reply(const Reply& reply) {
    const std::string code = std::to_string(reply.code);
    const std::string prefix = reply.enhanced ? reply.enhanced->to_string() + ' ' : std::string();
    // A reply with no lines is written as one empty line: the wire has no way to say "no text".
    const std::size_t count = reply.lines.empty() ? 1 : reply.lines.size();
    std::string out;
    for (std::size_t i = 0; i < count; ++i) {
        out += code;
        out += i + 1 < count ? '-' : ' ';
        out += prefix;
        if (!reply.lines.empty()) {
            out += reply.lines[i];
        }
        out += "\r\n";
    }
    return out;
}

Result<Reply> parse_reply(std::string_view text) {
    ReplyParser parser;
    const std::size_t used = parser.put(text);
    if (parser.failed()) {
        return ParseError{parser.error()};
    }
    if (!parser.done()) {
        return ParseError{"incomplete reply: the last line has no CRLF or is a continuation"};
    }
    if (used != text.size()) {
        return ParseError{"data after the end of the reply"};
    }
    return parser.reply();
}

void ReplyParser::reset() {
    state_ = State::reading;
    line_.clear();
    raw_lines_.clear();
    reply_ = Reply{};
    error_.clear();
}

std::size_t ReplyParser::put(std::string_view bytes) {
    // line_ holds the current line's octets, and a pending CR as its last octet; processing is
    // octet by octet, so every error is found at the same octet whatever the split.
    // A line may hold at most reply_line_max_octets including CRLF.
    constexpr std::size_t max_text = reply_line_max_octets - 2;
    std::size_t i = 0;
    auto fail = [&](std::string message) {
        state_ = State::failed;
        error_ = std::move(message);
        line_.clear();
        raw_lines_.clear();
    };
    while (i < bytes.size() && state_ == State::reading) {
        const char c = bytes[i++];
        const bool pending_cr = !line_.empty() && line_.back() == '\r';
        if (pending_cr && c != '\n') {
            fail("bare CR in reply line " + std::to_string(raw_lines_.size() + 1));
            break;
        }
        if (c != '\n') {
            if (c != '\r' && line_.size() >= max_text) {
                fail("reply line " + std::to_string(raw_lines_.size() + 1) + " longer than " +
                     std::to_string(reply_line_max_octets) + " octets");
                break;
            }
            line_ += c;
            continue;
        }
        if (!pending_cr) {
            fail("bare LF in reply line " + std::to_string(raw_lines_.size() + 1));
            break;
        }
        line_.pop_back();  // the CR

        // A complete line: "ddd" then "-" text, " " text, or nothing (RFC 5321 4.2.1).
        const std::size_t number = raw_lines_.size() + 1;
        const std::string where = "reply line " + std::to_string(number);
        if (line_.size() < 3 || !is_digit(line_[0]) || !is_digit(line_[1]) || !is_digit(line_[2])) {
            fail(where + " does not start with a three-digit code");
            break;
        }
        const int code = std::stoi(line_.substr(0, 3));
        if (code < 200 || code > 599) {
            fail(where + ": reply code " + std::to_string(code) + " is not 2xx..5xx");
            break;
        }
        if (line_.size() > 3 && line_[3] != '-' && line_[3] != ' ') {
            fail(where + ": the code is followed by neither '-' nor ' '");
            break;
        }
        if (!raw_lines_.empty() && code != reply_.code) {
            fail(where + ": code " + std::to_string(code) + " differs from the first line's " +
                 std::to_string(reply_.code));
            break;
        }
        if (raw_lines_.size() >= max_lines) {
            fail("reply has more than " + std::to_string(max_lines) + " lines");
            break;
        }
        reply_.code = code;
        const bool last = line_.size() == 3 || line_[3] == ' ';
        raw_lines_.push_back(line_.size() > 4 ? line_.substr(4) : std::string());
        line_.clear();
        if (!last) {
            continue;
        }

        // The enhanced status is the reply's only when every line carries the same one with
        // the reply's class (RFC 2034 section 4); otherwise the text stays as the server sent it.
        std::optional<EnhancedStatus> common;
        bool all = true;
        for (const std::string& text : raw_lines_) {
            const auto lead = leading_status(text);
            if (!lead || lead->status.cls != code / 100 || (common && *common != lead->status)) {
                all = false;
                break;
            }
            common = lead->status;
        }
        reply_.enhanced.reset();
        reply_.lines.clear();
        if (all) {
            reply_.enhanced = common;
            for (const std::string& text : raw_lines_) {
                reply_.lines.push_back(text.substr(leading_status(text)->length));
            }
        } else {
            reply_.lines = std::move(raw_lines_);
        }
        raw_lines_.clear();
        state_ = State::done;
    }
    return i;
}

}  // namespace pigeon::core
