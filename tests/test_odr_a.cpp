// Both translation units include everything: a non-inline function or a
// non-inline variable defined in a header fails to link here.
#include <multiprocessing.hpp>

#include "catch.hpp"

int odr_b_cpu_count();

TEST_CASE("two translation units including every header link and agree") {
  CHECK(mp::cpu_count() == odr_b_cpu_count());
}
