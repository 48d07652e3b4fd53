// pigeon/core/message_ref.hpp: a received message, shared and immutable, wherever its octets
// live - in memory, or in a file the driver wrote while the message arrived and mapped for
// reading (net/spill.hpp) - so that nothing between the DATA reader and the spool copies it.
//
// Contract:
//   - A MessageRef is a cheap value (a view and what keeps the octets alive); copies share.
//   - Its octets are prefix() followed by body(). A message as received has no prefix; the one
//     to store is made by with_prefix(): our Received: and the verdict's fields on top, and
//     optionally a leading part of the body replaced (a header section with forged
//     Authentication-Results renamed), without copying the body.
//   - contiguous() is the whole message as one view; only for a message without prefix (what
//     the session hands to CheckMessage), else it is empty.
//   - A default-constructed MessageRef is null (operator bool false) and has no octets.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace pigeon::core {

class MessageRef {
public:
    MessageRef() = default;
    // In memory. Implicit: a shared string is a message.
    MessageRef(std::shared_ptr<const std::string> text)  // NOLINT(google-explicit-constructor)
        : owner_(text), body_(text ? std::string_view(*text) : std::string_view()), set_(text != nullptr) {}
    MessageRef(std::shared_ptr<std::string> text)  // NOLINT(google-explicit-constructor)
        : MessageRef(std::shared_ptr<const std::string>(std::move(text))) {}
    explicit MessageRef(std::string text)
        : MessageRef(std::make_shared<const std::string>(std::move(text))) {}
    // Octets kept alive by `owner` (a mapped file, a spool record).
    static MessageRef viewing(std::shared_ptr<const void> owner, std::string_view octets) {
        MessageRef m;
        m.owner_ = std::move(owner);
        m.body_ = octets;
        m.set_ = true;
        return m;
    }

    // `prefix` followed by this message from octet `skip` on (skip is clamped to its size).
    MessageRef with_prefix(std::string prefix, std::uint64_t skip = 0) const {
        MessageRef m = *this;
        const std::string_view old = this->prefix();
        const std::size_t from_old = static_cast<std::size_t>(std::min<std::uint64_t>(skip, old.size()));
        prefix.append(old.substr(from_old));
        const std::uint64_t body_skip = std::min<std::uint64_t>(skip - from_old, body_.size());
        m.body_ = body_.substr(static_cast<std::size_t>(body_skip));
        m.prefix_ = std::make_shared<const std::string>(std::move(prefix));
        m.set_ = true;
        return m;
    }

    explicit operator bool() const noexcept { return set_; }
    std::string_view prefix() const noexcept {
        return prefix_ ? std::string_view(*prefix_) : std::string_view();
    }
    std::string_view body() const noexcept { return body_; }
    std::string_view contiguous() const noexcept { return prefix().empty() ? body_ : std::string_view(); }
    std::uint64_t size() const noexcept { return prefix().size() + body_.size(); }
    std::string to_string() const {
        std::string s;
        s.reserve(size());
        s.append(prefix()).append(body_);
        return s;
    }

private:
    std::shared_ptr<const void> owner_;          // keeps body_ alive
    std::shared_ptr<const std::string> prefix_;  // null: none
    std::string_view body_;
    bool set_ = false;
};

}  // namespace pigeon::core
