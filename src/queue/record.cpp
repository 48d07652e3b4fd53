// pigeon/queue/record.cpp: spool record encoding and its bad-input-safe decoder.
#include "queue/record.hpp"

#include <array>
#include <limits>

#include "core/assert.hpp"
#include "queue/queue_id.hpp"

namespace pigeon::queue {
namespace {

constexpr std::string_view header_magic = "PGNQ";
constexpr std::string_view trailer_magic = "QEND";
constexpr std::uint16_t kind_message = record_kind_message;
constexpr std::uint16_t kind_state = record_kind_state;
constexpr std::uint16_t kind_removal = record_kind_removal;

// Smallest encoding of one recipient state (state + empty diagnostic, and in version 2
// attempts + next attempt + delay flag), and of one message-record recipient (path kind
// first): bounds the count a decoder believes before it allocates.
constexpr std::size_t min_status_octets(std::uint16_t version) {
    return version == 1 ? 1 + 4 : 1 + 4 + 4 + 8 + 1;
}
constexpr std::size_t min_recipient_octets(std::uint16_t version) {
    return 1 + min_status_octets(version);
}

// ---- CRC-32C, slicing-by-8 (about 8x the byte-at-a-time table; messages reach 25 MiB) ----

constexpr std::uint32_t crc_polynomial = 0x82F63B78u;  // Castagnoli, reflected

constexpr std::array<std::array<std::uint32_t, 256>, 8> make_crc_tables() {
    std::array<std::array<std::uint32_t, 256>, 8> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) {
            c = (c & 1u) ? (c >> 1) ^ crc_polynomial : c >> 1;
        }
        t[0][i] = c;
    }
    for (std::size_t s = 1; s < 8; ++s) {
        for (std::uint32_t i = 0; i < 256; ++i) {
            t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFFu];
        }
    }
    return t;
}

constexpr auto crc_tables = make_crc_tables();

// ---- writer ------------------------------------------------------------------------------

class Writer {
public:
    void u8(std::uint8_t v) { out_ += static_cast<char>(v); }
    void u16(std::uint16_t v) { le(v, 2); }
    void u32(std::uint32_t v) { le(v, 4); }
    void u64(std::uint64_t v) { le(v, 8); }
    void i64(std::int64_t v) { le(static_cast<std::uint64_t>(v), 8); }
    void raw(std::string_view s) { out_.append(s); }
    // Strings are u32-length-prefixed; the caller has checked the length fits.
    void str(std::string_view s) {
        u32(static_cast<std::uint32_t>(s.size()));
        raw(s);
    }
    void reserve(std::size_t n) { out_.reserve(n); }
    std::string& bytes() { return out_; }

private:
    void le(std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i) {
            out_ += static_cast<char>((v >> (8 * i)) & 0xFFu);
        }
    }
    std::string out_;
};

void put_trailer(Writer& w) {
    const std::uint64_t length = w.bytes().size();
    const std::uint32_t crc = crc32c(w.bytes());
    w.u64(length);
    w.u32(crc);
    w.raw(trailer_magic);
}

// ---- reader: every accessor checks bounds and remembers the first failure ---------------

class Reader {
public:
    explicit Reader(std::string_view in) : in_(in) {}

    bool failed() const { return !error_.empty(); }
    const std::string& error() const { return error_; }
    std::size_t remaining() const { return in_.size() - pos_; }
    std::size_t offset() const { return pos_; }

    void fail(const std::string& what) {
        if (error_.empty()) {
            error_ = what + " at offset " + std::to_string(pos_);
        }
    }
    std::uint64_t le(int n, const char* what) {
        if (failed()) {
            return 0;
        }
        if (remaining() < static_cast<std::size_t>(n)) {
            fail(std::string("truncated ") + what);
            return 0;
        }
        std::uint64_t v = 0;
        for (int i = 0; i < n; ++i) {
            v |= std::uint64_t{static_cast<unsigned char>(in_[pos_ + i])} << (8 * i);
        }
        pos_ += n;
        return v;
    }
    std::uint8_t u8(const char* what) { return static_cast<std::uint8_t>(le(1, what)); }
    std::uint16_t u16(const char* what) { return static_cast<std::uint16_t>(le(2, what)); }
    std::uint32_t u32(const char* what) { return static_cast<std::uint32_t>(le(4, what)); }
    std::uint64_t u64(const char* what) { return le(8, what); }
    std::int64_t i64(const char* what) { return static_cast<std::int64_t>(le(8, what)); }
    bool boolean(const char* what) {
        const std::uint8_t v = u8(what);
        if (v > 1) {
            fail(std::string("bad boolean ") + what);
        }
        return v == 1;
    }
    std::string_view raw(std::uint64_t n, const char* what) {
        if (failed()) {
            return {};
        }
        if (remaining() < n) {
            fail(std::string("truncated ") + what);
            return {};
        }
        const std::string_view s = in_.substr(pos_, static_cast<std::size_t>(n));
        pos_ += static_cast<std::size_t>(n);
        return s;
    }
    std::string str(const char* what) { return std::string(raw(u32(what), what)); }

private:
    std::string_view in_;
    std::size_t pos_ = 0;
    std::string error_;
};

struct Body {
    std::string_view bytes;   // between header and trailer
    std::uint16_t version = 0;
};

// The newest version a record of `kind` may carry: only state records have a version 3.
std::uint16_t newest_version(std::uint16_t kind) {
    return kind == kind_state ? held_state_format_version : record_format_version;
}

// Checks the frame and returns the body and its format version, or an error.
Result<Body> unframe(std::string_view bytes, std::uint16_t kind) {
    if (bytes.size() < record_header_octets + record_trailer_octets) {
        return Error{"record too short (" + std::to_string(bytes.size()) + " octets)"};
    }
    if (bytes.substr(0, 4) != header_magic) {
        return Error{"not a spool record (bad magic)"};
    }
    if (bytes.substr(bytes.size() - 4) != trailer_magic) {
        return Error{"torn record: trailer missing"};
    }
    Reader trailer(bytes.substr(bytes.size() - record_trailer_octets));
    const std::uint64_t length = trailer.u64("length");
    const std::uint32_t crc = trailer.u32("checksum");
    const std::uint64_t covered = bytes.size() - record_trailer_octets;
    if (length != covered) {
        return Error{"torn record: length " + std::to_string(length) + " but " +
                     std::to_string(covered) + " octets present"};
    }
    const std::string_view framed = bytes.substr(0, covered);
    if (crc32c(framed) != crc) {
        return Error{"corrupt record: checksum mismatch"};
    }
    Reader header(framed);
    header.raw(4, "magic");
    const std::uint16_t version = header.u16("version");
    const std::uint16_t got_kind = header.u16("kind");
    if (version < oldest_record_format_version || version > held_state_format_version) {
        return Error{"unsupported record version " + std::to_string(version)};
    }
    if (got_kind != kind) {
        return Error{"wrong record kind " + std::to_string(got_kind)};
    }
    if (version > newest_version(kind)) {
        return Error{"unsupported record version " + std::to_string(version) + " for kind " +
                     std::to_string(kind)};
    }
    return Body{framed.substr(record_header_octets), version};
}

void start_record(Writer& w, std::uint16_t kind, std::size_t body_hint,
                  std::uint16_t version = record_format_version) {
    w.reserve(record_header_octets + body_hint + record_trailer_octets);
    w.raw(header_magic);
    w.u16(version);
    w.u16(kind);
}

bool fits_u32(std::string_view s) { return s.size() <= std::numeric_limits<std::uint32_t>::max(); }

void put_path(Writer& w, const core::Path& p) {
    switch (p.kind) {
    case core::Path::Kind::null: w.u8(0); break;
    case core::Path::Kind::mailbox: w.u8(1); w.str(p.mailbox.to_string()); break;
    case core::Path::Kind::postmaster: w.u8(2); break;
    }
}

core::Path get_path(Reader& r, const char* what) {
    const std::uint8_t kind = r.u8(what);
    if (r.failed()) {
        return {};
    }
    switch (kind) {
    case 0: return core::Path::null_path();
    case 2: return core::Path::postmaster();
    case 1: {
        const std::string text = r.str(what);
        if (r.failed()) {
            return {};
        }
        // The same grammar the session accepted it with; UTF-8 allowed because SMTPUTF8
        // transactions store UTF-8 mailboxes and the record keeps its own smtputf8 flag.
        auto mailbox = core::Mailbox::parse(text, core::AddressSyntax{true});
        if (!mailbox) {
            r.fail(std::string("bad mailbox in ") + what + ": " + mailbox.error().message);
            return {};
        }
        return core::Path::of(std::move(mailbox).value());
    }
    default: r.fail(std::string("bad path kind in ") + what); return {};
    }
}

// Always the current version (2).
void put_status(Writer& w, const RecipientStatus& s) {
    w.u8(static_cast<std::uint8_t>(s.state));
    w.str(s.diagnostic);
    w.u32(s.attempts);
    w.i64(s.next_attempt_unix);
    w.u8(s.delay_notified ? 1 : 0);
}

RecipientStatus get_status(Reader& r, std::uint16_t version) {
    RecipientStatus s;
    const std::uint8_t state = r.u8("recipient state");
    if (state > static_cast<std::uint8_t>(RecipientState::failed)) {
        r.fail("bad recipient state");
    }
    s.state = static_cast<RecipientState>(state);
    s.diagnostic = r.str("diagnostic");
    if (version >= 2) {
        s.attempts = r.u32("attempts");
        s.next_attempt_unix = r.i64("next attempt");
        s.delay_notified = r.boolean("delay notified");
    }
    return s;
}


// The costly PIGEON_ASSERT behind every encoder (core/assert.hpp, on in the dev, fuzz and
// simulator builds): the record just written decodes to what was encoded. The fields compared
// are the ones the format carries (not Envelope::trace_fields or sender_facts, which live
// in the message octets or only during the session, nor `held`, which state records carry).
constexpr std::uint64_t round_trip_check_max_octets = 1u << 20;

bool same_encoded_entry(const SpoolEntry& a, const SpoolEntry& b) {
    const core::Envelope& x = a.envelope;
    const core::Envelope& y = b.envelope;
    return a.id == b.id && a.arrival_unix_seconds == b.arrival_unix_seconds &&
           a.folder == b.folder && a.status == b.status && x.reverse_path == y.reverse_path &&
           x.recipients == y.recipients && x.body == y.body && x.smtputf8 == y.smtputf8 &&
           x.declared_size == y.declared_size && x.helo == y.helo && x.esmtp == y.esmtp &&
           x.client_address == y.client_address && x.auth_identity == y.auth_identity &&
           x.tls == y.tls;
}

}  // namespace

const char* state_name(RecipientState state) {
    switch (state) {
    case RecipientState::pending: return "pending";
    case RecipientState::delivered: return "delivered";
    case RecipientState::failed: return "failed";
    }
    return "unknown";
}

std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    std::size_t n = bytes.size();
    crc = ~crc;
    while (n >= 8) {
        const std::uint32_t lo = crc ^ (std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 |
                                        std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24);
        crc = crc_tables[7][lo & 0xFFu] ^ crc_tables[6][(lo >> 8) & 0xFFu] ^
              crc_tables[5][(lo >> 16) & 0xFFu] ^ crc_tables[4][lo >> 24] ^
              crc_tables[3][p[4]] ^ crc_tables[2][p[5]] ^ crc_tables[1][p[6]] ^ crc_tables[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n-- > 0) {
        crc = (crc >> 8) ^ crc_tables[0][(crc ^ *p++) & 0xFFu];
    }
    return ~crc;
}

Result<std::string> encode_message_record(const SpoolEntry& entry, std::string_view message) {
    const std::string_view one[] = {message};
    auto parts = encode_message_record_parts(entry, one);
    if (!parts) {
        return Error{parts.error()};
    }
    std::string out;
    out.reserve(parts->head.size() + message.size() + parts->tail.size());
    out.append(parts->head).append(message).append(parts->tail);
    return out;
}

Result<RecordParts> encode_message_record_parts(const SpoolEntry& entry,
                                                  std::span<const std::string_view> message) {
    const core::Envelope& env = entry.envelope;
    if (!is_valid_queue_id(entry.id)) {
        return Error{"cannot encode: bad queue id '" + entry.id + "'"};
    }
    if (entry.status.size() != env.recipients.size()) {
        return Error{"cannot encode: " + std::to_string(entry.status.size()) + " states for " +
                     std::to_string(env.recipients.size()) + " recipients"};
    }
    if (env.recipients.size() > std::numeric_limits<std::uint32_t>::max()) {
        return Error{"cannot encode: too many recipients"};
    }
    for (const std::string* s : {&entry.folder, &env.helo, &env.client_address, &env.auth_identity}) {
        if (!fits_u32(*s)) {
            return Error{"cannot encode: field over 4 GiB"};
        }
    }
    for (const auto& st : entry.status) {
        if (!fits_u32(st.diagnostic)) {
            return Error{"cannot encode: diagnostic over 4 GiB"};
        }
    }
    // Paths need no check: the session accepted them at most 256 octets (RFC 5321 4.5.3.1.3).

    std::uint64_t message_octets = 0;
    for (const std::string_view part : message) {
        message_octets += part.size();
    }
    Writer w;
    start_record(w, kind_message, 512);
    w.str(entry.id);
    w.i64(entry.arrival_unix_seconds);
    w.str(entry.folder);
    put_path(w, env.reverse_path);
    w.u8(static_cast<std::uint8_t>(env.body));
    w.u8(env.smtputf8 ? 1 : 0);
    w.u8(env.declared_size ? 1 : 0);
    w.u64(env.declared_size.value_or(0));
    w.str(env.helo);
    w.u8(env.esmtp ? 1 : 0);
    w.str(env.client_address);
    w.str(env.auth_identity);
    w.u8(env.tls ? 1 : 0);
    w.u32(static_cast<std::uint32_t>(env.recipients.size()));
    for (std::size_t i = 0; i < env.recipients.size(); ++i) {
        put_path(w, env.recipients[i]);
        put_status(w, entry.status[i]);
    }
    w.u64(message_octets);
    // The trailer (record.hpp) covers the head and the message octets, chained through them.
    RecordParts parts;
    std::uint32_t crc = crc32c(w.bytes());
    for (const std::string_view part : message) {
        crc = crc32c(part, crc);
    }
    const std::uint64_t length = w.bytes().size() + message_octets;
    parts.head = std::move(w.bytes());
    Writer t;
    t.u64(length);
    t.u32(crc);
    t.raw(trailer_magic);
    parts.tail = std::move(t.bytes());
    // Only for records that are cheap to copy: a large message (a spill file of tens of MiB)
    // would be copied twice more, and the servers' memory bounds hold in dev builds too.
    if (core::assertions_enabled() && message_octets <= round_trip_check_max_octets) {
        std::string whole = parts.head;
        for (const std::string_view part : message) whole.append(part);
        whole.append(parts.tail);
        const auto decoded = decode_message_record(whole);
        PIGEON_ASSERT(decoded && same_encoded_entry(decoded->entry, entry) &&
                          decoded->message == whole.substr(parts.head.size(), message_octets),
                      "a message record decodes to what was encoded");
    }
    return parts;
}

Result<MessageRecord> decode_message_record(std::string_view bytes) {
    auto body = unframe(bytes, kind_message);
    if (!body) {
        return Error{body.error()};
    }
    const std::uint16_t version = body->version;
    Reader r(body->bytes);
    MessageRecord rec;
    SpoolEntry& e = rec.entry;
    core::Envelope& env = e.envelope;
    e.id = r.str("queue id");
    if (!r.failed() && !is_valid_queue_id(e.id)) {
        r.fail("bad queue id");
    }
    e.arrival_unix_seconds = r.i64("arrival");
    e.folder = r.str("folder");
    env.reverse_path = get_path(r, "reverse path");
    const std::uint8_t body_type = r.u8("body type");
    if (body_type > static_cast<std::uint8_t>(core::BodyType::eight_bit_mime)) {
        r.fail("bad body type");
    }
    env.body = static_cast<core::BodyType>(body_type);
    env.smtputf8 = r.boolean("smtputf8");
    const bool has_size = r.boolean("size flag");
    const std::uint64_t size = r.u64("declared size");
    if (has_size) {
        env.declared_size = size;
    } else if (size != 0) {
        r.fail("declared size without its flag");  // keeps the encoding canonical
    }
    env.helo = r.str("helo");
    env.esmtp = r.boolean("esmtp");
    env.client_address = r.str("client address");
    env.auth_identity = r.str("auth identity");
    env.tls = r.boolean("tls");
    const std::uint32_t count = r.u32("recipient count");
    if (!r.failed() && count > r.remaining() / min_recipient_octets(version)) {
        r.fail("recipient count " + std::to_string(count) + " exceeds the record");
    }
    for (std::uint32_t i = 0; i < count && !r.failed(); ++i) {
        env.recipients.push_back(get_path(r, "recipient"));
        e.status.push_back(get_status(r, version));
    }
    const std::uint64_t message_size = r.u64("message length");
    rec.message = std::string(r.raw(message_size, "message"));
    if (!r.failed() && r.remaining() != 0) {
        r.fail("trailing octets");
    }
    if (r.failed()) {
        return Error{r.error()};
    }
    return rec;
}

Result<std::string> encode_state_record(const StateRecord& record) {
    if (!is_valid_queue_id(record.id)) {
        return Error{"cannot encode: bad queue id '" + record.id + "'"};
    }
    if (record.status.size() > std::numeric_limits<std::uint32_t>::max()) {
        return Error{"cannot encode: too many recipients"};
    }
    Writer w;
    start_record(w, kind_state, 64 + 32 * record.status.size(),
                 record.held ? held_state_format_version : record_format_version);
    w.str(record.id);
    w.u32(record.sequence);
    w.u32(static_cast<std::uint32_t>(record.status.size()));
    for (const auto& s : record.status) {
        if (!fits_u32(s.diagnostic)) {
            return Error{"cannot encode: diagnostic over 4 GiB"};
        }
        put_status(w, s);
    }
    if (record.held) {
        w.u8(1);
    }
    put_trailer(w);
    if (core::assertions_enabled()) {
        const auto decoded = decode_state_record(w.bytes());
        PIGEON_ASSERT(decoded && decoded->id == record.id && decoded->sequence == record.sequence &&
                          decoded->status == record.status && decoded->held == record.held,
                      "a state record decodes to what was encoded");
    }
    return std::move(w.bytes());
}

Result<StateRecord> decode_state_record(std::string_view bytes) {
    auto body = unframe(bytes, kind_state);
    if (!body) {
        return Error{body.error()};
    }
    const std::uint16_t version = body->version;
    Reader r(body->bytes);
    StateRecord rec;
    rec.id = r.str("queue id");
    if (!r.failed() && !is_valid_queue_id(rec.id)) {
        r.fail("bad queue id");
    }
    rec.sequence = r.u32("sequence");
    const std::uint32_t count = r.u32("recipient count");
    if (!r.failed() && count > r.remaining() / min_status_octets(version)) {
        r.fail("recipient count " + std::to_string(count) + " exceeds the record");
    }
    for (std::uint32_t i = 0; i < count && !r.failed(); ++i) {
        rec.status.push_back(get_status(r, version));
    }
    if (version >= held_state_format_version) {
        rec.held = r.boolean("held flag");
        if (!r.failed() && !rec.held) {
            r.fail("version 3 without the held flag");  // keeps the encoding canonical
        }
    }
    if (!r.failed() && r.remaining() != 0) {
        r.fail("trailing octets");
    }
    if (r.failed()) {
        return Error{r.error()};
    }
    return rec;
}

Result<std::string> encode_removal_record(std::string_view id) {
    if (!is_valid_queue_id(id)) {
        return Error{"cannot encode: bad queue id"};
    }
    Writer w;
    start_record(w, kind_removal, 32);
    w.str(id);
    put_trailer(w);
    return std::move(w.bytes());
}

Result<std::string> decode_removal_record(std::string_view bytes) {
    auto body = unframe(bytes, kind_removal);
    if (!body) {
        return Error{body.error()};
    }
    Reader r(body->bytes);
    std::string id = r.str("queue id");
    if (!r.failed() && !is_valid_queue_id(id)) {
        r.fail("bad queue id");
    }
    if (!r.failed() && r.remaining() != 0) {
        r.fail("trailing octets");
    }
    if (r.failed()) {
        return Error{r.error()};
    }
    return id;
}

std::uint16_t record_kind(std::string_view bytes) {
    if (bytes.size() < record_header_octets || bytes.substr(0, 4) != header_magic) {
        return 0;
    }
    return static_cast<std::uint16_t>(static_cast<unsigned char>(bytes[6]) |
                                      static_cast<unsigned char>(bytes[7]) << 8);
}

}  // namespace pigeon::queue
