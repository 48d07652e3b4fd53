// Shared checks for the spool tests: what a spool holds, by the subject line of each message
// (the tests' messages are "Subject: <subject>\r\n\r\n...").
#pragma once
#include <boost/test/unit_test.hpp>

#include <map>
#include <string>

#include "queue/spool.hpp"
#include "queue/spool_fixtures.hpp"

namespace pigeon::test {

// The subject of every message in the spool -> its id; checks each is there once and readable.
inline std::map<std::string, std::string> by_subject(const queue::Spool& spool) {
    std::map<std::string, std::string> out;
    for (const auto& m : spool.list()) {
        auto rec = spool.show(m.id);
        BOOST_REQUIRE_MESSAGE(rec.ok(), why(rec));
        const std::string& msg = rec->message;
        const std::string subject = msg.substr(9, msg.find("\r\n") - 9);
        BOOST_CHECK_MESSAGE(out.count(subject) == 0, "message " << subject << " recovered twice");
        out[subject] = m.id;
    }
    return out;
}

}  // namespace pigeon::test
