// core::MessageRef: a shared, immutable message as a prefix and a body. The law: a prefixed
// message reads as the prefix followed by the original from `skip` on, whatever is stacked.
#include "core/message_ref.hpp"

#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include <memory>
#include <string>

using pigeon::core::MessageRef;

BOOST_AUTO_TEST_SUITE(message_ref)

BOOST_AUTO_TEST_CASE(null_and_empty_are_different) {
    const MessageRef null;
    BOOST_TEST(!static_cast<bool>(null));
    BOOST_TEST(null.size() == 0u);
    BOOST_TEST(null.to_string().empty());
    const MessageRef empty{std::string()};
    BOOST_TEST(static_cast<bool>(empty));
    BOOST_TEST(empty.size() == 0u);
    const MessageRef from_null_pointer{std::shared_ptr<const std::string>()};
    BOOST_TEST(!static_cast<bool>(from_null_pointer));
}

BOOST_AUTO_TEST_CASE(a_message_shares_its_octets_and_never_copies_them) {
    auto text = std::make_shared<const std::string>("Subject: x\r\n\r\nbody\r\n");
    const MessageRef m(text);
    BOOST_TEST(m.body().data() == text->data());
    BOOST_TEST(m.contiguous() == *text);
    const MessageRef stored = m.with_prefix("Received: by us\r\n");
    BOOST_TEST(stored.body().data() == text->data());  // the body is the same octets
    BOOST_TEST(stored.prefix() == "Received: by us\r\n");
    BOOST_TEST(stored.contiguous().empty());  // not one view any more
    BOOST_TEST(stored.to_string() == "Received: by us\r\n" + *text);
    BOOST_TEST(stored.size() == 17u + text->size());
}

BOOST_AUTO_TEST_CASE(a_replaced_head_skips_the_original_octets) {
    const MessageRef m(std::string("Authentication-Results: forged\r\nSubject: x\r\n\r\nb\r\n"));
    const MessageRef patched = m.with_prefix("X-Original-Authentication-Results: forged\r\n", 32);
    BOOST_TEST(patched.to_string() ==
               "X-Original-Authentication-Results: forged\r\nSubject: x\r\n\r\nb\r\n");
    // A skip past the end leaves only the prefix.
    BOOST_TEST(m.with_prefix("p", 10000).to_string() == "p");
}

BOOST_AUTO_TEST_CASE(a_view_keeps_its_owner_alive) {
    std::weak_ptr<const std::string> watch;
    MessageRef m;
    {
        auto owner = std::make_shared<const std::string>("mapped octets");
        watch = owner;
        m = MessageRef::viewing(owner, std::string_view(*owner).substr(7));
    }
    BOOST_TEST(!watch.expired());
    BOOST_TEST(m.to_string() == "octets");
    m = {};
    BOOST_TEST(watch.expired());
}

RC_BOOST_PROP(prefixing_reads_as_the_prefix_then_the_rest,
              (const std::string& body, const std::string& p1, const std::string& p2)) {
    const MessageRef m(body);
    const auto skip1 = *rc::gen::inRange<std::uint64_t>(0, body.size() + 3);
    const MessageRef once = m.with_prefix(p1, skip1);
    const std::string once_text = p1 + body.substr(std::min<std::size_t>(skip1, body.size()));
    RC_ASSERT(once.to_string() == once_text);
    RC_ASSERT(once.size() == once_text.size());
    // Stacked: the second skip may reach into the first prefix and on into the body.
    const auto skip2 = *rc::gen::inRange<std::uint64_t>(0, once_text.size() + 3);
    const MessageRef twice = once.with_prefix(p2, skip2);
    RC_ASSERT(twice.to_string() == p2 + once_text.substr(std::min<std::size_t>(skip2, once_text.size())));
    RC_ASSERT(m.to_string() == body);  // the original is untouched
}

BOOST_AUTO_TEST_SUITE_END()
