// DMARC aggregate report storage and command (app/dmarc_report.hpp): the recorder writes one
// line per evaluation in a temporary state dir, run_dmarc_report reads them back, corrupt lines
// are skipped and counted, bad arguments exit 2.
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <vector>

#include "app/dmarc_report.hpp"

using pigeon::app::DmarcRecorder;
using pigeon::app::parse_time_argument;
using pigeon::dmarc::EvaluationRecord;

namespace {

struct StateDir {
    std::filesystem::path path;
    StateDir() {
        char dir[] = "/tmp/pigeon-dmarc-report-XXXXXX";
        BOOST_REQUIRE(::mkdtemp(dir) != nullptr);
        path = dir;
    }
    ~StateDir() { std::filesystem::remove_all(path); }
};

EvaluationRecord evaluation(std::int64_t time, std::string ip) {
    EvaluationRecord r;
    r.time = time;
    r.source_ip = std::move(ip);
    r.header_from = r.envelope_from = r.policy_domain = "example.com";
    r.p = "quarantine";
    r.sp = "quarantine";
    r.adkim = r.aspf = "r";
    r.disposition = "none";
    r.dkim_aligned_result = "pass";
    r.spf_aligned_result = "pass";
    r.dkim = {{"example.com", "s1", "pass"}};
    r.spf_domain = "example.com";
    r.spf_scope = "mfrom";
    r.spf_result = "pass";
    return r;
}

std::vector<std::string> lines_of(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

struct Out {
    int status;
    std::string out, err;
};

Out report(const std::string& dir, const std::string& domain, std::int64_t since, std::int64_t until) {
    std::ostringstream out, err;
    int status = pigeon::app::run_dmarc_report(dir, domain, since, until, "mx.example.net", out, err);
    return {status, out.str(), err.str()};
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

// 2024-03-01T00:00:00Z and the next day.
constexpr std::int64_t day1 = 1709251200;
constexpr std::int64_t day2 = day1 + 86400;

}  // namespace

BOOST_AUTO_TEST_SUITE(dmarc_report_cmd)

BOOST_AUTO_TEST_CASE(time_arguments) {
    BOOST_TEST(parse_time_argument("0").value() == 0);
    BOOST_TEST(parse_time_argument("1709251200").value() == day1);
    BOOST_TEST(parse_time_argument("2024-03-01").value() == day1);
    BOOST_TEST(parse_time_argument("1970-01-01").value() == 0);
    BOOST_TEST(parse_time_argument("2024-02-29").has_value());
    BOOST_TEST(!parse_time_argument("2023-02-29").has_value());
    BOOST_TEST(!parse_time_argument("2024-13-01").has_value());
    BOOST_TEST(!parse_time_argument("").has_value());
    BOOST_TEST(!parse_time_argument("-5").has_value());
    BOOST_TEST(!parse_time_argument("yesterday").has_value());
    BOOST_TEST(!parse_time_argument("2024-3-1").has_value());
    BOOST_TEST(!parse_time_argument("99999999999999999999999").has_value());
}

BOOST_AUTO_TEST_CASE(recorder_writes_one_line_per_evaluation_per_day) {
    StateDir state;
    DmarcRecorder recorder(state.path.string());
    BOOST_TEST(!recorder.record(evaluation(day1 + 10, "192.0.2.1")).has_value());
    BOOST_TEST(!recorder.record(evaluation(day1 + 20, "192.0.2.2")).has_value());
    BOOST_TEST(!recorder.record(evaluation(day2 + 5, "192.0.2.3")).has_value());
    const auto first = state.path / "dmarc" / "records-20240301.log";
    const auto second = state.path / "dmarc" / "records-20240302.log";
    BOOST_TEST(recorder.path_for(day1) == first.string());
    auto lines = lines_of(first);
    BOOST_REQUIRE(lines.size() == 2u);
    BOOST_TEST(lines[0] == pigeon::dmarc::encode_record_line(evaluation(day1 + 10, "192.0.2.1")));
    BOOST_TEST(lines_of(second).size() == 1u);
    struct stat st{};
    BOOST_REQUIRE(::stat(first.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0600u);
}

BOOST_AUTO_TEST_CASE(recorder_is_thread_safe) {
    StateDir state;
    DmarcRecorder recorder(state.path.string());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&recorder, t] {
            for (int i = 0; i < 50; ++i) {
                auto r = evaluation(day1 + i, "192.0.2." + std::to_string(t));
                r.envelope_from = std::string(200, 'a' + t);  // long lines would show interleaving
                (void)recorder.record(r);
            }
        });
    }
    for (auto& thread : threads) thread.join();
    auto lines = lines_of(state.path / "dmarc" / "records-20240301.log");
    BOOST_TEST(lines.size() == 200u);
    for (const auto& line : lines) BOOST_TEST(pigeon::dmarc::decode_record_line(line).ok());
}

BOOST_AUTO_TEST_CASE(recorder_failure_is_reported_not_thrown) {
    StateDir state;
    std::ofstream(state.path / "dmarc") << "a file where the directory should be";
    DmarcRecorder recorder(state.path.string());
    auto problem = recorder.record(evaluation(day1, "192.0.2.1"));
    BOOST_REQUIRE(problem.has_value());
    BOOST_TEST(problem->find("dmarc") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(report_reads_the_records_back) {
    StateDir state;
    DmarcRecorder recorder(state.path.string());
    for (int i = 0; i < 3; ++i) (void)recorder.record(evaluation(day1 + i, "192.0.2.1"));
    (void)recorder.record(evaluation(day2 + 1, "192.0.2.1"));  // same row, next day's file
    (void)recorder.record(evaluation(day1 + 100, "192.0.2.9"));
    auto other = evaluation(day1 + 5, "192.0.2.7");
    other.header_from = other.policy_domain = "example.org";
    (void)recorder.record(other);

    auto both_days = report(state.path.string(), "example.com", day1, day2 + 86400);
    BOOST_TEST(both_days.status == 0);
    BOOST_TEST(both_days.err.empty());
    BOOST_TEST(occurrences(both_days.out, "<record>") == 2u);
    BOOST_TEST(both_days.out.find("<count>4</count>") != std::string::npos);
    BOOST_TEST(both_days.out.find("<report_id>example.com.1709251200.1709424000</report_id>") !=
               std::string::npos);
    BOOST_TEST(both_days.out.find("<email>postmaster@mx.example.net</email>") != std::string::npos);
    BOOST_TEST(both_days.out.find("example.org") == std::string::npos);

    auto first_day = report(state.path.string(), "example.com", day1, day2);
    BOOST_TEST(first_day.out.find("<count>3</count>") != std::string::npos);

    auto nothing = report(state.path.string(), "example.net", day1, day2);
    BOOST_TEST(nothing.status == 0);
    BOOST_TEST(nothing.out.empty());
    BOOST_TEST(nothing.err.find("no evaluations") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(corrupt_lines_are_skipped_and_counted) {
    StateDir state;
    DmarcRecorder recorder(state.path.string());
    (void)recorder.record(evaluation(day1, "192.0.2.1"));
    {
        std::ofstream append(recorder.path_for(day1), std::ios::app);
        append << "garbage\n" << pigeon::dmarc::encode_record_line(evaluation(day1 + 1, "192.0.2.1")).substr(0, 30)
               << "\n\n";
    }
    (void)recorder.record(evaluation(day1 + 2, "192.0.2.1"));
    auto result = report(state.path.string(), "example.com", day1, day2);
    BOOST_TEST(result.status == 0);
    BOOST_TEST(result.out.find("<count>2</count>") != std::string::npos);
    BOOST_TEST(result.err.find("skipped 2 corrupt") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_arguments_exit_2) {
    StateDir state;
    std::ostringstream out, err;
    const std::string dir = state.path.string();
    BOOST_TEST(pigeon::app::run_dmarc_report_command(dir, "example.com", "last week", "", "mx", out, err) == 2);
    BOOST_TEST(err.str().find("--since") != std::string::npos);
    BOOST_TEST(pigeon::app::run_dmarc_report_command(dir, "example.com", "2024-03-01", "soon", "mx", out, err) == 2);
    BOOST_TEST(pigeon::app::run_dmarc_report_command(dir, "example.com", "2024-03-02", "2024-03-01", "mx", out, err) == 2);
    BOOST_TEST(report(dir, "", day1, day2).status == 2);
    BOOST_TEST(out.str().empty());
    // A good command over an empty state dir: nothing to report, not an error.
    BOOST_TEST(pigeon::app::run_dmarc_report_command(dir, "example.com", "2024-03-01", "", "mx", out, err) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
