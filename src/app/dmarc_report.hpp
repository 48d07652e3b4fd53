// pigeon/app/dmarc_report.hpp: storing DMARC evaluations for aggregate reports, and
// `pigeon dmarc report` (RFC 7489 7.2, Appendix C).
//
// Contract:
//   - DmarcRecorder::record() appends encode_record_line(r) + '\n' to
//     <state_dir>/dmarc/records-YYYYMMDD.log (the UTC day of r.time), creating the directory
//     (0700) and the file (0600) when missing. Each line goes out in one O_APPEND write() call
//     under a mutex, so concurrent callers (and a reader) never see interleaved lines. It
//     returns std::nullopt on success, else why it failed: the caller logs it; a failure never
//     affects the message. Safe to call from any thread.
//   - parse_time_argument(): a unix time (decimal digits) or an ISO date YYYY-MM-DD (midnight
//     UTC); anything else (including a date that does not exist) -> std::nullopt.
//   - run_dmarc_report() reads every <state_dir>/dmarc/records-*.log in name order, keeps the
//     evaluations for `domain` with since <= time < until, and writes the Appendix C XML to
//     `out` (report_id "<domain>.<since>.<until>", email "postmaster@<org_name>"). Lines that do
//     not decode and files that cannot be read are skipped and counted on `err`. No matching
//     evaluation: nothing on `out`, a note on `err`, exit 0. Exit 2 for bad arguments (an
//     empty domain or org_name, until <= since).
//   - run_dmarc_report_command() is the same with --since/--until as text (parse_time_argument;
//     an empty `until` means now): exit 2 when either does not parse.
#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "auth/dmarc/report.hpp"
#include "policy/pipeline.hpp"

namespace pigeon::app {

class DmarcRecorder final : public policy::DmarcRecordSink {
public:
    explicit DmarcRecorder(std::string state_dir);
    std::optional<std::string> record(const dmarc::EvaluationRecord& record) override;

    // The file a record made at `time` goes to.
    std::string path_for(std::int64_t time) const;

private:
    std::string dir_;  // <state_dir>/dmarc
    std::mutex mutex_;
};

std::optional<std::int64_t> parse_time_argument(std::string_view text);

int run_dmarc_report(const std::string& state_dir, const std::string& domain, std::int64_t since,
                     std::int64_t until, const std::string& org_name, std::ostream& out,
                     std::ostream& err);

int run_dmarc_report_command(const std::string& state_dir, const std::string& domain,
                             const std::string& since, const std::string& until,
                             const std::string& org_name, std::ostream& out, std::ostream& err);

}  // namespace pigeon::app
