// pigeon/policy/dovecot_auth.hpp: the client side of Dovecot's authentication protocol (v1.x,
// the one Postfix's `smtpd_sasl_type = dovecot` speaks to the auth-client socket), sans-I/O.
//
// Framing (Dovecot's "Dovecot Authentication Protocol" document, facts only):
//   - lines end with LF; a line is a command name and parameters separated by TAB;
//   - parameter values use Dovecot's tab-escaping with \001 as the escape character:
//     \001 '0' NUL, \001 '1' \001, \001 't' TAB, \001 'r' CR, \001 'n' LF; \001 before anything
//     else stands for that character;
//   - the client sends "VERSION TAB 1 TAB <minor>" and "CPID TAB <pid>"; the server answers
//     VERSION, then MECH (one per mechanism), SPID, CUID, COOKIE, and DONE ends the handshake;
//   - requests: "AUTH TAB <id> TAB <mechanism> TAB service=smtp ..."; answers carry the id:
//     "OK TAB <id> TAB user=<name> ...", "FAIL TAB <id> ... [temp]", "CONT TAB <id> TAB <base64>".
//
// What this client enforces (spec/requirements/dovecot-auth.toml): a line is at most
// max_line_octets (16384, the size the document says lines are expected to fit); the server's
// first line is VERSION with major 1; an answer before DONE, an unknown command, an id that
// is not a decimal number from 1 to 2^32-1, an OK without a usable user= (1..255 octets, no
// control character) are protocol errors; after one, the connection is done (the transport
// closes it and answers every request in flight as a temporary failure). Optional parameters
// it does not know are ignored, as the document asks.
//
// Contract: no I/O, no clock. put() takes bytes as read and gives back what they meant; the
// encoders give the bytes to write. Credentials only ever appear base64-encoded inside `resp=`
// of the bytes from auth_request(); nothing here logs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pigeon::policy::dovecot {

inline constexpr std::size_t max_line_octets = 16384;
inline constexpr std::size_t max_user_octets = 255;
inline constexpr std::size_t max_mechanisms = 64;  // MECH lines kept from one handshake

// Dovecot's tab-escaping of one parameter value (see the top). unescape() of escape(s) is s;
// escape(s) has no TAB, CR, LF or NUL.
std::string tab_escape(std::string_view value);
std::string tab_unescape(std::string_view value);

// The client's side of the handshake: "VERSION\t1\t2\nCPID\t<pid>\n".
std::string client_handshake(std::uint32_t pid);

// One PLAIN authentication (RFC 4616 message, sent as resp=). authzid is sent empty: Pigeon
// allows no proxy logins (services check that before asking).
struct AuthRequest {
    std::uint32_t id = 0;          // 1.. ; unique among the connection's requests in flight
    std::string authcid;           // the user name as the client gave it
    std::string password;
    bool secured = false;          // the SMTP session is under TLS
    std::string local_ip, remote_ip;  // lip= and rip=, empty: not sent
};
// "AUTH\t<id>\tPLAIN\tservice=smtp[\tsecured]\tnologin[\tlip=..][\trip=..]\tresp=<base64>\n".
std::string auth_request(const AuthRequest& request);

// What the server's lines meant.
struct Handshake {
    unsigned major = 0, minor = 0;
    std::vector<std::string> mechanisms;  // MECH names, upper case as sent
    bool offers(std::string_view mechanism) const;
};
struct Answer {
    enum class Kind { ok, fail, cont };
    Kind kind = Kind::fail;
    std::uint32_t id = 0;
    std::string user;     // ok: the authenticated identity (user=); fail: user= when given
    bool temporary = false;  // fail: "temp" (or code=temp_fail): the backend, not the password
    std::string reason;   // fail: reason=, for the log (already unescaped; the server's text)
    std::string data;     // cont: the base64 challenge
};

class Decoder {
public:
    enum class Status { need_more, handshake_done, answer, error };
    struct Result {
        Status status = Status::need_more;
        std::size_t used = 0;   // bytes of the input consumed
        Answer answer;          // Status::answer
        std::string error;      // Status::error: what was wrong (no input echoed beyond 64 octets)
    };
    // Feeds bytes; consumes at most one line (call again with the rest while used > 0).
    // After an error every further call gives the same error.
    Result put(std::string_view bytes);
    bool ready() const { return state_ == State::ready; }
    const Handshake& handshake() const { return handshake_; }

private:
    enum class State { version, handshake, ready, failed };
    Result line(std::string_view line);
    Result handshake_line(std::string_view command, const std::vector<std::string_view>& fields);
    Result answer_line(std::string_view command, const std::vector<std::string_view>& fields);
    Result fail(std::string why);
    State state_ = State::version;
    Handshake handshake_;
    std::string partial_;  // an incomplete line, at most max_line_octets
    std::string error_;
};

// The decimal id of a request or answer: 1..2^32-1, digits only, no leading zero.
std::optional<std::uint32_t> parse_id(std::string_view text);

}  // namespace pigeon::policy::dovecot
