// pigeon/dns/zone_resolver.hpp: a Resolver that answers from zone text, for tests, the CLI's
// `--zone FILE` option and the simulator.
//
// Contract:
//   - resolve() answers synchronously: `done` is called exactly once before resolve() returns,
//     outside any internal lock (so `done` may call resolve() again). Safe to call from any
//     thread; the test hooks (set_security, fail, add) may be called between lookups.
//   - Zone text is RFC 1035 master-file format (section 5.1): one RR per line, or several lines
//     inside ( ); `[owner] [ttl] [IN] TYPE rdata` with ttl and class in either order; a line that
//     starts with blank space reuses the previous owner; "@" is the origin; a name without a
//     trailing dot is relative to the origin (to the root when there is none); `$ORIGIN name`
//     and `$TTL ttl` (digits, or BIND units such as 1h30m); ";" starts a comment. Supported
//     types: A, AAAA, MX, TXT, SPF (type 99, data like TXT), PTR, CNAME, NS, TLSA (hex data may
//     be split into several tokens), and SOA (checked for shape, makes its owner exist, but is
//     not stored). TXT takes one or more character-strings, quoted or not, with the escapes
//     \" \\ \DDD (decimal octet) and \X (X itself); a string longer than 255 octets is split
//     into 255-octet strings. Names are case-insensitive and stored in lower case; they may not
//     contain backslashes or begin with '$'. Class IN only; $INCLUDE, wildcards and other types are not supported
//     ("*" is an ordinary label).
//   - Errors are core::ParseError values, never exceptions: "line N: what". The parser never
//     throws on any input (fuzzed: fuzz/zone_parser.cpp).
//   - Semantics: a name with records of other types only -> NOERROR with no records (NODATA);
//     a name that does not exist and has no descendants -> NXDOMAIN (an empty non-terminal, a
//     name with descendants only, is NOERROR/NODATA); CNAME chains are followed up to
//     max_cname_chain links, a longer chain or a loop -> SERVFAIL. A CNAME may not share its
//     owner with other records. Exact duplicate records are stored once (RFC 2181 5).
//   - Security: every answer is `insecure` unless set_security() (or a directive) marks a zone
//     suffix; the longest marked suffix wins. Along a CNAME chain the weakest status wins
//     (bogus < indeterminate < insecure < secure). A bogus answer looks like libunbound's: SERVFAIL,
//     no records, security bogus and a why_bogus text.
//   - Test directives inside the text are comments, so other tools still read the file:
//         ; pigeon: timeout NAME [TYPE]      answers Rcode::timeout for NAME (of TYPE only)
//         ; pigeon: servfail NAME [TYPE]     answers SERVFAIL
//         ; pigeon: refused NAME [TYPE]      answers REFUSED
//         ; pigeon: secure ZONE              marks ZONE and every name below it secure
//         ; pigeon: bogus ZONE               ... bogus
//         ; pigeon: insecure ZONE            ... insecure
//         ; pigeon: indeterminate ZONE       ... indeterminate
//     NAME and ZONE follow the origin rules above. A failure hook is checked at every name of a
//     CNAME chain and answers with security indeterminate.
//   - queries() lists every Question asked, in order, including those answered by a hook.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "dns/dns.hpp"

namespace pigeon::dns {

inline constexpr std::size_t max_cname_chain = 16;           // links followed before SERVFAIL
inline constexpr std::uint32_t default_zone_ttl_seconds = 3600;  // when neither $TTL nor an RR says
inline constexpr std::uint32_t max_ttl_seconds = 2147483647;  // RFC 2181 8: 2^31 - 1
inline constexpr std::size_t max_character_string_octets = 255;  // RFC 1035 3.3
inline constexpr std::size_t max_rdata_octets = 65535;        // RFC 1035 3.2.1 RDLENGTH
inline constexpr std::size_t max_label_octets = 63;           // RFC 1035 2.3.4
inline constexpr std::size_t max_name_text_octets = 253;      // 255 on the wire, less 2

class ZoneResolver : public Resolver {
public:
    ZoneResolver();  // empty: every name is NXDOMAIN
    ZoneResolver(ZoneResolver&&) noexcept;
    ZoneResolver& operator=(ZoneResolver&&) noexcept;
    ~ZoneResolver() override;

    // Parses zone text; `origin` is the initial $ORIGIN ("" = the root).
    static core::Result<ZoneResolver> parse(std::string_view text, std::string_view origin = "");
    // Reads and parses a file; errors are "PATH: line N: what" or "PATH: cannot read".
    static core::Result<ZoneResolver> load(const std::string& path, std::string_view origin = "");

    void resolve(const Question& question, std::function<void(Answer)> done) override;
    Answer lookup(const Question& question);  // the same, returned

    // Adds one record (name normalised; exact duplicates ignored). No CNAME checks: tests may
    // build what they like.
    void add(Record record);
    void set_security(std::string_view zone_suffix, Security security);
    // Makes a name (any type, or one type) answer with `rcode`; Rcode::noerror removes the hook.
    void fail(std::string_view name, Rcode rcode);
    void fail(const Question& question, Rcode rcode);

    std::vector<Question> queries() const;  // in the order asked
    void clear_queries();
    std::vector<Record> records() const;    // every stored record, in input order

    struct State;  // opaque; public only so the parser in the .cpp can fill it

private:
    std::unique_ptr<State> state_;  // behind a pointer so the resolver stays movable with its mutex
};

// One record as a zone line that parse() reads back to the same record: absolute names,
// "name. TTL IN TYPE rdata", TXT strings quoted with \" \\ \DDD escapes, TLSA data in hex.
std::string to_zone_line(const Record& record);

}  // namespace pigeon::dns
