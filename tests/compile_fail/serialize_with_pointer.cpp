// A serialize() member that writes a pointer fails where it does so.
// expect-regex: Widget ?\*
// expect-regex: raw pointer
#include <multiprocessing/reduction.hpp>

struct Widget {
  int x;
};
struct Owner {
  int id = 0;
  Widget* w = nullptr;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(id, w);
  }
};

int main() {
  Owner o;
  return static_cast<int>(multiprocessing::dumps(o).size());
}
