// net::ServerResources: the message memory budget shared by every I/O thread, and the spool's
// free-space reserve read with statvfs.
#include "net/resources.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

using pigeon::net::ServerResources;

BOOST_AUTO_TEST_SUITE(server_resources)

BOOST_AUTO_TEST_CASE(memory_budget_is_taken_and_given_back) {
    ServerResources r({1000, "", 0, {}});
    BOOST_TEST(r.message_memory_fits(1));
    BOOST_TEST(r.message_memory_fits(1000));
    BOOST_TEST(!r.message_memory_fits(1001));
    BOOST_TEST(r.reserve_message_memory(600));
    BOOST_TEST(!r.reserve_message_memory(401));  // would pass the budget: nothing taken
    BOOST_TEST(r.message_memory_in_use() == 600u);
    BOOST_TEST(r.reserve_message_memory(400));
    BOOST_TEST(!r.message_memory_fits(1));
    r.release_message_memory(1000);
    BOOST_TEST(r.message_memory_in_use() == 0u);
    BOOST_TEST(r.message_memory_fits(1));
}

BOOST_AUTO_TEST_CASE(budget_holds_under_concurrent_sessions) {
    ServerResources r({64 * 1024, "", 0, {}});
    std::atomic<bool> over{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 20000; ++i) {
                if (r.reserve_message_memory(1000)) {
                    if (r.message_memory_in_use() > 64 * 1024) over = true;
                    r.release_message_memory(1000);
                }
            }
        });
    for (auto& t : threads) t.join();
    BOOST_TEST(!over.load());
    BOOST_TEST(r.message_memory_in_use() == 0u);
}

BOOST_AUTO_TEST_CASE(storage_reserve_reads_the_file_system) {
    const auto dir = std::filesystem::temp_directory_path().string();
    const auto free = ServerResources::available_octets(dir);
    BOOST_REQUIRE(free.has_value());
    BOOST_TEST(*free > 0u);
    BOOST_TEST(!ServerResources({1000, dir, 0, {}}).storage_low());  // 0: no check
    BOOST_TEST(!ServerResources({1000, dir, 1, {}}).storage_low());
    BOOST_TEST(ServerResources({1000, dir, *free * 4 + (1ull << 40), {}}).storage_low());
}

BOOST_AUTO_TEST_CASE(an_unreadable_spool_counts_as_low_and_is_reported_once) {
    std::vector<std::string> lines;
    ServerResources r({1000, "/nonexistent/pigeon/spool", 1, [&](std::string_view l) { lines.emplace_back(l); }});
    BOOST_TEST(r.storage_low());
    BOOST_TEST(r.storage_low());
    BOOST_REQUIRE(lines.size() == 1u);
    BOOST_TEST(lines[0].find("/nonexistent/pigeon/spool") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
