// TlsChannel: the Botan 2 TLS channel behind a value-returning, never-throwing interface.
//
// Botan's Channel is already sans-I/O but reports through callbacks and throws on protocol
// errors. Impl is that callbacks object: during one public call it appends whatever Botan
// reports to `out`, and the call hands `out` back. Botan keeps a reference to the callbacks,
// so Impl lives on the heap and never moves.
#include "tls/tls_channel.hpp"

#include <arpa/inet.h>

#include <botan/tls_client.h>
#include <botan/tls_exceptn.h>
#include <botan/tls_server.h>

#include <utility>

#include "tls/credentials.hpp"

namespace pigeon::tls {

namespace {

bool is_ip_literal(const std::string& name) {
    unsigned char buf[sizeof(struct in6_addr)];
    return ::inet_pton(AF_INET, name.c_str(), buf) == 1 ||
           ::inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

}  // namespace

struct TlsChannel::Impl final : Botan::TLS::Callbacks {
    std::shared_ptr<TlsContext> context;
    std::unique_ptr<Botan::TLS::Channel> channel;
    bool is_client = false;
    std::string server_name;  // client: the name we connect to
    CertificateVerifier verifier;

    TlsOutput out;          // what the current call has produced so far
    std::string pending;    // plaintext sent before the handshake finished
    bool finished = false;  // closed, by either side or by an error
    std::string version;
    std::string cipher_suite;
    std::vector<Botan::X509_Certificate> peer_chain;

    explicit Impl(std::shared_ptr<TlsContext> ctx) : context(std::move(ctx)) {}

    // ---- Botan::TLS::Callbacks ----
    void tls_emit_data(const uint8_t data[], size_t size) override {
        out.to_peer.append(reinterpret_cast<const char*>(data), size);
    }

    void tls_record_received(uint64_t /*seq_no*/, const uint8_t data[], size_t size) override {
        out.plaintext.append(reinterpret_cast<const char*>(data), size);
    }

    void tls_alert(Botan::TLS::Alert alert) override {
        // close_notify is the orderly end (Botan answers it in kind); any other fatal alert
        // is the peer giving up on us. Warnings (e.g. no_renegotiation) change nothing.
        if (alert.type() == Botan::TLS::Alert::CLOSE_NOTIFY) {
            finished = true;
        } else if (alert.is_fatal()) {
            finished = true;
            if (out.error.empty()) out.error = "peer sent fatal alert: " + alert.type_string();
        }
    }

    bool tls_session_established(const Botan::TLS::Session& session) override {
        version = session.version().to_string();
        cipher_suite = session.ciphersuite().to_string();
        return true;  // cache it: resumption saves the next handshake's signature and ECDH
    }

    // Botan's channel accepts send() only from here on, so this (not
    // tls_session_established, which fires before our own Finished is written) is the moment
    // the driver may start talking.
    void tls_session_activated() override {
        out.established_now = true;
        if (channel && channel->is_active()) {
            peer_chain = channel->peer_cert_chain();
            if (!pending.empty()) {
                channel->send(reinterpret_cast<const uint8_t*>(pending.data()), pending.size());
                pending.clear();
            }
        }
    }

    void tls_verify_cert_chain(const std::vector<Botan::X509_Certificate>& chain,
                               const std::vector<std::shared_ptr<const Botan::OCSP::Response>>&,
                               const std::vector<Botan::Certificate_Store*>&, Botan::Usage_Type,
                               const std::string& /*hostname*/,
                               const Botan::TLS::Policy&) override {
        peer_chain = chain;
        if (!verifier) return;  // opportunistic: any certificate will do
        const std::string reason = verifier(chain, server_name);
        if (!reason.empty()) {
            throw Botan::TLS::TLS_Exception(Botan::TLS::Alert::BAD_CERTIFICATE,
                                            "certificate rejected: " + reason);
        }
    }

    // Never consult OCSP responders over the network from inside a handshake.
    std::chrono::milliseconds tls_verify_cert_chain_ocsp_timeout() const override {
        return std::chrono::milliseconds(0);
    }

    // ---- driving ----
    void start_client() {
        if (channel || !is_client) return;
        const std::string sni = is_ip_literal(server_name) ? std::string() : server_name;
        channel = std::make_unique<Botan::TLS::Client>(
            *this, context->session_manager(), *context, context->policy(), context->rng(),
            Botan::TLS::Server_Information(sni, "smtp", 0),
            Botan::TLS::Protocol_Version::TLS_V12);
    }

    TlsOutput take() {
        if (finished || (channel && channel->is_closed())) {
            finished = true;
            out.closed = true;
        }
        TlsOutput result = std::move(out);
        out = TlsOutput{};
        return result;
    }

    // Run one Botan operation, turning every exception into error + closed. Botan has by
    // then already emitted the matching fatal alert into to_peer.
    template <class F>
    TlsOutput run(F&& operation) {
        if (finished) return take();
        try {
            start_client();
            operation();
        } catch (const std::exception& e) {
            finished = true;
            if (out.error.empty()) out.error = e.what();
        } catch (...) {
            finished = true;
            if (out.error.empty()) out.error = "unknown TLS failure";
        }
        return take();
    }
};

TlsChannel::TlsChannel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsChannel::TlsChannel(TlsChannel&&) noexcept = default;
TlsChannel& TlsChannel::operator=(TlsChannel&&) noexcept = default;
TlsChannel::~TlsChannel() = default;

TlsOutput TlsChannel::received(std::string_view ciphertext) {
    return impl_->run([&] {
        if (ciphertext.empty()) return;
        impl_->channel->received_data(reinterpret_cast<const uint8_t*>(ciphertext.data()),
                                      ciphertext.size());
    });
}

TlsOutput TlsChannel::send(std::string_view plaintext) {
    return impl_->run([&] {
        if (plaintext.empty()) return;
        if (impl_->channel->is_active()) {
            impl_->channel->send(reinterpret_cast<const uint8_t*>(plaintext.data()),
                                 plaintext.size());
        } else {
            impl_->pending.append(plaintext);
        }
    });
}

TlsOutput TlsChannel::close() {
    return impl_->run([&] {
        // Nothing to say in TLS before our first flight (a client never started); otherwise
        // close_notify, after which we send nothing more (RFC 5246 7.2.1: no need to wait for
        // the peer's answer).
        if (impl_->channel && !impl_->channel->is_closed()) impl_->channel->close();
        impl_->finished = true;
    });
}

bool TlsChannel::established() const {
    return !impl_->finished && impl_->channel && impl_->channel->is_active();
}

bool TlsChannel::closed() const { return impl_->finished; }

const std::string& TlsChannel::version() const { return impl_->version; }
const std::string& TlsChannel::cipher_suite() const { return impl_->cipher_suite; }
const std::vector<Botan::X509_Certificate>& TlsChannel::peer_certificates() const {
    return impl_->peer_chain;
}

TlsServerChannel::TlsServerChannel(std::shared_ptr<TlsContext> context)
    : TlsChannel(std::make_unique<Impl>(std::move(context))) {
    // Botan's Server constructor only sets up state (it waits for the ClientHello), and it
    // does not throw for a context without a certificate: that fails the handshake later.
    TlsContext& ctx = *impl_->context;
    impl_->channel = std::make_unique<Botan::TLS::Server>(*impl_, ctx.session_manager(), ctx,
                                                          ctx.policy(), ctx.rng());
}

TlsClientChannel::TlsClientChannel(std::shared_ptr<TlsContext> context, std::string server_name,
                                   CertificateVerifier verifier)
    : TlsChannel(std::make_unique<Impl>(std::move(context))) {
    impl_->is_client = true;
    impl_->server_name = std::move(server_name);
    impl_->verifier = std::move(verifier);
}

TlsOutput TlsClientChannel::start() {
    return impl_->run([] {});  // run() starts the client; its ClientHello lands in to_peer
}

}  // namespace pigeon::tls
