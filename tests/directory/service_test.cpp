// Tests for directory/runtime/service.hpp: lookups on the service's own threads, the cache in
// front (found and not found; unavailable never), the bound on lookups in flight, and the
// queue-wait timeout. The backend here is a scripted one (its answers and a gate that holds
// its calls), the only way to hold a lookup in flight on purpose; the real backends have
// their own tests (sqlite_test.cpp, tests/integration/test_directory.py).
#include "directory/runtime/service.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

using namespace pigeon;
using policy::Found;
using policy::Lookup;
using namespace std::chrono_literals;

namespace {

struct Script {
    std::mutex mutex;
    std::condition_variable cv;
    bool open = true;            // calls wait while false
    bool down = false;           // answers unavailable
    std::atomic<int> calls{0};
    std::thread::id last_thread;
};

class ScriptedBackend final : public directory::Backend {
public:
    explicit ScriptedBackend(Script& s) : s_(s) {}
    Lookup<std::string> recipient(const std::string& address) override {
        std::unique_lock lock(s_.mutex);
        s_.cv.wait(lock, [&] { return s_.open; });
        ++s_.calls;
        s_.last_thread = std::this_thread::get_id();
        if (s_.down) return Lookup<std::string>::unavailable("connection refused");
        return address == "bob@example.org" ? Lookup<std::string>::found(address) : Lookup<std::string>::not_found();
    }
    Lookup<policy::Account> login(const std::string& login) override {
        ++s_.calls;
        return Lookup<policy::Account>::found({login, "{PLAIN}pw"});
    }
    Lookup<std::vector<std::string>> senders(const std::string&) override {
        ++s_.calls;
        return Lookup<std::vector<std::string>>::found({"bob.alias@example.org"});
    }

private:
    Script& s_;
};

directory::ServiceOptions options(std::size_t in_flight = 8, std::chrono::milliseconds timeout = 2000ms) {
    directory::ServiceOptions o;
    o.threads = 1;
    o.max_in_flight = in_flight;
    o.timeout = timeout;
    o.cache_seconds = 30;
    o.cache_entries = 100;
    return o;
}

Lookup<std::string> ask(directory::Service& s, const std::string& address) {
    std::promise<Lookup<std::string>> p;
    auto f = p.get_future();
    s.recipient(address, [&p](Lookup<std::string> a) { p.set_value(std::move(a)); });
    BOOST_REQUIRE(f.wait_for(5s) == std::future_status::ready);
    return f.get();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(directory_service)

BOOST_AUTO_TEST_CASE(lookups_run_on_the_pool_and_are_cached_both_ways) {
    Script script;
    core::FixedClock clock(1000);
    directory::Service service(std::make_unique<ScriptedBackend>(script), options(), clock);
    BOOST_TEST((ask(service, "bob@example.org").status == Found::yes));
    BOOST_TEST((script.last_thread != std::this_thread::get_id()));
    BOOST_TEST((ask(service, "nobody@example.org").status == Found::no));
    BOOST_TEST(script.calls == 2);
    BOOST_TEST((ask(service, "bob@example.org").status == Found::yes));
    BOOST_TEST((ask(service, "nobody@example.org").status == Found::no));
    BOOST_TEST(script.calls == 2);  // both from the cache
    clock.set(1030);
    BOOST_TEST((ask(service, "bob@example.org").status == Found::yes));
    BOOST_TEST(script.calls == 3);  // expired: asked again
}

BOOST_AUTO_TEST_CASE(unavailable_is_not_cached_and_recovers) {
    Script script;
    script.down = true;
    core::FixedClock clock(1000);
    directory::Service service(std::make_unique<ScriptedBackend>(script), options(), clock);
    const auto down = ask(service, "bob@example.org");
    BOOST_TEST((down.status == Found::unavailable));
    BOOST_TEST(down.reason == "connection refused");
    script.down = false;
    BOOST_TEST((ask(service, "bob@example.org").status == Found::yes));
    BOOST_TEST(script.calls == 2);
}

BOOST_AUTO_TEST_CASE(over_the_in_flight_bound_answers_unavailable_at_once) {
    Script script;
    script.open = false;
    core::FixedClock clock(1000);
    directory::Service service(std::make_unique<ScriptedBackend>(script), options(2), clock);
    std::atomic<int> answered{0};
    service.recipient("bob@example.org", [&](Lookup<std::string>) { ++answered; });
    service.recipient("bob@example.org", [&](Lookup<std::string>) { ++answered; });
    bool refused_inline = false;
    service.recipient("bob@example.org", [&](Lookup<std::string> a) {
        refused_inline = a.status == Found::unavailable && a.reason.find("max_lookups") != std::string::npos;
    });
    BOOST_TEST(refused_inline);
    BOOST_TEST(answered == 0);
    {
        std::lock_guard lock(script.mutex);
        script.open = true;
    }
    script.cv.notify_all();
    for (int i = 0; i < 500 && answered < 2; ++i) std::this_thread::sleep_for(10ms);
    BOOST_TEST(answered == 2);
}

BOOST_AUTO_TEST_CASE(a_lookup_that_waited_past_the_timeout_is_unavailable) {
    Script script;
    script.open = false;
    core::FixedClock clock(1000);
    directory::Service service(std::make_unique<ScriptedBackend>(script), options(8, 50ms), clock);
    std::promise<Lookup<std::string>> first, second;
    service.recipient("bob@example.org", [&](Lookup<std::string> a) { first.set_value(std::move(a)); });
    service.recipient("nobody@example.org", [&](Lookup<std::string> a) { second.set_value(std::move(a)); });
    std::this_thread::sleep_for(120ms);  // the second waits behind the first, past 50 ms
    {
        std::lock_guard lock(script.mutex);
        script.open = true;
    }
    script.cv.notify_all();
    auto f2 = second.get_future();
    BOOST_REQUIRE(f2.wait_for(5s) == std::future_status::ready);
    const auto late = f2.get();
    BOOST_TEST((late.status == Found::unavailable));
    BOOST_TEST(late.reason.find("timeout_ms") != std::string::npos);
    BOOST_TEST(script.calls == 1);  // the backend was not asked for it
}

BOOST_AUTO_TEST_CASE(logins_and_senders_go_through_their_own_caches) {
    Script script;
    core::FixedClock clock(1000);
    directory::Service service(std::make_unique<ScriptedBackend>(script), options(), clock);
    std::promise<Lookup<policy::Account>> p;
    service.login("bob@example.org", [&](Lookup<policy::Account> a) { p.set_value(std::move(a)); });
    const auto account = p.get_future().get();
    BOOST_TEST(account.value.password_hash == "{PLAIN}pw");
    std::promise<Lookup<std::vector<std::string>>> q;
    service.senders("bob@example.org", [&](Lookup<std::vector<std::string>> a) { q.set_value(std::move(a)); });
    BOOST_TEST(q.get_future().get().value.at(0) == "bob.alias@example.org");
    BOOST_TEST((service.recipient_blocking("bob@example.org").status == Found::yes));
    BOOST_TEST((service.recipient_blocking("bob@example.org").status == Found::yes));
    BOOST_TEST(script.calls == 3);  // login, senders, one recipient (the second from the cache)
}

BOOST_AUTO_TEST_SUITE_END()
