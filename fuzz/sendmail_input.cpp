// libFuzzer target: what `pigeon sendmail` and its socket parse. The first octet chooses:
// even, the socket's request head (net/local_submission.hpp) line by line, which must end in an
// answer or a complete request within its bounds; odd, a message on standard input
// (app/sendmail.hpp): read_message's output has only CRLF line ends, and without_bcc leaves no
// Bcc: field in the header and is idempotent; header_recipients never returns duplicates.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "app/sendmail.hpp"
#include "core/ascii.hpp"
#include "core/header.hpp"
#include "net/local_submission.hpp"

namespace {

void request_head(std::string_view input) {
    pigeon::net::LocalRequestParser parser(1 << 20, 100);
    while (!input.empty()) {
        const std::size_t lf = input.find('\n');
        auto got = parser.line(input.substr(0, lf));
        if (!got.ok()) {
            if (got.error().code < 400) std::abort();
            return;
        }
        if (got.value()) {
            const auto& r = parser.request();
            if (r.recipients.empty() || r.recipients.size() > 100 || r.size > (1u << 20)) std::abort();
            return;
        }
        if (lf == std::string_view::npos) return;
        input.remove_prefix(lf + 1);
    }
}

void message(std::string_view input, bool dot_is_data) {
    const std::string m = pigeon::app::read_message(input, dot_is_data);
    for (std::size_t i = 0; i < m.size(); ++i)
        if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r')) std::abort();
    const std::string once = pigeon::app::without_bcc(m);
    if (pigeon::app::without_bcc(once) != once) std::abort();
    if (auto header = pigeon::core::parse_header(once); header.ok())
        for (const auto& f : header.value())
            if (pigeon::core::field_is(f, "Bcc")) std::abort();
    const auto rcpts = pigeon::app::header_recipients(m);
    for (std::size_t i = 0; i < rcpts.size(); ++i)
        for (std::size_t k = i + 1; k < rcpts.size(); ++k)
            if (pigeon::core::ascii_lower(rcpts[i]) == pigeon::core::ascii_lower(rcpts[k])) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] % 2 == 0) request_head(input);
    else message(input, (data[0] & 2) != 0);
    return 0;
}
