// A container of pointers is not transferable; the element type is named.
// expect-regex: Widget ?\*
// expect-regex: raw pointer
#include <multiprocessing/reduction.hpp>

#include <vector>

struct Widget {
  int x;
};

int main() {
  auto v = multiprocessing::loads<std::vector<Widget*>>({});
  return static_cast<int>(v.size());
}
