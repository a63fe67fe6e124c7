// A raw pointer is not transferable.
// expect-regex: Widget ?\*
// expect-regex: raw pointer
#include <multiprocessing/reduction.hpp>

struct Widget {
  int x;
};

int main() {
  Widget w{1};
  auto bytes = multiprocessing::dumps(&w);
  return static_cast<int>(bytes.size());
}
