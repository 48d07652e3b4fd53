// pigeon/delivery/maildir.hpp: durable delivery of one message into a Maildir (or Maildir++ folder).
//
// Contract: deliver(maildir, folder, content) writes content to
//   <maildir>/tmp/<unique>            O_CREAT|O_EXCL, then fsync
//   rename to <maildir>/new/<unique>  then fsync of new/
// (folder "Junk" -> <maildir>/.Junk/, Maildir++), creating tmp/ new/ cur/ (and every missing
// ancestor, each new directory's entry fsynced in its parent) as needed. When deliver()
// returns ok the message is on stable storage and visible to readers; on any error nothing is
// left in tmp/ or new/ and the Error names the path and the cause (a full disk included).
// Unique names follow the Maildir convention "<time>.P<pid>Q<counter>R<random>.<host>,S=<size>";
// the time and the random bits come from the injected Clock and RandomSource, never read
// directly. maildir_path() builds "<state>/mail/<domain>/<user>/Maildir" and refuses any
// component that could leave that tree. Never throws.
#pragma once
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>

#include "core/address.hpp"
#include "core/clock.hpp"
#include "queue/queue_id.hpp"
#include "queue/storage.hpp"

namespace pigeon::delivery {

inline constexpr std::size_t path_component_max_octets = 255;  // NAME_MAX on Linux

// domain and user are used as given (the policy lowercases what it wants folded).
queue::Result<std::filesystem::path> maildir_path(const std::filesystem::path& state_dir,
                                                    std::string_view domain, std::string_view user);

// "<unix_seconds>.P<pid>Q<counter>R<16 hex digits>.<host>,S=<size>"; '/' and ':' in the
// host name are written as \057 and \072 (the Maildir specification's rule).
std::string maildir_unique_name(std::int64_t unix_seconds, std::uint64_t pid, std::uint64_t counter,
                                std::uint64_t random, std::string_view hostname, std::uint64_t size);

// The name of a spooled message's copy for one recipient: the same every time it is
// delivered, so a delivery repeated after a crash (between the Maildir rename and the spool's
// bookkeeping) finds the first copy instead of making a second. Queue ids are unique, so the
// name is too: "<arrival>.Q<queue id>R<recipient index>.<host>,S=<size>".
std::string maildir_delivery_name(std::int64_t arrival_unix_seconds, std::string_view queue_id,
                                  std::size_t recipient_index, std::string_view hostname,
                                  std::uint64_t size);

// What lands in the mailbox: Return-Path (RFC 5321 4.4: added at final delivery) and
// Delivered-To, then the message, with CRLF line ends turned into LF as Maildir readers expect.
std::string maildir_content(const core::Path& sender, const core::Path& recipient,
                            std::string_view message);

class MaildirWriter {
public:
    MaildirWriter(const core::Clock& clock, queue::RandomSource& random, std::string hostname,
                  std::uint64_t pid);

    // folder: "" (the inbox) or a Maildir++ folder name of [A-Za-z0-9_-] ("Junk").
    // Returns the delivered file's path in new/. Thread-safe.
    queue::Result<std::filesystem::path> deliver(const std::filesystem::path& maildir,
                                                   std::string_view folder, std::string_view content);

    // Idempotent delivery under a caller-chosen unique name (maildir_delivery_name): when
    // new/<name> already exists (or, with look_in_cur, cur/<name> or cur/<name>:<info>, where
    // a mail reader moves what it has seen), nothing is written and that path is returned.
    // look_in_cur scans cur/, so it is meant for the first pass after a restart only.
    queue::Result<std::filesystem::path> deliver_once(const std::filesystem::path& maildir,
                                                        std::string_view folder,
                                                        std::string_view content,
                                                        const std::string& name, bool look_in_cur);

private:
    // The directory to deliver into (the Maildir, or its Maildir++ folder), created as needed.
    queue::Result<std::filesystem::path> prepare(const std::filesystem::path& maildir,
                                                   std::string_view folder);
    // tmp/<name>, fsync, rename into new/<name>, fsync new/.
    queue::Result<std::filesystem::path> write_new(const std::filesystem::path& dir,
                                                     const std::string& name,
                                                     std::string_view content);

    const core::Clock& clock_;
    queue::RandomSource& random_;
    std::string hostname_;
    std::uint64_t pid_;
    std::mutex mutex_;  // counter_ and random_
    std::uint64_t counter_ = 0;
};

}  // namespace pigeon::delivery
