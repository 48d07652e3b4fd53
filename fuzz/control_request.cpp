// libFuzzer target: the control channel's two parsers (src/app/control.hpp) on arbitrary
// bytes, as a server meets a request file anyone with write access to <state>/control/ could
// leave, and as the CLI meets the server's answer file. Invariants: no crash; a request that
// parses formats back to exactly its bytes (the format is canonical) and names a valid queue
// id exactly when its kind takes one (not flush, hold-all, release-all, reload); an answer that parses formats back to its bytes, and its text is one
// line of at most max_answer_text_octets.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "app/control.hpp"
#include "queue/queue_id.hpp"

using namespace pigeon::app;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    if (auto r = parse_control_request(bytes); r.ok()) {
        if (format_control_request(*r) != bytes) __builtin_trap();
        if (takes_id(r->kind) && !pigeon::queue::is_valid_queue_id(r->id)) __builtin_trap();
        if (!takes_id(r->kind) && !r->id.empty()) __builtin_trap();
    }
    if (auto a = parse_control_answer(bytes); a.ok()) {
        const bool ok = a->outcome == ControlAnswer::Outcome::done;
        if (!ok && a->outcome != ControlAnswer::Outcome::refused) __builtin_trap();
        if (a->text.size() > max_answer_text_octets) __builtin_trap();
        if (a->text.find_first_of("\r\n") != std::string::npos) __builtin_trap();
        if (format_control_answer(ok, a->text) != bytes) __builtin_trap();
    }
    return 0;
}
