// pigeon/queue/spool_files.hpp: inside the spool (not for other libraries): the names of its
// files, the framing of a segment's entries, and the scan of a segment that recovery and
// migration share. spool_files.cpp holds the definitions.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "queue/record.hpp"

namespace pigeon::queue::spool_files {

inline constexpr std::string_view message_suffix = ".msg";
inline constexpr std::string_view state_suffix = ".rcpt";
inline constexpr std::string_view segment_suffix = ".seg";
inline constexpr std::size_t segment_digits = 12;
// Each segment entry is a u64 little-endian length, then one record of that length.
inline constexpr std::size_t entry_prefix_octets = 8;
// A commit batch is appended in pieces of about this size, so a batch of large messages is
// not copied into one buffer of hundreds of MiB.
inline constexpr std::size_t append_chunk_octets = 4u << 20;
// A fresh id collides with a spooled one only if clock, counter and 20 random bits all
// match; a few draws make that impossible in practice without looping forever.
inline constexpr int max_id_draws = 8;

// "no message <id> in the <where>", with the code is_unknown_message() looks for.
inline Error unknown_message_error(const std::string& id, const char* where) {
    return Error{"no message " + id + " in the " + where, ErrorCode::unknown_message};
}

bool has_pending(const std::vector<RecipientStatus>& status);

// "<id>.<sequence>.rcpt" -> (id, sequence); nullopt for any other name.
std::optional<std::pair<std::string, std::uint32_t>> parse_state_name(std::string_view name);

// "<12 digits>.seg" -> number (never 0); nullopt for any other name.
std::optional<std::uint64_t> parse_segment_name(std::string_view name);

void put_entry_length(std::string& out, std::uint64_t n);
void put_entry(std::string& out, std::string_view record);

// One parsed segment: its records in order, and where (if anywhere) it stopped being valid.
struct SegmentScan {
    struct Entry {
        std::uint16_t kind = 0;
        std::uint64_t offset = 0;  // of the record (after its length prefix)
        std::string_view record;
    };
    std::vector<Entry> entries;
    std::optional<std::uint64_t> torn_at;  // offset of the first entry that is not whole
};

SegmentScan scan_segment(std::string_view bytes);

}  // namespace pigeon::queue::spool_files
