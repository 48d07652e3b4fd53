// pigeon/sim/pigeon_host.hpp: a complete Pigeon instance: the real sessions, policy, spool and
// outbound engine over virtual I/O.
// Part of the simulator's run (sim/simulator.cpp includes it); not for other users.
#pragma once
#include "core/ascii.hpp"
#include "auth/dkim/dkim.hpp"
#include "policy/directory.hpp"
#include "policy/pipeline.hpp"
#include "queue/memory_storage.hpp"
#include "queue/spool.hpp"
#include "sim/host.hpp"
#include "smtp/server/session.hpp"
#include "tls/credentials.hpp"
#include "tls/dane.hpp"
#include "tls/tls_channel.hpp"

namespace pigeon::sim::detail {

class PigeonHost final : public Host {
public:
    PigeonHost(World& w, const HostSpec& spec) : Host(w, spec), resolver_(w.zone, w.trace, spec.name) {
        std::vector<config::User> users;
        for (const auto& u : spec.users) users.push_back(config::User{u.address, "", u.aliases});
        directory_ = std::make_unique<policy::Directory>(spec.local_domains, users);
        for (const auto& k : spec.dkim) {
            auto key = dkim::load_private_key(k.key, w.botan_rng);
            if (!key.ok()) {
                problems.push_back(spec.name + ": DKIM key " + k.selector + "._domainkey." + k.domain +
                                   ": " + key.error().message);
                continue;
            }
            const bool ed = key.value()->algo_name() == "Ed25519";
            keys_.push_back(policy::SigningKey{core::ascii_lower(k.domain), k.selector, key.value(),
                                            ed ? dkim::Algorithm::ed25519_sha256 : dkim::Algorithm::rsa_sha256});
            if (k.publish) {
                auto txt = dkim::dns_record_for(*key.value());
                if (!txt.ok()) continue;
                dns::Txt t;
                for (std::size_t i = 0; i < txt.value().size(); i += 255) t.strings.push_back(txt.value().substr(i, 255));
                w.zone.add(dns::Record{core::ascii_lower(k.selector + "._domainkey." + k.domain), dns::RrType::txt, 3600, t});
            }
        }
        if (!spec.tls_cert_path.empty()) {
            try {
                server_tls_ = tls::TlsContext::from_pem_files(spec.tls_cert_path, spec.tls_key_path);
                if (spec.tlsa_auto) {
                    // RFC 7672 3.1.1: DANE-EE(3) SPKI(1) SHA2-256(1) of our certificate.
                    const std::string data = tls::tlsa_data(server_tls_->certificate_chain().at(0), 1, 1);
                    w.zone.add(dns::Record{core::ascii_lower("_25._tcp." + spec.hostname), dns::RrType::tlsa, 3600,
                                           dns::Tlsa{3, 1, 1, data}});
                }
            } catch (const std::exception& e) {
                problems.push_back(spec.name + ": " + e.what());
            }
        }
        client_tls_ = tls::TlsContext::client_only();
        start_life(false);
    }
    ~PigeonHost() override { end_life(); }

    std::vector<std::string> problems;
    std::map<std::string, std::vector<StoredMail>> mailboxes;  // user address -> mail

    std::size_t queue_size() { return life_ ? life_->spool->size() : storage_size_after_crash(); }

    bool accept(const ConnPtr& c, std::uint16_t port) override {
        if (!life_ || (port != 25 && port != 587)) return false;
        const smtp::Role role = port == 25 ? smtp::Role::inbound : smtp::Role::submission;
        auto s = std::make_shared<ServerConn>();
        s->conn = c;
        s->role = role;
        s->label = c->label;
        smtp::SessionConfig config;
        config.role = role;
        config.hostname = spec_.hostname;
        config.tls_available = server_tls_ != nullptr;
        config.auth_without_tls = true;  // the simulator's submission client does not use TLS
        config.clock = &w_.clock;
        s->session = smtp::make_session(std::move(config), smtp::PeerInfo{client_address(c->client_host)});
        life_->sessions[c->id] = s;
        Alive alive = life_->alive;
        std::weak_ptr<ServerConn> weak = s;
        c->on_server_data = [this, alive, weak](std::string_view bytes) {
            if (!*alive) return;
            if (auto s = weak.lock()) received(s, bytes);
        };
        c->on_server_end = [this, alive, weak](const std::string&) {
            if (!*alive) return;
            if (auto s = weak.lock()) run(s, s->session->put_eof());
            if (auto s = weak.lock()) drop(s);
        };
        run(s, s->session->start());
        return true;
    }

    void crash() override {
        ++w_.obs.crashes;
        // A crash while the end of data awaits its reply: the peer may have the message and
        // the restarted host sends it again (RFC 1047), as after a lost reply.
        for (auto& [who, tx] : transactions_)
            if (tx.awaiting_end_of_data && tx.to_keeper && who.starts_with(name() + "/"))
                ++w_.obs.lost_replies;
        std::erase_if(transactions_, [this](const auto& t) { return t.first.starts_with(name() + "/"); });
        w_.trace.line(name(), "CRASH: the process and every connection are gone; the spool keeps what was synced");
        w_.net.reset_host(name(), "connection reset by peer");
        end_life();
        storage_.crash(queue::MemoryStorage::CrashModel::drop_unsynced);
        up_ = false;
    }
    void restart() override {
        if (up_) return;
        up_ = true;
        start_life(true);
    }
    void flush() {
        if (life_ && life_->engine) life_->engine->flush();
    }
    // OutboundStats::maybe_duplicates over every life of this host.
    std::uint64_t maybe_duplicates() const {
        return maybe_duplicates_before_ + (life_ && life_->engine ? life_->engine->stats().maybe_duplicates : 0);
    }

    std::string client_address(const std::string& host) const;
    std::function<std::string(const std::string&)> address_of;  // host name -> first address

private:
    struct ServerConn {
        ConnPtr conn;
        smtp::Role role;
        std::string label;
        std::unique_ptr<smtp::Session> session;
        std::unique_ptr<tls::TlsServerChannel> tls;
        bool closed = false;
    };
    using ServerPtr = std::shared_ptr<ServerConn>;

    struct Life {
        Alive alive = std::make_shared<bool>(true);
        std::unique_ptr<queue::Spool> spool;
        std::unique_ptr<policy::Pipeline> checks;
        std::unique_ptr<HostRuntime> runtime;
        std::unique_ptr<delivery::OutboundEngine> engine;
        std::map<std::uint64_t, ServerPtr> sessions;
    };

    // What a restart would find: a read-only recovery of the storage, which changes nothing.
    std::size_t storage_size_after_crash() {
        queue::Spool probe(storage_, w_.clock, w_.rng);
        const auto report = probe.recover(queue::Spool::Recovery::read_only);
        return report.ok() ? probe.size() : 0;
    }

    bool is_remote(const core::Path& p) const {
        return p.kind == core::Path::Kind::mailbox && !directory_->is_local_domain(p.mailbox.domain().lowercase());
    }

    void start_life(bool restarted) {
        life_ = std::make_unique<Life>();
        Life& l = *life_;
        l.spool = std::make_unique<queue::Spool>(storage_, w_.clock, w_.rng);
        auto report = l.spool->recover();
        if (restarted) {
            w_.trace.line(name(), "RESTART: spool recovered: " +
                                      (report.ok() ? std::to_string(report->recovered) + " message(s), " +
                                                         std::to_string(report->discarded) + " torn file(s) discarded"
                                                   : "FAILED " + report.error().message));
        }
        policy::PipelineOptions co;
        co.hostname = spec_.hostname;
        co.spf.check = spec_.spf;
        co.dmarc.check = spec_.dmarc;
        co.dmarc.enforce = spec_.dmarc_enforce;
        co.org_domain = w_.org_domain;
        co.dkim_keys = keys_;
        co.rng = &w_.botan_rng;
        co.log = [this](policy::PipelineOptions::Level, std::string_view line) { w_.trace.line(name(), std::string(line)); };
        l.checks = std::make_unique<policy::Pipeline>(std::move(co), *directory_, w_.clock, w_.rng, &resolver_);
        l.runtime = std::make_unique<HostRuntime>(w_, *this, l.alive);

        delivery::OutboundOptions o;
        o.hostname = spec_.hostname;
        o.our_names = {core::ascii_lower(spec_.hostname)};
        o.dane = spec_.dane;
        o.retry.first_retry_seconds = spec_.first_retry_seconds;
        o.retry.max_retry_interval_seconds = spec_.max_retry_interval_seconds;
        o.retry.give_up_after_seconds = spec_.give_up_after_seconds;
        o.retry.delay_warning_after_seconds = spec_.delay_warning_after_seconds;
        o.tls_context = client_tls_;
        o.is_remote = [this](const core::Path& p) { return is_remote(p); };
        o.log = [this](std::string_view line) {  // "outbound: ..."
            w_.trace.line(name(), std::string(line));
            note_dsn(line);
            note_lost_reply(line);
        };
        o.trace = [this](std::string_view conn, std::string_view line) {
            // "o3 mx.example.org[192.0.2.1]:25" -> "o3"
            const auto sp = conn.find(' ');
            const std::string who = name() + "/" + std::string(conn.substr(0, sp));
            client_line(who, conn, std::string(line));
        };
        Alive alive = l.alive;
        o.on_queued = [this, alive](const std::string& id) {
            w_.loop.at(w_.loop.now_ms, guarded(alive, [this, id] { deliver_local(id); }));
        };
        l.engine = std::make_unique<delivery::OutboundEngine>(std::move(o), *l.spool, w_.clock, w_.rng,
                                                               resolver_, *l.runtime);
        l.engine->start();
        for (const auto& m : l.spool->list()) {
            const std::string id = m.id;
            w_.loop.at(w_.loop.now_ms, guarded(alive, [this, id] { deliver_local(id); }));
        }
    }

    void end_life() {
        if (!life_) return;
        *life_->alive = false;
        if (life_->engine) maybe_duplicates_before_ += life_->engine->stats().maybe_duplicates;
        for (auto& [id, s] : life_->sessions) s->closed = true;
        life_->sessions.clear();
        life_->engine.reset();
        life_->checks.reset();
        life_->spool.reset();
        life_.reset();
    }

    void drop(const ServerPtr& s) {
        if (!life_) return;
        s->closed = true;
        life_->sessions.erase(s->conn->id);
    }

    void write(const ServerPtr& s, std::string_view plaintext) {
        if (s->closed) return;
        std::string bytes = s->tls ? s->tls->send(plaintext).to_peer : std::string(plaintext);
        if (!bytes.empty()) w_.net.send(s->conn, false, std::move(bytes));
    }

    void received(const ServerPtr& s, std::string_view bytes) {
        if (s->closed) return;
        if (s->tls) {
            tls::TlsOutput t = s->tls->received(bytes);
            if (!t.to_peer.empty()) w_.net.send(s->conn, false, t.to_peer);
            if (!t.plaintext.empty()) run(s, s->session->put(t.plaintext));
            if (t.established_now) {
                w_.trace.line(name(), s->label + " TLS established (" + s->tls->version() + ")");
                run(s, s->session->on(smtp::TlsReady{}));
            }
            if (t.closed) {
                if (!t.error.empty()) w_.trace.line(name(), s->label + " TLS failed: " + t.error);
                close(s);
            }
        } else {
            run(s, s->session->put(bytes));
        }
    }

    void close(const ServerPtr& s) {
        if (s->closed) return;
        w_.net.close(s->conn, false);
        drop(s);
    }

    // Answers arrive as events of their own, never inside the session's call.
    void answer(const ServerPtr& s, smtp::Event e) {
        std::weak_ptr<ServerConn> weak = s;
        w_.loop.at(w_.loop.now_ms, guarded(life_->alive, [this, weak, e = std::move(e)] {
                       if (auto s = weak.lock(); s && !s->closed) run(s, s->session->on(e));
                   }));
    }

    void run(const ServerPtr& s, std::vector<smtp::Action> actions) {
        for (auto& a : actions) {
            if (s->closed || !life_) return;
            if (auto* send = std::get_if<smtp::Send>(&a)) {
                write(s, send->bytes);
            } else if (std::holds_alternative<smtp::BeginTls>(a)) {
                s->tls = std::make_unique<tls::TlsServerChannel>(server_tls_);
            } else if (auto* au = std::get_if<smtp::Authenticate>(&a)) {
                answer(s, authenticate(*au, s->label));
            } else if (auto* c = std::get_if<smtp::CheckSender>(&a)) {
                std::weak_ptr<ServerConn> weak = s;
                life_->checks->check_sender(s->role, *c, s->label, [this, weak](smtp::Event e) {
                    if (auto s = weak.lock()) answer(s, std::move(e));
                });
            } else if (auto* c = std::get_if<smtp::CheckRecipient>(&a)) {
                answer(s, life_->checks->check_recipient(s->role, *c));
            } else if (auto* c = std::get_if<smtp::CheckMessage>(&a)) {
                std::weak_ptr<ServerConn> weak = s;
                life_->checks->check_message(s->role, *c, s->label, [this, weak](smtp::Event e) {
                    if (auto s = weak.lock()) answer(s, std::move(e));
                });
            } else if (auto* q = std::get_if<smtp::Enqueue>(&a)) {
                enqueue(s, *q);
            } else if (std::holds_alternative<smtp::Close>(a)) {
                if (s->tls) {
                    auto out = s->tls->close();
                    if (!out.to_peer.empty()) w_.net.send(s->conn, false, out.to_peer);
                }
                close(s);
            }
        }
    }

    // Modelled: the password as the scenario gives it (see sim/README.md).
    smtp::Event authenticate(const smtp::Authenticate& a, const std::string& label) {
        const config::User* user = directory_->login(a.authcid);
        const UserSpec* spec = nullptr;
        if (user)
            for (const auto& u : spec_.users)
                if (core::ascii_lower(u.address) == core::ascii_lower(user->address)) spec = &u;
        const bool authzid_ok = a.authzid.empty() || (user && directory_->login(a.authzid) == user);
        const bool ok = spec && spec->password == a.password && authzid_ok;
        w_.trace.line(name(), label + " AUTH " + (ok ? "succeeded for " + user->address : "failed"));
        return smtp::AuthResult{ok ? smtp::AuthResult::Outcome::ok : smtp::AuthResult::Outcome::bad_credentials,
                                ok ? user->address : std::string()};
    }

    void enqueue(const ServerPtr& s, const smtp::Enqueue& q) {
        queue::Submission sub{q.envelope, q.message, q.folder};
        auto id = life_->spool->commit(std::move(sub));
        if (!id.ok()) {
            w_.trace.line(name(), s->label + " spool: " + id.error().message);
            answer(s, smtp::EnqueueFailed{id.error().message});
            return;
        }
        if (q.envelope.reverse_path.kind == core::Path::Kind::null) null_sender_ids_.insert(id.value());
        std::string rcpts;
        for (const auto& r : q.envelope.recipients) rcpts += (rcpts.empty() ? "" : ", ") + r.to_string();
        w_.trace.line(name(), "queue: " + id.value() + " committed (synced) from " +
                                  q.envelope.reverse_path.to_string() + " to " + rcpts +
                                  (q.folder.empty() ? "" : " [folder " + q.folder + "]"));
        answer(s, smtp::Enqueued{id.value()});
        const std::string qid = id.value();
        Alive alive = life_->alive;
        w_.loop.at(w_.loop.now_ms, guarded(alive, [this, qid] {
                       deliver_local(qid);
                       if (life_) life_->engine->notify(qid);
                   }));
    }

    // Local delivery into the in-memory mailboxes (modelled on delivery/local_delivery.hpp:
    // the copy is durable before the state says delivered).
    void deliver_local(const std::string& id) {
        if (!life_) return;
        auto rec = life_->spool->show(id);
        if (!rec.ok()) return;
        const auto& e = rec->entry;
        std::vector<queue::RecipientUpdate> updates;
        std::set<std::string> delivered_to;
        bool pending_left = false;
        for (std::size_t i = 0; i < e.envelope.recipients.size(); ++i) {
            if (e.status[i].state != queue::RecipientState::pending) continue;
            const auto& p = e.envelope.recipients[i];
            if (is_remote(p)) {
                pending_left = true;
                continue;
            }
            queue::RecipientStatus st = e.status[i];
            if (const config::User* u = directory_->recipient(p)) {
                if (delivered_to.insert(core::ascii_lower(u->address)).second) {
                    mailboxes[core::ascii_lower(u->address)].push_back(StoredMail{w_.loop.now_ms, e.folder, rec->message, id});
                    w_.trace.line(name(), "deliver: " + id + " to " + u->address + " " +
                                              (e.folder.empty() ? "INBOX" : e.folder));
                }
                st.state = queue::RecipientState::delivered;
                st.diagnostic = "delivered to mailbox";
            } else {
                st.state = queue::RecipientState::failed;
                st.diagnostic = "550 5.1.1 no such local user";
                w_.trace.line(name(), "deliver: " + id + " for " + p.to_string() + ": no such user");
            }
            updates.push_back(queue::RecipientUpdate{i, st});
        }
        if (updates.empty()) return;
        if (!pending_left) {
            auto r = life_->spool->remove(id);
            w_.trace.line(name(), "queue: " + id + (r.ok() ? " removed (nothing pending)" : " remove failed"));
        } else {
            life_->spool->mark(id, updates);
        }
    }

    // "outbound: ID: bounce DSN queued to ..." (or "delay notice"): DSN is a null-sender
    // message; a DSN about a null-sender message would be a bounce of a bounce.
    void note_dsn(std::string_view line) {
        if (!line.starts_with("outbound: ")) return;
        line.remove_prefix(10);
        const auto colon = line.find(": ");
        if (colon == std::string_view::npos) return;
        const std::string id(line.substr(0, colon));
        std::string_view rest = line.substr(colon + 2);
        for (std::string_view kind : {"bounce ", "delay notice "}) {
            if (!rest.starts_with(kind)) continue;
            rest.remove_prefix(kind.size());
            const std::string dsn(rest.substr(0, rest.find(' ')));
            if (null_sender_ids_.count(id)) w_.obs.dsn_of_dsn.push_back(name() + ": " + std::string(line));
            null_sender_ids_.insert(dsn);
        }
    }

    // "outbound: ID: oN host[address]:25: no reply to the end of data ...": counted when the
    // peer may have kept the message (not a scripted peer that drops the connection there).
    void note_lost_reply(std::string_view line) {
        if (line.find(": no reply to the end of data") == std::string_view::npos) return;
        const auto open = line.find('['), close = line.find(']');
        if (open == std::string_view::npos || close == std::string_view::npos || close < open) return;
        auto it = w_.net.by_address.find(std::string(line.substr(open + 1, close - open - 1)));
        if (it != w_.net.by_address.end() && it->second->keeps_messages()) ++w_.obs.lost_replies;
    }

    // One line of an outbound conversation. The client session shows the message as
    // "<message: N octets>"; the trace shows its lines instead (unstuffed, as the submission
    // client does), found in the spool by the transaction's MAIL FROM, RCPT TOs and size.
    // When two spooled messages fit and differ, the placeholder stays.
    void client_line(const std::string& who, std::string_view conn, const std::string& line) {
        auto& tx = transactions_[who];
        if (line.starts_with("C: MAIL FROM:")) {
            const auto end = line.find(' ', 13);
            tx.from = line.substr(13, end == std::string::npos ? std::string::npos : end - 13);
            tx.recipients.clear();
        } else if (line.starts_with("C: RCPT TO:")) {
            const auto end = line.find(' ', 11);
            tx.recipients.push_back(line.substr(11, end == std::string::npos ? std::string::npos : end - 11));
        } else if (line == "C: .") {
            tx.awaiting_end_of_data = true;
            const auto open = conn.find('['), close = conn.find(']');
            tx.to_keeper = false;
            if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
                auto it = w_.net.by_address.find(std::string(conn.substr(open + 1, close - open - 1)));
                tx.to_keeper = it != w_.net.by_address.end() && it->second->keeps_messages();
            }
        } else if (line.starts_with("S: ")) {
            tx.awaiting_end_of_data = false;
        } else if (line.starts_with("C: <message: ") && life_) {
            const std::uint64_t size = std::strtoull(line.c_str() + 13, nullptr, 10);
            std::optional<std::string> text;
            bool ambiguous = false;
            for (const auto& m : life_->spool->list()) {
                if (m.size_octets != size || m.sender.to_string() != tx.from) continue;
                bool all = true;
                for (const auto& r : tx.recipients) {
                    bool found = false;
                    for (const auto& have : m.recipients) found = found || have.path.to_string() == r;
                    all = all && found;
                }
                if (!all) continue;
                auto rec = life_->spool->show(m.id);
                if (!rec.ok()) continue;
                if (text && *text != rec->message) ambiguous = true;
                text = rec->message;
            }
            if (text && !ambiguous) {
                std::size_t start = 0;
                while (start < text->size()) {
                    std::size_t end = text->find("\r\n", start);
                    if (end == std::string::npos) end = text->size();
                    w_.trace.line(who, "C: " + text->substr(start, end - start));
                    start = end + 2;
                }
                return;
            }
        }
        w_.trace.line(who, line);
    }

    TracingResolver resolver_;
    struct Transaction {  // what an outbound conversation is doing, from its trace lines
        std::string from;
        std::vector<std::string> recipients;
        bool awaiting_end_of_data = false;  // "." sent, no reply yet
        bool to_keeper = false;             // the peer may keep a copy (Host::keeps_messages)
    };
    std::map<std::string, Transaction> transactions_;  // "h1/o3" -> its transaction
    std::set<std::string> null_sender_ids_;
    std::uint64_t maybe_duplicates_before_ = 0;
    std::unique_ptr<policy::Directory> directory_;
    std::vector<policy::SigningKey> keys_;
    std::shared_ptr<tls::TlsContext> server_tls_, client_tls_;
    queue::MemoryStorage storage_;
    std::unique_ptr<Life> life_;
};

inline std::string PigeonHost::client_address(const std::string& host) const { return address_of(host); }

}  // namespace pigeon::sim::detail
