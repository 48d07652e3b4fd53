// pigeon/smtp/data_reader.cpp: the DATA phase reader and the sender's dot-stuffing.
//
// The states, each a position within the current wire line:
//   line_start  just after a CRLF (or at the very start of the data): a "." here is special
//   dot         after a "." at line_start: the dot is a stuffing dot or the start of the end mark
//   dot_cr      after "." CR at line_start: an LF now is the end of the data
//   mid         inside a line
//   cr          after a CR that did not follow a line-start "." (an LF now ends the line)
// Only CR LF ends a line, and only a line ended by CR LF puts the reader in line_start, so the
// end mark is exactly <CRLF>.<CRLF> and no bare CR or bare LF can forge one.
#include "smtp/data_reader.hpp"

#include "smtp/server/replies.hpp"

namespace pigeon::smtp {

DataReader::Status DataReader::status() const noexcept {
    // Precedence (header): bare_line_ending, too_large, line_too_long, insufficient_storage.
    if (bare_) {
        return Status::bare_line_ending;
    }
    if (too_large_) {
        return Status::too_large;
    }
    if (long_line_) {
        return Status::line_too_long;
    }
    if (storage_refused_) {
        return Status::insufficient_storage;
    }
    return Status::ok;
}

void DataReader::refuse_storage() {
    storage_refused_ = true;
    std::string().swap(message_);
}

void DataReader::append(char c) {
    // Every unstuffed octet counts towards the size, stored or not.
    ++octets_;
    if (octets_ > max_message_octets_ && !too_large_) {
        too_large_ = true;
        std::string().swap(message_);  // a rejected message is never delivered: free it now
    }
    if (!bare_ && !too_large_ && !long_line_ && !storage_refused_) {
        message_ += c;
    }
}

void DataReader::end_line_ok() {
    // Called after the CR LF of a line has been appended; the line's length was checked octet
    // by octet as it arrived.
    line_octets_ = 0;
    state_ = State::line_start;
}

std::size_t DataReader::put(std::string_view bytes) {
    // Marks the message as rejected for a reason; a rejected message is not stored any more.
    auto reject = [this](bool& flag) {
        if (!flag) {
            flag = true;
            std::string().swap(message_);
        }
    };
    auto count_line_octets = [&](std::size_t n) {
        line_octets_ += n;
        if (line_octets_ > core::text_line_max_octets) {
            reject(long_line_);
        }
    };
    // The octet c inside a line: CR may start a line end, LF here is a bare LF.
    auto in_line = [&](char c) {
        if (c == '\r') {
            state_ = State::cr;
        } else {
            if (c == '\n') {
                reject(bare_);
            }
            append(c);
        }
    };

    std::size_t i = 0;
    while (i < bytes.size() && !done_) {
        if (state_ == State::mid) {
            // Fast path over the ordinary octets of a line: they only count and are stored.
            std::size_t end = bytes.find_first_of("\r\n", i);
            if (end == std::string_view::npos) {
                end = bytes.size();
            }
            if (end > i) {
                const std::string_view run = bytes.substr(i, end - i);
                count_line_octets(run.size());
                octets_ += run.size();
                if (octets_ > max_message_octets_) {
                    reject(too_large_);
                }
                if (!bare_ && !too_large_ && !long_line_ && !storage_refused_) {
                    message_.append(run);
                }
                i = end;
                continue;
            }
        }

        const char c = bytes[i++];
        count_line_octets(1);
        switch (state_) {
        case State::line_start:
            if (c == '.') {
                state_ = State::dot;
            } else {
                state_ = State::mid;
                in_line(c);
            }
            break;
        case State::dot:
            if (c == '\r') {
                state_ = State::dot_cr;
            } else {
                // The line-start dot was a stuffing dot (RFC 5321 4.5.2): it is dropped, and
                // c is the line's first real octet, even when it is another ".".
                state_ = State::mid;
                in_line(c);
            }
            break;
        case State::dot_cr:
            if (c == '\n') {
                done_ = true;  // <CRLF>.<CRLF>: the "." CR LF is not part of the message
            } else {
                // "." CR then not LF: a bare CR, so this line is ordinary text (".\r.\r\n"
                // does not end the data); the dot was a stuffing dot.
                reject(bare_);
                append('\r');
                state_ = State::mid;
                in_line(c);
            }
            break;
        case State::mid:
            in_line(c);
            break;
        case State::cr:
            if (c == '\n') {
                append('\r');
                append('\n');
                end_line_ok();
            } else {
                // A bare CR is never a line end; c may itself start a CR LF.
                reject(bare_);
                append('\r');
                state_ = State::mid;
                in_line(c);
            }
            break;
        }
    }
    return i;
}

core::Reply DataReader::reply_for(Status status) {
    switch (status) {
    case Status::bare_line_ending:
        return replies::bare_line_ending_in_data.reply();
    case Status::too_large:
        return replies::message_too_large.reply();
    case Status::line_too_long:
        return replies::data_line_too_long.reply();
    case Status::insufficient_storage:
        return replies::no_memory_left_in_message.reply();
    case Status::ok:
        break;
    }
    return replies::ok.reply();
}

std::string dot_stuff(std::string_view message) {
    std::string out;
    out.reserve(message.size() + message.size() / 64 + 5);
    // A dot is added at the start of the message and after every LF. For a message with CRLF
    // line ends (the precondition) that is exactly RFC 5321 4.5.2; after a bare LF it is the
    // safe choice too: a lax receiver that ends lines at LF unstuffs it, and "\n.\r\n" can
    // never reach the wire as a forged end mark (SMTP smuggling).
    bool line_start = true;
    for (char c : message) {
        if (line_start && c == '.') {
            out += '.';
        }
        out += c;
        line_start = c == '\n';
    }
    if (message.size() < 2 || message.substr(message.size() - 2) != "\r\n") {
        if (!message.empty()) {
            out += "\r\n";
        }
    }
    out += ".\r\n";
    return out;
}

}  // namespace pigeon::smtp
