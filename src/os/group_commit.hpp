// pigeon/os/group_commit.hpp: group commit - many sessions' enqueues share one durability barrier.
//
// Contract: submit() hands an Enqueue (envelope, message, folder) to one committer thread and
// returns at once. The committer repeatedly takes EVERY request waiting at that moment (up to
// max_batch_messages / max_batch_octets), commits them with Spool::commit_batch - all files
// written, then one Storage::sync() - and only then calls each request's done callback with
// the queue id, or with the failure reason (a full disk: "spool write failed: No space left on
// device"); the session answers 250 or 452 4.3.1 accordingly. While a barrier runs, new
// requests queue up and form the next batch, so the barrier rate adapts to the load.
// Callbacks run on the committer thread, in submission order within a batch; they must be
// short and must not throw (a thrown exception is swallowed so the committer survives);
// the network layer posts them back to the session's own thread (asio::post).
// stop() (and the destructor) commit everything already submitted, then join; a submit()
// after stop() is answered at once, on the caller's thread, with a failure.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/envelope.hpp"
#include "queue/spool.hpp"

namespace pigeon::os {

class GroupCommitter {
public:
    using Outcome = queue::Result<std::string>;  // the queue id, or why it was not queued
    using Done = std::function<void(Outcome)>;

    struct Options {
        std::size_t max_batch_messages = 1024;          // per barrier
        std::uint64_t max_batch_octets = 256ull << 20;  // per barrier, message octets (256 MiB)
        // Called on the committer thread with each committed id and its recipients after its
        // callback, e.g. to wake the local delivery worker only for messages with local
        // recipients. May be empty.
        std::function<void(const std::string& id, const std::vector<core::Path>& recipients)> on_committed;
        // Called on the committer thread after each batch: how many requests it held (metrics).
        // May be empty.
        std::function<void(std::size_t messages)> on_batch;
    };

    struct Stats {
        std::uint64_t batches = 0;    // commit_batch calls (one barrier each)
        std::uint64_t messages = 0;   // requests answered
        std::uint64_t failures = 0;   // requests answered with an error
        std::size_t largest_batch = 0;
    };

    explicit GroupCommitter(queue::Spool& spool);
    GroupCommitter(queue::Spool& spool, Options options);
    ~GroupCommitter();
    GroupCommitter(const GroupCommitter&) = delete;
    GroupCommitter& operator=(const GroupCommitter&) = delete;

    void submit(core::Envelope envelope, core::MessageRef message,
                std::string folder, Done done);
    void stop();
    Stats stats() const;

private:
    struct Request {
        queue::Submission submission;
        Done done;
    };
    void run();

    queue::Spool& spool_;
    Options options_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Request> waiting_;
    bool stopping_ = false;
    Stats stats_;
    std::thread thread_;  // last: started once everything above is constructed
};

}  // namespace pigeon::os
