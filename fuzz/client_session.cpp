// libFuzzer target: the outbound client session fed arbitrary bytes as the peer's replies,
// split into chunks at fuzzer-chosen points (a 0xff byte ends a chunk), with Deliver, Quit,
// TLS and timeout events chosen by the input. Invariants (abort on violation): no crash or
// sanitizer report; exactly one ClientDone per Deliver, in order, one result per recipient
// in order; a recipient is delivered only if the transaction was not connection-level; no
// ClientSend after ClientClose; every ClientSend ends in CRLF; under tls=required nothing but
// EHLO, STARTTLS and QUIT goes out in clear; AUTH never goes out in clear. In LMTP mode
// (ClientConfig::lmtp, RFC 2033; as delivery/lmtp.cpp runs it: no TLS, no AUTH) the same
// hold, and neither EHLO nor HELO is ever sent; there a recipient whose own reply after the
// "." was 2xx stays delivered when the connection then fails (connection_level).
//
// Input: byte 0 = configuration bits (low two bits 11: LMTP), then chunks. A chunk starting with 0xfe is a control
// chunk: its second byte picks an event (Deliver, Quit, TlsReady, TlsFailed, Timeout, eof).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/address.hpp"
#include "smtp/client/session.hpp"

namespace {

using namespace pigeon;

struct Driver {
    std::unique_ptr<smtp::ClientSession> session;
    smtp::ClientTls tls = smtp::ClientTls::opportunistic;
    bool lmtp = false;
    bool in_tls = false;
    bool closed = false;
    std::vector<std::size_t> expected;  // recipient count per Deliver
    std::size_t done = 0;
    std::string clear_line;  // the unfinished line sent in clear

    void check_clear(std::string_view bytes) {
        for (char c : bytes) {
            clear_line += c;
            if (c != '\n') continue;
            if (clear_line.rfind("AUTH", 0) == 0) __builtin_trap();
            if (lmtp && (clear_line.rfind("EHLO ", 0) == 0 || clear_line.rfind("HELO ", 0) == 0)) __builtin_trap();
            if (tls == smtp::ClientTls::required && clear_line.rfind("EHLO ", 0) != 0 &&
                clear_line != "STARTTLS\r\n" && clear_line != "QUIT\r\n")
                __builtin_trap();
            clear_line.clear();
        }
    }

    void run(const std::vector<smtp::ClientAction>& actions) {
        for (const auto& a : actions) {
            if (auto* s = std::get_if<smtp::ClientSend>(&a)) {
                if (closed || s->bytes.size() < 2 || s->bytes.substr(s->bytes.size() - 2) != "\r\n")
                    __builtin_trap();
                if (!in_tls) check_clear(s->bytes);
            } else if (std::holds_alternative<smtp::ClientStartTls>(a)) {
                if (in_tls || closed) __builtin_trap();
            } else if (auto* d = std::get_if<smtp::ClientDone>(&a)) {
                if (done >= expected.size()) __builtin_trap();
                if (d->result.recipients.size() != expected[done]) __builtin_trap();
                // LMTP: a recipient the store answered after the "." keeps its 2xx even when
                // the connection fails before the next recipient's reply (RFC 2033 4.2).
                for (const auto& r : d->result.recipients)
                    if (r.outcome == smtp::Outcome::delivered && d->result.connection_level &&
                        !(lmtp && r.from_peer && r.stage == "end of data"))
                        __builtin_trap();
                ++done;
            } else if (std::holds_alternative<smtp::ClientClose>(a)) {
                if (closed) __builtin_trap();
                closed = true;
            }
        }
    }

    void deliver(std::uint8_t bits) {
        smtp::ClientMessage m;
        m.reverse_path = core::Path::of(core::Mailbox::parse("s@a.example").value());
        const std::size_t n = bits & 3u;
        for (std::size_t i = 0; i < n; ++i)
            m.recipients.push_back(core::Path::of(
                core::Mailbox::parse("r" + std::to_string(i) + "@b.example").value()));
        static const char* bodies[] = {"", "x\r\n", ".\r\n..\r\n", "caf\xc3\xa9"};
        m.message = std::make_shared<const std::string>(bodies[(bits >> 2) & 3u]);
        m.smtputf8 = bits & 16u;
        expected.push_back(n);
        run(session->on(smtp::Deliver{std::move(m)}));
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    Driver d;
    smtp::ClientConfig config;
    config.tls = static_cast<smtp::ClientTls>(data[0] % 3);
    config.tls_active = data[0] & 4u;
    if (data[0] & 8u) config.credentials = smtp::ClientCredentials{"user", "secret"};
    if ((data[0] & 3u) == 3u) {
        config.lmtp = d.lmtp = true;
        config.tls = smtp::ClientTls::none;
        config.tls_active = false;
        config.credentials.reset();
    }
    d.tls = config.tls;
    d.in_tls = config.tls_active;
    d.session = smtp::make_client_session(config);
    d.run(d.session->start());
    d.deliver(data[0] >> 4);

    std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    while (!rest.empty()) {
        auto cut = rest.find('\xff');
        std::string_view chunk = rest.substr(0, cut);
        if (chunk.size() >= 2 && static_cast<unsigned char>(chunk[0]) == 0xfe) {
            const auto op = static_cast<unsigned char>(chunk[1]);
            switch (op % 6) {
                case 0: d.deliver(op); break;
                case 1: d.run(d.session->on(smtp::Quit{})); break;
                case 2:
                    if (d.session->waiting_for() == "TLS handshake") d.in_tls = true;
                    d.run(d.session->on(smtp::ClientTlsReady{}));
                    break;
                case 3: d.run(d.session->on(smtp::ClientTlsFailed{"fuzz"})); break;
                case 4: d.run(d.session->on(smtp::ClientTimeout{})); break;
                case 5: d.run(d.session->put_eof()); break;
            }
        } else {
            d.run(d.session->put(chunk));
        }
        if (cut == std::string_view::npos) break;
        rest.remove_prefix(cut + 1);
    }
    d.run(d.session->put_eof());
    if (!d.session->closed() || !d.closed) __builtin_trap();
    if (d.done != d.expected.size()) __builtin_trap();
    return 0;
}
