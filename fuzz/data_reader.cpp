// fuzz_data_reader: the DATA phase reader on arbitrary bytes (the smuggling surface).
// Input: two octets choosing a split point, one octet choosing the size limit, then the data.
// Invariants (a violation traps):
//   - one piece or two pieces: the same consumed count, done, status, message and size;
//   - put() stops short of its input only at the end mark; nothing is consumed after it;
//   - never more than max_message_octets stored; an ok message is exactly what was counted;
//   - an accepted message, dot-stuffed and read again, comes back unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/data_reader.hpp"

namespace {

using pigeon::smtp::DataReader;

struct Outcome {
    std::size_t consumed = 0;
    bool done = false;
    DataReader::Status status = DataReader::Status::ok;
    std::string message;
    std::uint64_t octets = 0;
    friend bool operator==(const Outcome&, const Outcome&) = default;
};

Outcome run(std::string_view input, std::size_t cut, std::uint64_t max) {
    DataReader reader(max);
    Outcome out;
    const std::size_t first = reader.put(input.substr(0, cut));
    if (first < cut && !reader.done()) {
        __builtin_trap();
    }
    const std::size_t second = reader.put(input.substr(cut));
    if (first < cut && second != 0) {
        __builtin_trap();  // consumed after the end mark
    }
    if (second < input.size() - cut && !reader.done()) {
        __builtin_trap();
    }
    out.consumed = first + second;
    out.done = reader.done();
    out.status = reader.status();
    out.message = reader.message();
    out.octets = reader.message_octets();
    if (out.message.size() > max) {
        __builtin_trap();
    }
    if (out.status == DataReader::Status::ok && out.message.size() != out.octets) {
        __builtin_trap();
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) {
        return 0;
    }
    const std::string_view input(reinterpret_cast<const char*>(data) + 3, size - 3);
    const std::size_t cut = ((std::size_t{data[0]} << 8) | data[1]) % (input.size() + 1);
    // Small limits exercise too_large; 255 means "large enough".
    const std::uint64_t max = data[2] == 255 ? std::uint64_t{1} << 20 : data[2];

    const Outcome whole = run(input, input.size(), max);
    if (!(run(input, cut, max) == whole)) {
        __builtin_trap();
    }

    if (whole.done && whole.status == DataReader::Status::ok) {
        const std::string wire = pigeon::smtp::dot_stuff(whole.message);
        const Outcome again = run(wire, wire.size() / 2, max);
        if (!again.done || again.status != DataReader::Status::ok || again.consumed != wire.size() ||
            again.message != whole.message) {
            __builtin_trap();
        }
    }
    return 0;
}
