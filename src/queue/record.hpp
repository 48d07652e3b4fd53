// pigeon/queue/record.hpp: the on-disk encoding of spool files (docs/spool.md has the layout).
//
// Contract: three kinds of record, each framed as
//   header  "PGNQ" magic, u16 format version, u16 kind
//   body    the fields, little-endian integers, strings as u32 length + octets
//   trailer u64 length of header+body, u32 CRC-32C of header+body, "QEND" magic
// A message record holds the queue id, arrival time, the whole envelope (with one state per
// recipient), the folder hint and the message octets. A recipient-state record holds the
// queue id, a sequence number and one state per recipient; the spool writes a new one each
// time states change, so a message file is never rewritten. A removal record holds a queue
// id: appended to a spool segment, it says the message of that id in an earlier segment is
// gone (docs/spool.md, "Segments").
// encode_* write format version 2 (per recipient: state, diagnostic, attempts, next attempt
// time, delay-notified flag), except a state record of a held message (`pigeon queue hold`),
// which is version 3: version 2 and one more octet, the held flag (1). Writing 3 only where
// it carries something keeps every other record readable by a server of version 2, and keeps
// the encoding canonical (a version 3 record with the flag 0 is rejected). decode_* accept
// exactly what encode_* produce, and version 1 records (state and diagnostic only; the new
// fields take their defaults) so that an upgraded server keeps its spool; they reject
// everything else - truncated, extended, corrupted, unknown-version or foreign bytes - with an
// Error naming the problem and its offset.
// They never throw, never read past the input, and never allocate more than the input's
// size would justify (counts are checked against the bytes remaining).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/envelope.hpp"
#include "queue/storage.hpp"

namespace pigeon::queue {

inline constexpr std::uint16_t record_format_version = 2;       // what encode_* write
inline constexpr std::uint16_t held_state_format_version = 3;    // a held message's state record
inline constexpr std::uint16_t oldest_record_format_version = 1; // still decoded
inline constexpr std::size_t record_header_octets = 8;
inline constexpr std::size_t record_trailer_octets = 16;

enum class RecipientState : std::uint8_t { pending = 0, delivered = 1, failed = 2 };
const char* state_name(RecipientState state);  // "pending", "delivered", "failed"

struct RecipientStatus {
    RecipientState state = RecipientState::pending;
    std::string diagnostic;  // why it failed, or where it went; may be empty
    // Retry state (format version 2; a version 1 record decodes with these defaults).
    std::uint32_t attempts = 0;           // delivery attempts made so far
    std::int64_t next_attempt_unix = 0;   // not before this time; 0: as soon as possible
    bool delay_notified = false;          // a "delayed" DSN was sent for this recipient
    friend bool operator==(const RecipientStatus&, const RecipientStatus&) = default;
};

// Everything about a spooled message except its octets.
struct SpoolEntry {
    std::string id;                       // queue id (queue_id.hpp)
    std::int64_t arrival_unix_seconds = 0;
    core::Envelope envelope;              // envelope.recipients[i] has status[i]
    std::vector<RecipientStatus> status;  // same size as envelope.recipients
    std::string folder;                   // delivery folder hint ("Junk"), may be empty
    // `pigeon queue hold`: kept, but neither the outbound engine nor local delivery tries it
    // until `queue release`. Stored in state records only (a fresh message is never held).
    bool held = false;
};

struct MessageRecord {
    SpoolEntry entry;
    std::string message;  // the octets as accepted, CRLF line ends
};

struct StateRecord {
    std::string id;
    std::uint32_t sequence = 0;  // higher wins; the message file itself counts as 0
    std::vector<RecipientStatus> status;
    bool held = false;           // the message is on hold (format version 3)
};

// Fails only on values the format cannot carry: status size != recipients, a string over
// 4 GiB, an id that is not a queue id.
Result<std::string> encode_message_record(const SpoolEntry& entry, std::string_view message);
// The same record in pieces, for a caller that writes the message octets from where they are
// (a large message is never copied): head, then the parts of `message` in order, then tail
// are exactly encode_message_record(entry, <the parts concatenated>).
struct RecordParts {
    std::string head;
    std::string tail;
};
Result<RecordParts> encode_message_record_parts(const SpoolEntry& entry,
                                                  std::span<const std::string_view> message);
Result<MessageRecord> decode_message_record(std::string_view bytes);

Result<std::string> encode_state_record(const StateRecord& record);
Result<StateRecord> decode_state_record(std::string_view bytes);

Result<std::string> encode_removal_record(std::string_view id);
Result<std::string> decode_removal_record(std::string_view bytes);  // the queue id

// The kind field of a record's header (1 message, 2 state, 3 removal) without checking the
// rest; 0 when bytes is shorter than a header or lacks the magic.
std::uint16_t record_kind(std::string_view bytes);
inline constexpr std::uint16_t record_kind_message = 1;
inline constexpr std::uint16_t record_kind_state = 2;
inline constexpr std::uint16_t record_kind_removal = 3;

// CRC-32C (Castagnoli), the checksum of the trailer. Chained: crc32c(b, crc32c(a)) == crc32c(a+b).
std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0);

}  // namespace pigeon::queue
