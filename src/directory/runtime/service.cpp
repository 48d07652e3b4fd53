#include "directory/runtime/service.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "directory/cache.hpp"

namespace pigeon::directory {

using policy::Account;
using policy::Lookup;
using Strings = std::vector<std::string>;
using Steady = std::chrono::steady_clock;

struct Service::Shared {
    Shared(std::unique_ptr<Backend> b, ServiceOptions o, const core::Clock& clock)
        : backend(std::move(b)), options(o),
          recipients(clock, o.cache_seconds, o.cache_entries),
          logins(clock, o.cache_seconds, o.cache_entries),
          senders(clock, o.cache_seconds, o.cache_entries) {}

    struct Task {
        std::function<void(bool late)> run;
        Steady::time_point queued;
    };

    // False when the pool is stopping or max_in_flight tasks are queued or running.
    bool enqueue(std::function<void(bool late)> run) {
        {
            std::lock_guard lock(mutex);
            if (stopping || in_flight >= options.max_in_flight) return false;
            ++in_flight;
            tasks.push_back({std::move(run), Steady::now()});
        }
        wake.notify_one();
        return true;
    }

    void work();

    std::unique_ptr<Backend> backend;
    const ServiceOptions options;
    AnswerCache<std::string> recipients;
    AnswerCache<Account> logins;
    AnswerCache<Strings> senders;
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<Task> tasks;      // under mutex
    std::size_t in_flight = 0;   // queued or running, under mutex
    bool stopping = false;       // under mutex
    std::vector<std::thread> threads;
};

namespace {
thread_local const void* pool_of_this_thread = nullptr;  // the Shared whose pool runs here
}

void Service::Shared::work() {
    pool_of_this_thread = this;
    for (;;) {
        Task task;
        bool stop = false;
        {
            std::unique_lock lock(mutex);
            wake.wait(lock, [&] { return stopping || !tasks.empty(); });
            if (tasks.empty()) return;  // stopping, nothing left
            task = std::move(tasks.front());
            tasks.pop_front();
            stop = stopping;
        }
        // Once stopping, what is still queued is answered "unavailable" without the backend,
        // so the destructor waits for at most one backend call per thread.
        task.run(stop || Steady::now() - task.queued > options.timeout);
        task.run = nullptr;  // the caller's callback, released before the count drops
        std::lock_guard lock(mutex);
        --in_flight;
    }
}

namespace {

// The cache, else the pool, else "unavailable".
template <class T, class Ask>
void ask(const std::shared_ptr<Service::Shared>& shared, AnswerCache<T>& cache, std::string key, Ask question,
         std::function<void(Lookup<T>)> done) {
    if (auto hit = cache.get(key)) {
        done(std::move(*hit));
        return;
    }
    auto* s = shared.get();
    auto task = [s, &cache, key, question, done](bool late) {
        if (late) {
            done(Lookup<T>::unavailable("the lookup waited longer than timeout_ms, or the directory is stopping"));
            return;
        }
        Lookup<T> answer = question(*s->backend, key);
        cache.put(key, answer);
        done(std::move(answer));
    };
    if (!s->enqueue(task)) done(Lookup<T>::unavailable("too many directory lookups in flight (max_lookups)"));
}

}  // namespace

Service::Service(std::unique_ptr<Backend> backend, ServiceOptions options, const core::Clock& clock)
    : shared_(std::make_shared<Shared>(std::move(backend), options, clock)) {
    const unsigned n = options.threads == 0 ? 1 : options.threads;
    for (unsigned i = 0; i < n; ++i)
        shared_->threads.emplace_back([s = shared_] { s->work(); });
}

Service::~Service() {
    {
        std::lock_guard lock(shared_->mutex);
        shared_->stopping = true;
    }
    shared_->wake.notify_all();
    // Each thread holds the Shared; on one of them, joining would wait for itself.
    const bool on_pool = pool_of_this_thread == shared_.get();
    for (auto& t : shared_->threads) {
        if (on_pool)
            t.detach();
        else
            t.join();
    }
}

void Service::recipient(std::string address, std::function<void(Lookup<std::string>)> done) {
    ask(shared_, shared_->recipients, std::move(address),
        [](Backend& b, const std::string& k) { return b.recipient(k); }, std::move(done));
}

void Service::login(std::string login, std::function<void(Lookup<Account>)> done) {
    ask(shared_, shared_->logins, std::move(login), [](Backend& b, const std::string& k) { return b.login(k); },
        std::move(done));
}

void Service::senders(std::string login, std::function<void(Lookup<Strings>)> done) {
    ask(shared_, shared_->senders, std::move(login), [](Backend& b, const std::string& k) { return b.senders(k); },
        std::move(done));
}

Lookup<std::string> Service::recipient_blocking(const std::string& address) {
    if (auto hit = shared_->recipients.get(address)) return *hit;
    Lookup<std::string> answer = shared_->backend->recipient(address);
    shared_->recipients.put(address, answer);
    return answer;
}

}  // namespace pigeon::directory
