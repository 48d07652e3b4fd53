// fuzz/dns_rdata.cpp: libFuzzer target for decode_rdata (dns/rdata.hpp), how the rdata of an
// answer from the network becomes a dns::Record. The first byte picks the RR type, the rest
// is the rdata.
//
// Checked on every input:
//   - decode_rdata() never crashes, throws or reads outside the rdata, and is a function of
//     its input (twice gives the same value);
//   - A and AAAA decode exactly their 4 and 16 octets; TXT, SPF and TLSA decode to values
//     that encode back to the very same rdata; MX keeps the preference of the first two octets;
//   - a decoded name (NS, CNAME, PTR, MX exchange) is lower case and holds no raw control
//     character, space or DEL (those are \DDD), and no more than 255 octets escaped.
// A broken invariant traps, which libFuzzer reports as a crash with the input saved.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dns/rdata.hpp"

namespace {

using namespace pigeon::dns;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

constexpr RrType types[] = {RrType::a,   RrType::aaaa, RrType::ns,  RrType::cname, RrType::ptr,
                            RrType::mx,  RrType::txt,  RrType::spf, RrType::tlsa,  RrType::soa};
constexpr std::size_t max_escaped_name = 255 * 4;  // every octet as \DDD

void check_name(const std::string& name) {
    check(name.size() <= max_escaped_name);
    for (char c : name) {
        const auto u = static_cast<unsigned char>(c);
        check(u > 0x20 && u != 0x7f && !(c >= 'A' && c <= 'Z'));
    }
}

std::string encode_txt(const Txt& t) {
    std::string out;
    for (const auto& s : t.strings) out += static_cast<char>(s.size()) + s;
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const RrType type = types[data[0] % std::size(types)];
    const std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);
    const auto r = decode_rdata(type, wire);
    check(r == decode_rdata(type, wire));
    if (!r) return 0;
    check(type != RrType::soa);
    if (const auto* v4 = std::get_if<Ipv4>(&*r))
        check(wire.size() == 4 && std::string_view(reinterpret_cast<const char*>(v4->octets.data()), 4) == wire);
    if (const auto* v6 = std::get_if<Ipv6>(&*r))
        check(wire.size() == 16 && std::string_view(reinterpret_cast<const char*>(v6->octets.data()), 16) == wire);
    if (const auto* t = std::get_if<Txt>(&*r)) check(!t->strings.empty() && encode_txt(*t) == wire);
    if (const auto* t = std::get_if<Tlsa>(&*r))
        check(std::string{static_cast<char>(t->usage), static_cast<char>(t->selector),
                          static_cast<char>(t->matching)} + t->data == wire);
    if (const auto* m = std::get_if<Mx>(&*r)) {
        check(m->preference == (static_cast<unsigned>(data[1]) << 8 | data[2]));
        check_name(m->exchange);
    }
    if (const auto* n = std::get_if<Name>(&*r)) check_name(n->name);
    return 0;
}
