// Tests for core/clock.hpp: FixedClock and the RFC 5322 3.3 date formatter.
#include "core/clock.hpp"

#include <rapidcheck/boost_test.h>

#include <cstdint>
#include <ctime>
#include <limits>
#include <string>

using pigeon::core::format_rfc5322_date;

namespace {

// The reference: libc's gmtime_r and strftime in the C locale (the tests may read libc; the
// formatter itself must not, so its output is the same on every host).
std::string libc_date(std::int64_t t) {
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return buf;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(clock_date)

BOOST_AUTO_TEST_CASE(formats_the_header_example) {
    BOOST_TEST(format_rfc5322_date(1795323059) == "Sun, 22 Nov 2026 04:50:59 +0000");
}

BOOST_AUTO_TEST_CASE(formats_the_epoch_and_the_second_before_it) {
    BOOST_TEST(format_rfc5322_date(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
    BOOST_TEST(format_rfc5322_date(-1) == "Wed, 31 Dec 1969 23:59:59 +0000");
}

BOOST_AUTO_TEST_CASE(handles_leap_days_and_century_rules) {
    BOOST_TEST(format_rfc5322_date(951782400) == "Tue, 29 Feb 2000 00:00:00 +0000");   // 400-year leap
    BOOST_TEST(format_rfc5322_date(4107542400) == "Mon, 01 Mar 2100 00:00:00 +0000");  // 2100 is not leap
    BOOST_TEST(format_rfc5322_date(-2208988800) == "Mon, 01 Jan 1900 00:00:00 +0000");
    BOOST_TEST(format_rfc5322_date(253402300799) == "Fri, 31 Dec 9999 23:59:59 +0000");
}

BOOST_AUTO_TEST_CASE(years_before_1000_are_zero_padded_to_four_digits) {
    BOOST_TEST(format_rfc5322_date(-62135596800) == "Mon, 01 Jan 0001 00:00:00 +0000");
}

BOOST_AUTO_TEST_CASE(extreme_times_do_not_crash) {
    // Far outside any real clock: only the absence of UB and a sane shape matter here.
    for (const std::int64_t t : {std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()}) {
        const std::string s = format_rfc5322_date(t);
        BOOST_TEST(s.size() > 20u);
        BOOST_TEST(s.substr(s.size() - 5) == "+0000");
    }
}

BOOST_AUTO_TEST_CASE(fixed_clock_reports_what_it_was_set_to) {
    pigeon::core::FixedClock clock(42);
    BOOST_TEST(clock.now_unix_seconds() == 42);
    clock.set(1795323059);
    const pigeon::core::Clock& base = clock;
    BOOST_TEST(base.now_unix_seconds() == 1795323059);
}

RC_BOOST_PROP(matches_libc_gmtime_from_year_1000_to_9999, ()) {
    // 1000-01-01 .. 9999-12-31: where strftime's unpadded %Y has RFC 5322's four digits too.
    const auto t = *rc::gen::inRange<std::int64_t>(-30610224000, 253402300800);
    RC_ASSERT(format_rfc5322_date(t) == libc_date(t));
}

RC_BOOST_PROP(matches_libc_gmtime_near_the_epoch, ()) {
    const auto t = *rc::gen::inRange<std::int64_t>(-4'000'000'000, 4'000'000'000);
    RC_ASSERT(format_rfc5322_date(t) == libc_date(t));
}

BOOST_AUTO_TEST_SUITE_END()
