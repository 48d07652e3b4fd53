// pigeon/queue/queue_id.cpp: sortable base32 queue ids.
#include "queue/queue_id.hpp"

namespace pigeon::queue {
namespace {

constexpr std::string_view alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // Crockford base32
constexpr unsigned time_chars = 8;
constexpr unsigned counter_chars = 4;
constexpr unsigned random_chars = 4;
constexpr std::uint32_t counter_limit = 1u << (5 * counter_chars);
constexpr std::int64_t time_limit = std::int64_t{1} << (5 * time_chars);
static_assert(time_chars + counter_chars + random_chars == queue_id_length);

void append_base32(std::string& out, std::uint64_t value, unsigned chars) {
    for (unsigned i = chars; i-- > 0;) {
        out += alphabet[(value >> (5 * i)) & 31u];
    }
}

int digit_value(char c) {
    const auto pos = alphabet.find(c);
    return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

}  // namespace

bool is_valid_queue_id(std::string_view id) {
    if (id.size() != queue_id_length) {
        return false;
    }
    for (char c : id) {
        if (digit_value(c) < 0) {
            return false;
        }
    }
    return true;
}

std::int64_t queue_id_time(std::string_view id) {
    if (!is_valid_queue_id(id)) {
        return -1;
    }
    std::int64_t t = 0;
    for (unsigned i = 0; i < time_chars; ++i) {
        t = (t << 5) | digit_value(id[i]);
    }
    return t;
}

std::string QueueIdGenerator::next(std::int64_t now, RandomSource& random) {
    // Clamp into the encodable range; a clock before 1970 gives time 0 rather than garbage.
    if (now < 0) {
        now = 0;
    }
    if (now >= time_limit) {
        now = time_limit - 1;
    }
    // Never go backwards (a clock step back keeps the last second), and when a second's
    // counter is exhausted borrow the next second: ids stay unique and ordered.
    if (now > second_) {
        second_ = now;
        counter_ = 0;
    } else if (counter_ >= counter_limit) {
        ++second_;
        counter_ = 0;
    }
    std::string id;
    id.reserve(queue_id_length);
    append_base32(id, static_cast<std::uint64_t>(second_), time_chars);
    append_base32(id, counter_++, counter_chars);
    append_base32(id, random.next_u64(), random_chars);
    return id;
}

}  // namespace pigeon::queue
