// A pointer hidden in a nested aggregate is found too.
// expect-regex: Outer
// expect-regex: const char ?\*
// expect-regex: raw pointer
#include <multiprocessing/reduction.hpp>

struct Inner {
  int n;
  const char* name;
};
struct Outer {
  double d;
  Inner inner;
};

int main() {
  Outer o{};
  return static_cast<int>(multiprocessing::dumps(o).size());
}
