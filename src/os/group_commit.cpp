// pigeon/os/group_commit.cpp: the committer thread.
#include "os/group_commit.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace pigeon::os {
namespace {

void call_quietly(const GroupCommitter::Done& done, GroupCommitter::Outcome outcome) {
    if (!done) {
        return;
    }
    try {
        done(std::move(outcome));
    } catch (...) {
        // A callback must not throw; if one does, the other sessions must still be answered.
    }
}

}  // namespace

GroupCommitter::GroupCommitter(queue::Spool& spool) : GroupCommitter(spool, Options{}) {}

GroupCommitter::GroupCommitter(queue::Spool& spool, Options options)
    : spool_(spool), options_(std::move(options)) {
    options_.max_batch_messages = std::max<std::size_t>(options_.max_batch_messages, 1);
    thread_ = std::thread([this] { run(); });
}

GroupCommitter::~GroupCommitter() { stop(); }

void GroupCommitter::submit(core::Envelope envelope, core::MessageRef message,
                            std::string folder, Done done) {
    {
        std::lock_guard lock(mutex_);
        if (!stopping_) {
            waiting_.push_back(Request{
                queue::Submission{std::move(envelope), std::move(message), std::move(folder)},
                std::move(done)});
            wake_.notify_one();
            return;
        }
    }
    call_quietly(done, queue::Error{"spool is shutting down"});
}

void GroupCommitter::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) {
        thread_.join();
    }
}

GroupCommitter::Stats GroupCommitter::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

void GroupCommitter::run() {
    for (;;) {
        std::vector<Request> batch;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
            if (waiting_.empty()) {
                return;  // stopping, and everything submitted has been answered
            }
            // Everything waiting right now, bounded so one barrier's latency stays bounded.
            std::uint64_t octets = 0;
            while (!waiting_.empty() && batch.size() < options_.max_batch_messages) {
                const auto& next = waiting_.front().submission.message;
                const std::uint64_t size = next.size();
                if (!batch.empty() && octets + size > options_.max_batch_octets) {
                    break;
                }
                octets += size;
                batch.push_back(std::move(waiting_.front()));
                waiting_.pop_front();
            }
        }
        std::vector<queue::Submission> submissions;
        submissions.reserve(batch.size());
        std::vector<std::vector<core::Path>> recipients;  // for on_committed
        for (Request& r : batch) {
            if (options_.on_committed) {
                recipients.push_back(r.submission.envelope.recipients);
            }
            submissions.push_back(std::move(r.submission));
        }
        std::vector<Outcome> outcomes = spool_.commit_batch(std::move(submissions));

        std::uint64_t failures = 0;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            failures += outcomes[i].ok() ? 0 : 1;
        }
        {
            // Counted before the callbacks run, so a caller that saw its callback also sees
            // its batch in stats().
            std::lock_guard lock(mutex_);
            ++stats_.batches;
            stats_.messages += batch.size();
            stats_.failures += failures;
            stats_.largest_batch = std::max(stats_.largest_batch, batch.size());
        }
        if (options_.on_batch) {
            options_.on_batch(batch.size());
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
            const bool ok = outcomes[i].ok();
            const std::string id = ok ? outcomes[i].value() : std::string();
            call_quietly(batch[i].done, std::move(outcomes[i]));
            if (ok && options_.on_committed) {
                try {
                    options_.on_committed(id, recipients[i]);
                } catch (...) {
                    // Same rule as the callbacks: the committer keeps going.
                }
            }
        }
    }
}

}  // namespace pigeon::os
