// The one Boost.Test main for every test executable.
#define BOOST_TEST_MODULE pigeon
#include <boost/test/unit_test.hpp>
