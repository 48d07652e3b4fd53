// The schedule tests of spool_schedule_test.cpp, run again with messages in segment files
// (suite spool_schedule_in_segments).
#define SPOOL_TEST_SEGMENTS 1
#include "spool_schedule_test.cpp"
