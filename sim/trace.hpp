// pigeon/sim/trace.hpp: the run's trace: timestamped lines, and what the explain mode adds to them.
// Part of the simulator's run (sim/simulator.cpp includes it); not for other users.
#pragma once
#include <string>

#include "core/reply.hpp"
#include "sim/explain.hpp"
#include "sim/loop.hpp"
#include "sim/simulator.hpp"

namespace pigeon::sim::detail {

class Simulator;


class Trace {
public:
    Trace(const Loop& loop, bool explain) : loop_(loop), explain_(explain) {}

    void line(const std::string& who, const std::string& what) {
        std::string l = stamp_ms(loop_.now_ms) + "  " + who + "  " + what + "\n";
        if (what.starts_with("S: ") && !what.starts_with("S: <")) check_reply(who, what.substr(3), l);
        trace_ += l;
        if (explain_) {
            explain_text_ += l;
            for (const auto& why : explain_line(what)) explain_text_ += std::string(13, ' ') + "  | " + why + "\n";
        }
    }
    // Only in the explanation (never in the trace or the digest).
    void note(const std::string& text) {
        if (explain_) explain_text_ += std::string(13, ' ') + "  | " + text + "\n";
    }
    const std::string& text() const { return trace_; }
    // Server replies (every "S: " line, grouped into replies per speaker) that
    // core::parse_reply refuses: RFC 5321 4.2 syntax, checked by the swarm.
    std::vector<std::string> bad_replies;
    const std::string& explained() const { return explain_text_; }
    bool contains(const std::vector<std::string>& parts) const {
        std::size_t start = 0;
        while (start < trace_.size()) {
            std::size_t end = trace_.find('\n', start);
            if (end == std::string::npos) end = trace_.size();
            std::string_view l(trace_.data() + start, end - start);
            bool all = true;
            for (const auto& p : parts) all = all && l.find(p) != std::string_view::npos;
            if (all) return true;
            start = end + 1;
        }
        return false;
    }

private:
    void check_reply(const std::string& who, const std::string& text, const std::string& where) {
        std::string& pending = pending_replies_[who];
        pending += text + "\r\n";
        if (text.size() >= 4 && text[3] == '-') return;  // more lines follow
        if (!core::parse_reply(pending).ok()) bad_replies.push_back(where.substr(0, where.size() - 1));
        pending.clear();
    }

    const Loop& loop_;
    bool explain_;
    std::string trace_, explain_text_;
    std::map<std::string, std::string> pending_replies_;
};

}  // namespace pigeon::sim::detail
