// Tests for os/posix_storage.hpp on a fresh mkdtemp directory: the Storage contract, both
// barrier modes, a spool surviving a reopen, torn files on disk, and a real write failure
// (RLIMIT_FSIZE makes write(2) fail with EFBIG, even for root).
#include "os/posix_storage.hpp"

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "os/random.hpp"
#include "os/system_clock.hpp"
#include "queue/spool.hpp"
#include "queue/spool_fixtures.hpp"

using namespace pigeon;
using os::PosixStorage;
using os::SyncMode;

namespace {

const queue::SpoolOptions one_file_per_message{0};

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// Lowers the file size limit for its lifetime; SIGXFSZ ignored so write(2) returns EFBIG.
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t octets) {
        old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
        ::getrlimit(RLIMIT_FSIZE, &old_);
        rlimit lowered = old_;
        lowered.rlim_cur = octets;
        ::setrlimit(RLIMIT_FSIZE, &lowered);
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &old_);
        ::signal(SIGXFSZ, old_handler_);
    }

private:
    rlimit old_{};
    sighandler_t old_handler_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(posix_storage)

BOOST_AUTO_TEST_CASE(storage_contract_in_both_modes) {
    for (SyncMode mode : {SyncMode::fsync_each, SyncMode::syncfs}) {
        test::TempDir dir;
        BOOST_REQUIRE(dir.ok());
        auto opened = PosixStorage::open((dir.path() / "spool").string(), mode);
        BOOST_REQUIRE_MESSAGE(opened.ok(), test::why(opened));
        PosixStorage& s = **opened;

        BOOST_TEST(s.create("a.msg", "alpha").ok());
        BOOST_TEST(s.create("b.msg", std::string(200'000, 'b')).ok());
        BOOST_TEST(s.create("empty", "").ok());
        BOOST_TEST(!s.create("a.msg", "again").ok());          // exclusive
        BOOST_TEST(!s.create("../escape", "x").ok());          // not a storage name
        BOOST_TEST(!s.create("sub/file", "x").ok());
        BOOST_TEST(s.sync().ok());
        BOOST_TEST(*s.read("a.msg") == "alpha");
        BOOST_TEST(s.read("b.msg")->size() == 200'000u);
        BOOST_TEST(s.read("empty")->empty());
        BOOST_TEST(!s.read("missing").ok());
        BOOST_TEST(sorted(*s.list()) == (std::vector<std::string>{"a.msg", "b.msg", "empty"}));
        BOOST_TEST(s.rename("a.msg", "c.msg").ok());
        BOOST_TEST(!s.rename("a.msg", "d.msg").ok());
        BOOST_TEST(s.remove("b.msg").ok());
        BOOST_TEST(s.remove("b.msg").ok());  // idempotent
        BOOST_TEST(s.sync().ok());
        BOOST_TEST(sorted(*s.list()) == (std::vector<std::string>{"c.msg", "empty"}));
        BOOST_TEST(*s.read("c.msg") == "alpha");
    }
}

BOOST_AUTO_TEST_CASE(open_reports_a_clear_error) {
    test::TempDir dir;
    BOOST_REQUIRE(dir.ok());
    const auto missing = PosixStorage::open((dir.path() / "no" / "such").string());
    BOOST_REQUIRE(!missing.ok());
    BOOST_TEST(missing.error().message.find("No such file or directory") != std::string::npos);
    std::ofstream((dir.path() / "file").string()) << "x";
    BOOST_TEST(!PosixStorage::open((dir.path() / "file").string()).ok());
}

BOOST_AUTO_TEST_CASE(many_descriptors_and_concurrent_barriers) {
    test::TempDir dir;
    BOOST_REQUIRE(dir.ok());
    auto s = std::move(PosixStorage::open(dir.path().string()).value());
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 150; ++i) {  // 600 files: past max_unsynced_descriptors
                if (!s->create("f" + std::to_string(t) + "-" + std::to_string(i), "data")) ++failures;
                if (i % 50 == 0 && !s->sync()) ++failures;
            }
            if (!s->sync()) ++failures;
        });
    }
    for (auto& th : threads) th.join();
    BOOST_TEST(failures.load() == 0);
    BOOST_TEST(s->list()->size() == 600u);
}

BOOST_AUTO_TEST_CASE(a_spool_on_disk_survives_a_restart_and_drops_torn_files) {
    test::TempDir dir;
    BOOST_REQUIRE(dir.ok());
    os::SystemClock clock;
    os::SystemRandom random;
    std::string id;
    {
        auto storage = std::move(PosixStorage::open(dir.path().string()).value());
        queue::Spool spool(*storage, clock, random, one_file_per_message);
        BOOST_REQUIRE(spool.recover().ok());
        auto out = spool.commit({test::make_envelope("a@x.example", {"b@y.example", "c@y.example"}),
                                 test::make_message("disk"), "Junk"});
        BOOST_REQUIRE_MESSAGE(out.ok(), test::why(out));
        id = *out;
        BOOST_REQUIRE(spool.mark(id, {{1, {queue::RecipientState::failed, "5.1.1 unknown"}}}).ok());
        // A torn file as a crash mid-write leaves it.
        const auto bytes = storage->read(queue::Spool::message_file(id)).value();
        BOOST_REQUIRE(storage->create("0000000000000000.msg", bytes.substr(0, bytes.size() - 7)).ok());
    }
    auto storage = std::move(PosixStorage::open(dir.path().string()).value());
    queue::Spool spool(*storage, clock, random, one_file_per_message);
    const auto report = spool.recover();
    BOOST_REQUIRE(report.ok());
    BOOST_TEST(report->recovered == 1u);
    BOOST_TEST(report->discarded == 1u);
    const auto rec = spool.show(id);
    BOOST_REQUIRE(rec.ok());
    BOOST_TEST(rec->message == *test::make_message("disk"));
    BOOST_TEST(rec->entry.folder == "Junk");
    BOOST_TEST(rec->entry.status[1].diagnostic == "5.1.1 unknown");
    BOOST_TEST(spool.remove(id).ok());
    BOOST_TEST(storage->list()->empty());
}

BOOST_AUTO_TEST_CASE(a_write_failure_is_a_clean_error_and_leaves_no_file) {
    test::TempDir dir;
    BOOST_REQUIRE(dir.ok());
    auto storage = std::move(PosixStorage::open(dir.path().string()).value());
    os::SystemClock clock;
    os::SystemRandom random;
    queue::Spool spool(*storage, clock, random);
    BOOST_REQUIRE(spool.recover().ok());
    queue::Result<std::string> out = queue::Error{"not run"};
    {
        FileSizeLimit limit(4096);
        out = spool.commit({test::make_envelope("a@x.example", {"b@y.example"}),
                            std::make_shared<const std::string>(std::string(100'000, 'x')), ""});
    }
    BOOST_REQUIRE(!out.ok());
    BOOST_TEST_MESSAGE("error seen: " << out.error().message);
    BOOST_TEST(out.error().message.find("File too large") != std::string::npos);
    BOOST_TEST(storage->list()->empty());
    BOOST_TEST(spool.size() == 0u);
}

BOOST_AUTO_TEST_CASE(append_and_read_range) {
    test::TempDir dir;
    BOOST_REQUIRE(dir.ok());
    auto storage = std::move(PosixStorage::open(dir.path().string()).value());
    BOOST_TEST(storage->append("s.seg", "hello ").ok());
    BOOST_TEST(storage->append("s.seg", "world").ok());
    BOOST_TEST(storage->sync().ok());
    BOOST_TEST(*storage->read("s.seg") == "hello world");
    BOOST_TEST(*storage->read_range("s.seg", 6, 5) == "world");
    BOOST_TEST(storage->read_range("s.seg", 0, 0)->empty());
    const auto past = storage->read_range("s.seg", 6, 6);
    BOOST_REQUIRE(!past.ok());
    BOOST_TEST(past.error().message.find("past the end") != std::string::npos);
    BOOST_TEST(!storage->read_range("missing.seg", 0, 1).ok());
    BOOST_TEST(!storage->append("../x", "y").ok());
    // A removed file is closed and a later append starts a new, empty one.
    BOOST_TEST(storage->remove("s.seg").ok());
    BOOST_TEST(storage->append("s.seg", "again").ok());
    BOOST_TEST(storage->sync().ok());
    BOOST_TEST(*storage->read("s.seg") == "again");
    // Appends to an existing file (a new process) continue it.
    auto reopened = std::move(PosixStorage::open(dir.path().string()).value());
    BOOST_TEST(reopened->append("s.seg", "+more").ok());
    BOOST_TEST(reopened->sync().ok());
    BOOST_TEST(*reopened->read("s.seg") == "again+more");
}

BOOST_AUTO_TEST_CASE(a_segment_spool_on_disk_survives_a_restart_and_ignores_a_torn_tail) {
    test::TempDir dir;
    BOOST_REQUIRE(dir.ok());
    os::SystemClock clock;
    os::SystemRandom random;
    std::vector<std::string> ids;
    {
        auto storage = std::move(PosixStorage::open(dir.path().string()).value());
        queue::Spool spool(*storage, clock, random);
        BOOST_REQUIRE(spool.recover().ok());
        for (int i = 0; i < 3; ++i) {
            auto out = spool.commit({test::make_envelope("a@x.example", {"b@y.example"}),
                                     test::make_message("seg" + std::to_string(i)), ""});
            BOOST_REQUIRE_MESSAGE(out.ok(), test::why(out));
            ids.push_back(*out);
        }
        BOOST_REQUIRE(spool.remove(ids[1]).ok());
        BOOST_TEST(spool.segment_count() == 1u);
        // A crash in the middle of the next append: a length prefix and half a record.
        BOOST_REQUIRE(storage->append(queue::Spool::segment_file(1), std::string("\x40\0\0\0\0\0\0\0PGNQ", 12)).ok());
    }
    auto storage = std::move(PosixStorage::open(dir.path().string()).value());
    queue::Spool spool(*storage, clock, random);
    const auto report = spool.recover();
    BOOST_REQUIRE(report.ok());
    BOOST_TEST(report->recovered == 2u);
    BOOST_TEST(report->discarded == 1u);  // the torn tail
    BOOST_TEST(spool.show(ids[0])->message == *test::make_message("seg0"));
    BOOST_TEST(!spool.show(ids[1]).ok());
    BOOST_TEST(spool.show(ids[2])->message == *test::make_message("seg2"));
    // New commits go to a new segment, never after the torn tail.
    const auto next = spool.commit({test::make_envelope("a@x.example", {"b@y.example"}),
                                    test::make_message("seg3"), ""});
    BOOST_REQUIRE(next.ok());
    BOOST_TEST(storage->read(queue::Spool::segment_file(2)).ok());
    for (const std::string& id : {ids[0], ids[2], *next}) {
        BOOST_TEST(spool.remove(id).ok());
    }
    // Both segments are now empty; the older one was deleted, the newest is kept (it is
    // under the default idle size); a restart finds nothing.
    queue::Spool again(*storage, clock, random);
    const auto r2 = again.recover();
    BOOST_REQUIRE(r2.ok());
    BOOST_TEST(r2->recovered == 0u);
    BOOST_TEST(!storage->read(queue::Spool::segment_file(1)).ok());
}

BOOST_AUTO_TEST_SUITE_END()
