// pigeon/dns/rdata.hpp: one resource record's rdata, as the network sent it, to a dns::RData.
//
// Contract:
//   - decode_rdata(type, wire) is pure and total: any bytes give an RData or nullopt, never a
//     crash, an exception or a read outside `wire` (fuzzed: fuzz/dns_rdata.cpp).
//   - Wire format is RFC 1035 3.3 / 3.4 with uncompressed names, as libunbound hands rdata
//     over (RFC 3597 4: no compression in rdata of these types; a compression pointer is
//     malformed here):
//       A      exactly 4 octets; AAAA exactly 16 (RFC 3596 2.2)
//       NS, CNAME, PTR   one name that fills the rdata
//       MX     a 16-bit preference, then one name that fills the rest (RFC 7505: "." is the
//              null MX, decoded as the empty name)
//       TXT, SPF  one or more <character-string>s (RFC 1035 3.3.14), each a length octet and
//              that many octets, filling the rdata exactly; the octets are kept as they are
//       TLSA   usage, selector, matching type, then the data (RFC 6698 2.1), any length
//       SOA    never decoded (nullopt)
//   - Names: lower case, no trailing dot, labels joined by "."; an octet that would make the
//     text ambiguous ('.', '\', below 0x21, 0x7F) is written \DDD (RFC 1035 5.1). At most 255
//     octets of labels (RFC 1035 3.1); a longer or cut-off name is malformed.
#pragma once
#include <optional>
#include <string_view>

#include "dns/dns.hpp"

namespace pigeon::dns {

// One RR's wire-format rdata -> RData; nullopt when it is malformed or the type has no RData
// form (SOA).
std::optional<RData> decode_rdata(RrType type, std::string_view wire);

}  // namespace pigeon::dns
