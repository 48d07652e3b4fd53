// Tests for directory/cache.hpp: the TTL by an injected clock, the entry bound (least recently
// used first), found and not-found answers kept, unavailable ones never.
#include "directory/cache.hpp"

#include <boost/test/unit_test.hpp>

using namespace pigeon;
using policy::Found;
using policy::Lookup;
using Cache = directory::AnswerCache<std::string>;

BOOST_AUTO_TEST_SUITE(answer_cache)

BOOST_AUTO_TEST_CASE(answers_expire_after_the_ttl) {
    core::FixedClock clock(1000);
    Cache cache(clock, 30, 10);
    cache.put("bob@example.org", Lookup<std::string>::found("bob@example.org"));
    cache.put("nobody@example.org", Lookup<std::string>::not_found());
    clock.set(1029);
    auto hit = cache.get("bob@example.org");
    BOOST_REQUIRE(hit.has_value());
    BOOST_TEST(hit->value == "bob@example.org");
    auto miss = cache.get("nobody@example.org");
    BOOST_REQUIRE(miss.has_value());  // a negative answer is cached too
    BOOST_TEST((miss->status == Found::no));
    clock.set(1030);
    BOOST_TEST(!cache.get("bob@example.org").has_value());
    BOOST_TEST(!cache.get("nobody@example.org").has_value());
    BOOST_TEST(cache.size() == 0u);  // expired entries are dropped when met
}

BOOST_AUTO_TEST_CASE(an_unavailable_answer_is_never_cached) {
    core::FixedClock clock(1000);
    Cache cache(clock, 30, 10);
    cache.put("bob@example.org", Lookup<std::string>::found("bob@example.org"));
    cache.put("bob@example.org", Lookup<std::string>::unavailable("connection refused"));
    auto hit = cache.get("bob@example.org");
    BOOST_REQUIRE(hit.has_value());
    BOOST_TEST((hit->status == Found::yes));  // the good answer stays
    cache.put("carol@example.org", Lookup<std::string>::unavailable("connection refused"));
    BOOST_TEST(!cache.get("carol@example.org").has_value());
}

BOOST_AUTO_TEST_CASE(the_bound_evicts_the_least_recently_used) {
    core::FixedClock clock(1000);
    Cache cache(clock, 30, 2);
    cache.put("a", Lookup<std::string>::found("a"));
    cache.put("b", Lookup<std::string>::found("b"));
    BOOST_TEST(cache.get("a").has_value());  // a is now the most recent
    cache.put("c", Lookup<std::string>::found("c"));
    BOOST_TEST(cache.size() == 2u);
    BOOST_TEST(cache.get("a").has_value());
    BOOST_TEST(!cache.get("b").has_value());
    BOOST_TEST(cache.get("c").has_value());
}

BOOST_AUTO_TEST_CASE(a_new_answer_replaces_the_old_and_restarts_its_time) {
    core::FixedClock clock(1000);
    Cache cache(clock, 10, 4);
    cache.put("a", Lookup<std::string>::not_found());
    clock.set(1005);
    cache.put("a", Lookup<std::string>::found("a"));
    clock.set(1014);
    auto hit = cache.get("a");
    BOOST_REQUIRE(hit.has_value());
    BOOST_TEST((hit->status == Found::yes));
    BOOST_TEST(cache.size() == 1u);
}

BOOST_AUTO_TEST_CASE(zero_ttl_or_zero_entries_turns_it_off) {
    core::FixedClock clock(1000);
    Cache no_time(clock, 0, 10), no_room(clock, 30, 0);
    no_time.put("a", Lookup<std::string>::found("a"));
    no_room.put("a", Lookup<std::string>::found("a"));
    BOOST_TEST(!no_time.get("a").has_value());
    BOOST_TEST(!no_room.get("a").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
