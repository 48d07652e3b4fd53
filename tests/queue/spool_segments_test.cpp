// The spool tests of spool_test.cpp, run again with messages in segment files (suite
// spool_in_segments); the tests that only make sense for one file per message are left out
// there. Segment-specific tests (torn tails, migration, deletion order) are in
// spool_segment_crash_test.cpp.
#define SPOOL_TEST_SEGMENTS 1
#include "spool_test.cpp"
