#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "app/dmarc_report.hpp"

namespace pigeon::app {

namespace {

std::string errno_text(int error) { return std::strerror(error); }

// The UTC calendar day of a unix time as YYYYMMDD. Clamped to years 1970-9999 so that a
// nonsense time still names a file (and the calendar arithmetic cannot overflow).
std::string utc_day(std::int64_t time) {
    using namespace std::chrono;
    time = std::clamp<std::int64_t>(time, 0, 253402300799);  // 9999-12-31T23:59:59Z
    const auto days = floor<std::chrono::days>(sys_seconds{seconds{time}});
    const year_month_day ymd{days};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d%02u%02u", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
    return buf;
}

}  // namespace

DmarcRecorder::DmarcRecorder(std::string state_dir) : dir_(std::move(state_dir) + "/dmarc") {}

std::string DmarcRecorder::path_for(std::int64_t time) const {
    return dir_ + "/records-" + utc_day(time) + ".log";
}

std::optional<std::string> DmarcRecorder::record(const dmarc::EvaluationRecord& record) {
    const std::string line = dmarc::encode_record_line(record) + "\n";
    const std::string path = path_for(record.time);
    std::lock_guard<std::mutex> lock(mutex_);
    if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
        return "cannot create " + dir_ + ": " + errno_text(errno);
    }
    // Opened per record: a day's file changes at midnight and rarely-written files are fine
    // to reopen; O_APPEND makes each write land whole at the end.
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return "cannot open " + path + ": " + errno_text(errno);
    std::optional<std::string> problem;
    std::size_t done = 0;
    while (done < line.size()) {
        ssize_t n = ::write(fd, line.data() + done, line.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            problem = "cannot write " + path + ": " + errno_text(errno);
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0 && !problem) problem = "cannot close " + path + ": " + errno_text(errno);
    return problem;
}

std::optional<std::int64_t> parse_time_argument(std::string_view text) {
    auto all_digits = [](std::string_view s) {
        return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (all_digits(text)) {
        std::int64_t value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
        return value;
    }
    if (text.size() == 10 && text[4] == '-' && text[7] == '-' && all_digits(text.substr(0, 4)) &&
        all_digits(text.substr(5, 2)) && all_digits(text.substr(8, 2))) {
        auto number = [&](std::size_t at, std::size_t n) {
            int v = 0;
            std::from_chars(text.data() + at, text.data() + at + n, v);
            return v;
        };
        using namespace std::chrono;
        const year_month_day ymd{year{number(0, 4)}, month{static_cast<unsigned>(number(5, 2))},
                                 day{static_cast<unsigned>(number(8, 2))}};
        if (!ymd.ok()) return std::nullopt;
        return sys_days{ymd}.time_since_epoch() / seconds{1};
    }
    return std::nullopt;
}

int run_dmarc_report(const std::string& state_dir, const std::string& domain, std::int64_t since,
                     std::int64_t until, const std::string& org_name, std::ostream& out,
                     std::ostream& err) {
    if (domain.empty()) {
        err << "pigeon: dmarc report: no domain given\n";
        return 2;
    }
    if (org_name.empty()) {
        err << "pigeon: dmarc report: no organization name\n";
        return 2;
    }
    if (until <= since) {
        err << "pigeon: dmarc report: the range is empty (until " << until << " <= since " << since
            << ")\n";
        return 2;
    }

    namespace fs = std::filesystem;
    const fs::path dir = fs::path(state_dir) / "dmarc";
    std::vector<fs::path> files;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.starts_with("records-") && name.ends_with(".log")) files.push_back(it->path());
    }
    if (ec && ec != std::errc::no_such_file_or_directory) {
        err << "pigeon: dmarc report: cannot list " << dir.string() << ": " << ec.message() << "\n";
    }
    std::sort(files.begin(), files.end());

    std::vector<dmarc::EvaluationRecord> records;
    std::size_t corrupt = 0, unreadable = 0;
    for (const auto& file : files) {
        std::ifstream in(file, std::ios::binary);
        if (!in) {
            ++unreadable;
            continue;
        }
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty()) continue;
            auto record = dmarc::decode_record_line(line);
            if (!record.ok()) {
                ++corrupt;
                continue;
            }
            records.push_back(std::move(record).value());
        }
        if (in.bad()) ++unreadable;
    }
    if (corrupt > 0) err << "pigeon: dmarc report: skipped " << corrupt << " corrupt record line(s)\n";
    if (unreadable > 0) err << "pigeon: dmarc report: could not read " << unreadable << " file(s)\n";

    if (dmarc::records_for(records, domain, since, until).empty()) {
        err << "pigeon: dmarc report: no evaluations recorded for " << domain << " in [" << since
            << ", " << until << ")\n";
        return 0;
    }
    dmarc::ReportMetadata meta;
    meta.org_name = org_name;
    meta.email = "postmaster@" + org_name;
    meta.report_id = domain + "." + std::to_string(since) + "." + std::to_string(until);
    meta.begin = since;
    meta.end = until;
    out << dmarc::aggregate_report_xml(records, domain, meta);
    return 0;
}

int run_dmarc_report_command(const std::string& state_dir, const std::string& domain,
                             const std::string& since, const std::string& until,
                             const std::string& org_name, std::ostream& out, std::ostream& err) {
    auto begin = parse_time_argument(since);
    if (!begin) {
        err << "pigeon: dmarc report: bad --since '" << since
            << "' (a unix time or YYYY-MM-DD)\n";
        return 2;
    }
    std::optional<std::int64_t> end;
    if (until.empty()) {
        // The range is [since, until): by default it ends after the current second, so an
        // evaluation recorded a moment ago is in it.
        end = static_cast<std::int64_t>(std::time(nullptr)) + 1;
    } else {
        end = parse_time_argument(until);
        if (!end) {
            err << "pigeon: dmarc report: bad --until '" << until
                << "' (a unix time or YYYY-MM-DD)\n";
            return 2;
        }
    }
    return run_dmarc_report(state_dir, domain, *begin, *end, org_name, out, err);
}

}  // namespace pigeon::app
