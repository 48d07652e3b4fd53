// pigeon/core/clock.cpp: RFC 5322 3.3 dates by plain arithmetic on the proleptic Gregorian
// calendar, so the result never depends on the host's time zone or libc.
#include "core/clock.hpp"

#include <cstdio>

namespace pigeon::core {
namespace {

struct Civil {
    std::int64_t year;
    int month;  // 1..12
    int day;    // 1..31
};

// Days since 1970-01-01 to a civil date. Counts in 400-year eras starting on March 1st, so
// the leap day is the last day of its year and the month lengths form a regular pattern.
Civil civil_from_days(std::int64_t days) {
    const std::int64_t z = days + 719468;  // days from 0000-03-01
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const std::int64_t doe = z - era * 146097;                                 // [0, 146096]
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);         // [0, 365]
    const std::int64_t mp = (5 * doy + 2) / 153;                              // [0, 11], March = 0
    const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    return {year, month, day};
}

}  // namespace

std::string format_rfc5322_date(std::int64_t unix_seconds) {
    static constexpr const char* weekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    // Floor division: times before 1970 still land on the right day and second.
    std::int64_t days = unix_seconds / 86400;
    std::int64_t secs = unix_seconds % 86400;
    if (secs < 0) {
        secs += 86400;
        --days;
    }
    const Civil c = civil_from_days(days);
    const int weekday = static_cast<int>(((days % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday

    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04lld %02d:%02d:%02d +0000", weekdays[weekday],
                  c.day, months[c.month - 1], static_cast<long long>(c.year),
                  static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                  static_cast<int>(secs % 60));
    return buf;
}

}  // namespace pigeon::core
