// core::Result and core::Status (core/result.hpp): the one result type, over the parsers'
// ParseError and over a library's own error code.
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <string>

#include "core/result.hpp"

namespace {

enum class SampleCode : std::uint8_t { failed, missing };
using SampleError = pigeon::core::Error<SampleCode>;

pigeon::core::Result<int, SampleError> lookup(int key) {
    if (key == 0) return SampleError{"no entry for key 0", SampleCode::missing};
    if (key < 0) return SampleError{"negative key"};
    return key * 2;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(result)

BOOST_AUTO_TEST_CASE(a_parse_result_holds_a_value_or_a_malformed_error) {
    pigeon::core::Result<std::string> good = std::string("text");
    BOOST_TEST(good.ok());
    BOOST_TEST(*good == "text");
    pigeon::core::Result<std::string> bad = pigeon::core::ParseError{"unterminated quote at offset 3"};
    BOOST_TEST(!bad.ok());
    BOOST_TEST(bad.error().message == "unterminated quote at offset 3");
    BOOST_TEST((bad.code() == pigeon::core::ParseCode::malformed));
}

BOOST_AUTO_TEST_CASE(callers_branch_on_the_code_and_an_unset_code_is_the_general_failure) {
    const auto missing = lookup(0);
    BOOST_TEST(!missing.ok());
    BOOST_TEST((missing.code() == SampleCode::missing));
    const auto failed = lookup(-1);
    BOOST_TEST((failed.code() == SampleCode::failed));
    BOOST_TEST(failed.error().message == "negative key");
    const auto found = lookup(21);
    BOOST_TEST(found.ok());
    BOOST_TEST(found.value() == 42);
}

BOOST_AUTO_TEST_CASE(a_status_is_success_by_default_or_carries_its_error) {
    pigeon::core::Status<SampleError> fine;
    BOOST_TEST(fine.ok());
    BOOST_TEST(pigeon::core::Status<SampleError>::success().ok());
    pigeon::core::Status<SampleError> broken = SampleError{"disk full", SampleCode::failed};
    BOOST_TEST(!broken.ok());
    BOOST_TEST(broken.error().message == "disk full");
    BOOST_TEST((broken.code() == SampleCode::failed));
}

BOOST_AUTO_TEST_CASE(the_error_moves_out_of_a_temporary_result) {
    std::string message = lookup(0).error().message;
    BOOST_TEST(message == "no entry for key 0");
    SampleError taken = pigeon::core::Result<int, SampleError>(SampleError{"gone", SampleCode::missing}).error();
    BOOST_TEST((taken == SampleError{"gone", SampleCode::missing}));
}

BOOST_AUTO_TEST_SUITE_END()
