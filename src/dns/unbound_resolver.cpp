// UnboundResolver: libunbound in threaded async mode, its result fd waited on by one thread of
// ours that also enforces the per-query deadlines (see the header).
#include "dns/unbound_resolver.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <unbound.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace pigeon::dns {

namespace {

using Clock = std::chrono::steady_clock;

// How long the resolver thread sleeps when nothing is due: bounds how late it notices a stop
// request if the wake-up write were ever lost, and costs one wake-up per interval when idle.
constexpr std::chrono::milliseconds idle_poll_interval{200};
constexpr int dns_class_in = 1;        // RFC 1035 3.2.4

// Unbound wire rcodes (RFC 1035 4.1.1).
constexpr int wire_noerror = 0, wire_servfail = 2, wire_nxdomain = 3, wire_refused = 5;

std::string normalise(const char* name) { return make_question(name ? name : "", RrType::a).name; }

Answer failed(Rcode rcode, const Question& q) {
    Answer a;
    a.rcode = rcode;
    a.security = Security::indeterminate;
    a.canonical_name = q.name;
    return a;
}

void deliver(std::function<void(Answer)>& done, Answer answer) noexcept {
    try {
        done(std::move(answer));
    } catch (...) {
        // The contract forbids throwing; never let it unwind through libunbound or our thread.
    }
}

bool is_loopback(const std::string& address) {
    const std::string host = address.substr(0, address.find('@'));
    return host.rfind("127.", 0) == 0 || host == "::1";
}

}  // namespace

struct UnboundResolver::Impl {
    struct Pending {
        Question question;
        std::function<void(Answer)> done;
        Clock::time_point deadline;
        int async_id = -1;  // -1 until ub_resolve_async has returned
    };

    ub_ctx* ctx = nullptr;
    std::chrono::milliseconds timeout{};
    int wake_fd = -1;
    std::atomic<bool> stopping{false};
    std::thread worker;

    mutable std::mutex mutex;
    // Keyed by a token that grows with time; every query has the same timeout, so the first
    // entry always has the earliest deadline.
    std::map<std::uint64_t, Pending> pending;
    std::uint64_t next_token = 1;

    // The Impl whose ub_process is running on this thread: libunbound's callback gets only the
    // token (an integer, never a pointer that could dangle after a cancel).
    static thread_local Impl* processing;

    ~Impl() {
        if (ctx) ub_ctx_delete(ctx);
        if (wake_fd >= 0) ::close(wake_fd);
    }

    void wake() const {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
    }

    static void on_result(void* mydata, int err, ub_result* result) {
        std::unique_ptr<ub_result, void (*)(ub_result*)> owned(result, ub_resolve_free);
        Impl* self = processing;
        if (!self) return;
        const auto token = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(mydata));
        Pending p;
        {
            std::lock_guard lock(self->mutex);
            auto it = self->pending.find(token);
            if (it == self->pending.end()) return;  // already answered with a timeout
            p = std::move(it->second);
            self->pending.erase(it);
        }
        deliver(p.done, err != 0 || !result ? failed(Rcode::servfail, p.question) : convert(p.question, *result));
    }

    static Answer convert(const Question& q, const ub_result& r) {
        Answer a;
        switch (r.rcode) {
            case wire_noerror: a.rcode = Rcode::noerror; break;
            case wire_nxdomain: a.rcode = Rcode::nxdomain; break;
            case wire_refused: a.rcode = Rcode::refused; break;
            case wire_servfail:
            default: a.rcode = Rcode::servfail; break;
        }
        a.security = r.secure ? Security::secure : r.bogus ? Security::bogus : Security::insecure;
        a.canonical_name = r.canonname ? normalise(r.canonname) : q.name;
        if (r.bogus) {
            // libunbound hands bogus data over with the wire rcode (NOERROR, seen here); a
            // validating resolver must not (RFC 4033 5, RFC 4035 5.5): SERVFAIL, no records.
            a.rcode = Rcode::servfail;
            if (r.why_bogus) a.why_bogus = r.why_bogus;
            if (a.why_bogus.empty()) a.why_bogus = "validation failed";
            return a;
        }
        const auto ttl = static_cast<std::uint32_t>(r.ttl < 0 ? 0 : r.ttl);
        if (r.havedata && r.data) {
            for (std::size_t i = 0; r.data[i]; ++i) {
                if (r.len[i] < 0) continue;
                auto rdata = decode_rdata(q.type, std::string_view(r.data[i], static_cast<std::size_t>(r.len[i])));
                if (!rdata) continue;
                a.records.push_back(Record{a.canonical_name, q.type, ttl, std::move(*rdata)});
            }
        }
        return a;
    }

    void run() {
        const int ub = ub_fd(ctx);
        while (!stopping.load()) {
            auto wait = idle_poll_interval;
            {
                std::lock_guard lock(mutex);
                if (!pending.empty()) {
                    const auto left = pending.begin()->second.deadline - Clock::now();
                    wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(left));
                    if (wait.count() < 0) wait = std::chrono::milliseconds(0);
                }
            }
            pollfd fds[2] = {{ub, POLLIN, 0}, {wake_fd, POLLIN, 0}};
            const int n = ::poll(fds, 2, static_cast<int>(wait.count()));
            if (n > 0 && (fds[1].revents & POLLIN)) {
                std::uint64_t count;
                [[maybe_unused]] auto r = ::read(wake_fd, &count, sizeof count);
            }
            if (n > 0 && (fds[0].revents & POLLIN)) {
                processing = this;
                ub_process(ctx);
                processing = nullptr;
            }
            expire(Clock::now());
        }
    }

    // Answers every query whose deadline has passed with a timeout, and cancels it.
    void expire(Clock::time_point now) {
        std::vector<Pending> due;
        {
            std::lock_guard lock(mutex);
            while (!pending.empty() && pending.begin()->second.deadline <= now) {
                due.push_back(std::move(pending.begin()->second));
                pending.erase(pending.begin());
            }
        }
        for (auto& p : due) {
            // A query whose async_id is not known yet is cancelled by resolve() itself.
            if (p.async_id >= 0) ub_cancel(ctx, p.async_id);
            deliver(p.done, failed(Rcode::timeout, p.question));
        }
    }
};

thread_local UnboundResolver::Impl* UnboundResolver::Impl::processing = nullptr;

core::Result<std::unique_ptr<UnboundResolver>> UnboundResolver::create(const UnboundOptions& options) {
    using core::ParseError;
    auto impl = std::make_unique<Impl>();
    impl->timeout = options.timeout;
    impl->ctx = ub_ctx_create();
    if (!impl->ctx) return ParseError{"libunbound: cannot create a context"};
    auto check = [](int rc, const std::string& what) -> std::optional<ParseError> {
        if (rc == 0) return std::nullopt;
        return ParseError{what + ": " + ub_strerror(rc)};
    };

    // Threads, not a forked process: a fork of a multi-threaded server is fragile.
    if (auto e = check(ub_ctx_async(impl->ctx, 1), "libunbound async mode")) return *e;

    bool loopback = false;
    for (const auto& f : options.forwarders) {
        if (auto e = check(ub_ctx_set_fwd(impl->ctx, f.c_str()), "forwarder '" + f + "'")) return *e;
        loopback = loopback || is_loopback(f);
    }
    for (const auto& stub : options.stub_zones) {
        if (stub.addresses.empty()) return ParseError{"stub zone '" + stub.zone + "': no addresses"};
        for (const auto& address : stub.addresses) {
            if (auto e = check(ub_ctx_set_stub(impl->ctx, stub.zone.c_str(), address.c_str(), 0),
                               "stub zone '" + stub.zone + "' address '" + address + "'"))
                return *e;
            loopback = loopback || is_loopback(address);
        }
    }
    const bool dont_query_localhost = options.do_not_query_localhost.value_or(!loopback);
    if (auto e = check(ub_ctx_set_option(impl->ctx, "do-not-query-localhost:", dont_query_localhost ? "yes" : "no"),
                       "do-not-query-localhost"))
        return *e;

    if (!options.trust_anchor_file.empty()) {
        // libunbound reads the file only at the first query; find a missing file now.
        if (!std::ifstream(options.trust_anchor_file))
            return ParseError{"trust anchor file '" + options.trust_anchor_file + "': cannot read"};
        if (auto e = check(ub_ctx_add_ta_file(impl->ctx, options.trust_anchor_file.c_str()),
                           "trust anchor file '" + options.trust_anchor_file + "'"))
            return *e;
    }
    for (const auto& ta : options.trust_anchors)
        if (auto e = check(ub_ctx_add_ta(impl->ctx, ta.c_str()), "trust anchor '" + ta + "'")) return *e;

    impl->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (impl->wake_fd < 0) return ParseError{"eventfd failed"};
    if (ub_fd(impl->ctx) < 0) return ParseError{"libunbound: no result descriptor"};

    Impl* raw = impl.get();
    impl->worker = std::thread([raw] { raw->run(); });
    return std::unique_ptr<UnboundResolver>(new UnboundResolver(std::move(impl)));
}

UnboundResolver::UnboundResolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

UnboundResolver::~UnboundResolver() {
    impl_->stopping = true;
    impl_->wake();
    if (impl_->worker.joinable()) impl_->worker.join();
    std::map<std::uint64_t, Impl::Pending> left;
    {
        std::lock_guard lock(impl_->mutex);
        left.swap(impl_->pending);
    }
    for (auto& [token, p] : left) {
        if (p.async_id >= 0) ub_cancel(impl_->ctx, p.async_id);
        deliver(p.done, failed(Rcode::timeout, p.question));
    }
    // ~Impl deletes the context (which stops libunbound's own thread) and closes the eventfd.
}

void UnboundResolver::resolve(const Question& question, std::function<void(Answer)> done) {
    const Question q = make_question(question.name, question.type);
    if (impl_->stopping.load()) {
        deliver(done, failed(Rcode::timeout, q));
        return;
    }
    std::uint64_t token;
    {
        std::lock_guard lock(impl_->mutex);
        token = impl_->next_token++;
        impl_->pending.emplace(token, Impl::Pending{q, std::move(done), Clock::now() + impl_->timeout, -1});
    }
    // The absolute form: libunbound applies no search list, but say what we mean.
    const std::string qname = q.name + ".";
    int async_id = -1;
    const int rc = ub_resolve_async(impl_->ctx, qname.c_str(), static_cast<int>(q.type), dns_class_in,
                                    reinterpret_cast<void*>(static_cast<std::uintptr_t>(token)),
                                    &Impl::on_result, &async_id);
    std::unique_lock lock(impl_->mutex);
    auto it = impl_->pending.find(token);
    if (rc != 0) {
        if (it == impl_->pending.end()) return;  // the deadline already answered it
        Impl::Pending p = std::move(it->second);
        impl_->pending.erase(it);
        lock.unlock();
        deliver(p.done, failed(Rcode::servfail, q));
        return;
    }
    if (it != impl_->pending.end()) {
        it->second.async_id = async_id;
        return;
    }
    // Answered already (a fast result or the deadline): make sure no late answer follows.
    lock.unlock();
    ub_cancel(impl_->ctx, async_id);
}

std::size_t UnboundResolver::outstanding() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->pending.size();
}

}  // namespace pigeon::dns
