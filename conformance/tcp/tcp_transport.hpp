// pigeon/conformance/tcp_transport.hpp: a conformance::Transport over a real TCP connection.
//
// Contract: TcpTransport plays a transcript against a server listening on host:port (the
// real `pigeon serve`). Client bytes go out exactly as the transcript gives them, one send
// group per write (pipelining stays pipelining). Nothing blocks without a bound:
//   - receive_line() waits at most `line_timeout` for the next CRLF-terminated line;
//   - poll_line() (NOSERVER, end of transcript) waits only `quiet_grace`;
//   - closed() waits at most `line_timeout` for the server's close (read returns 0, a TLS
//     close_notify, or a reset); lines read on the way stay queued for receive_line();
//   - start_tls() runs a TLS handshake with tls::TlsClientChannel within `line_timeout`,
//     and from then on every byte in both directions goes through the channel;
//   - eof() half-closes the socket (inside TLS too, without close_notify);
//   - timeout() cannot make the server's timer fire: it succeeds only when the server was
//     configured with a tiny command timeout (server_times_out), and then does nothing.
// Queue ids are the server's choice: "250 2.0.0 OK: queued as <id>" is rewritten to
// Q1, Q2, ... in order (what MemoryTransport answers), and the real ids are kept in
// queue_ids(). Errors are returned as text, never thrown. Not thread-safe; one connection.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transcript.hpp"

namespace pigeon::tls {
class TlsClientChannel;
}

namespace pigeon::conformance {

struct TcpOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    bool implicit_tls = false;      // TLS from the first byte (port 465 style)
    bool server_times_out = false;  // the server runs with a ~1 s command timeout
    std::chrono::milliseconds line_timeout{10'000};
    std::chrono::milliseconds quiet_grace{300};
};

class TcpTransport final : public Transport {
public:
    explicit TcpTransport(TcpOptions options);
    ~TcpTransport() override;
    TcpTransport(const TcpTransport&) = delete;
    TcpTransport& operator=(const TcpTransport&) = delete;

    // Connects (and with implicit_tls, completes the handshake). Empty on success.
    std::string connect();

    std::string send(std::string_view bytes) override;
    std::string start_tls() override;
    std::string timeout() override;
    std::string eof() override;
    std::optional<std::string> receive_line() override;
    std::optional<std::string> poll_line() override;
    bool closed() override;
    std::string unterminated() const override { return input_; }

    const std::vector<std::string>& queue_ids() const { return queue_ids_; }

private:
    using Clock = std::chrono::steady_clock;
    std::optional<std::string> line_within(std::chrono::milliseconds wait);
    // Reads once (waiting until `deadline`) and feeds the bytes through TLS when it is on.
    // False when nothing arrived in time or the connection is over.
    bool read_some(Clock::time_point deadline);
    std::string write_all(std::string_view bytes);
    std::string handshake();
    void split_lines();

    TcpOptions options_;
    int fd_ = -1;
    std::unique_ptr<tls::TlsClientChannel> tls_;
    std::string input_;               // plaintext from the server not yet split into lines
    std::deque<std::string> lines_;   // complete lines, unread
    bool peer_closed_ = false;        // EOF, reset or TLS closure seen
    std::string read_error_;          // why the connection ended, when it ended badly
    bool sent_eof_ = false;
    std::vector<std::string> queue_ids_;
};

}  // namespace pigeon::conformance
