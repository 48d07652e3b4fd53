// pigeon/queue/spool_files.cpp: the spool's file names, entry framing and segment scan
// (spool_files.hpp).
#include "queue/spool_files.hpp"

#include <algorithm>
#include <charconv>

#include "queue/queue_id.hpp"

namespace pigeon::queue::spool_files {

bool has_pending(const std::vector<RecipientStatus>& status) {
    return std::any_of(status.begin(), status.end(),
                       [](const RecipientStatus& s) { return s.state == RecipientState::pending; });
}

std::optional<std::pair<std::string, std::uint32_t>> parse_state_name(std::string_view name) {
    if (!name.ends_with(state_suffix)) {
        return std::nullopt;
    }
    name.remove_suffix(state_suffix.size());
    const auto dot = name.find('.');
    if (dot == std::string_view::npos) {
        return std::nullopt;
    }
    const std::string_view id = name.substr(0, dot);
    const std::string_view digits = name.substr(dot + 1);
    std::uint32_t seq = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
    if (!is_valid_queue_id(id) || digits.empty() || ec != std::errc() ||
        end != digits.data() + digits.size() || seq == 0) {
        return std::nullopt;
    }
    return std::make_pair(std::string(id), seq);
}

std::optional<std::uint64_t> parse_segment_name(std::string_view name) {
    if (!name.ends_with(segment_suffix) || name.size() != segment_digits + segment_suffix.size()) {
        return std::nullopt;
    }
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + segment_digits, n);
    if (ec != std::errc() || end != name.data() + segment_digits || n == 0) {
        return std::nullopt;
    }
    return n;
}

void put_entry_length(std::string& out, std::uint64_t n) {
    for (std::size_t i = 0; i < entry_prefix_octets; ++i) {
        out.push_back(static_cast<char>(n & 0xFFu));
        n >>= 8;
    }
}

void put_entry(std::string& out, std::string_view record) {
    put_entry_length(out, record.size());
    out.append(record);
}

SegmentScan scan_segment(std::string_view bytes) {
    SegmentScan scan;
    std::uint64_t pos = 0;
    while (pos < bytes.size()) {
        if (bytes.size() - pos < entry_prefix_octets) {
            scan.torn_at = pos;
            break;
        }
        std::uint64_t n = 0;
        for (std::size_t i = 0; i < entry_prefix_octets; ++i) {
            n |= std::uint64_t{static_cast<unsigned char>(bytes[pos + i])} << (8 * i);
        }
        const std::uint64_t start = pos + entry_prefix_octets;
        if (n < record_header_octets + record_trailer_octets || n > bytes.size() - start) {
            scan.torn_at = pos;
            break;
        }
        const std::string_view record = bytes.substr(start, n);
        const std::uint16_t kind = record_kind(record);
        // The record's own trailer (length and CRC-32C) decides whether it is whole.
        const bool whole = kind == record_kind_message   ? decode_message_record(record).ok()
                           : kind == record_kind_removal ? decode_removal_record(record).ok()
                                                         : false;
        if (!whole) {
            scan.torn_at = pos;
            break;
        }
        scan.entries.push_back({kind, start, record});
        pos = start + n;
    }
    return scan;
}

}  // namespace pigeon::queue::spool_files
