// An aggregate with a pointer member is not transferable (not even copied as bytes).
// expect-regex: Holder
// expect-regex: every field
#include <multiprocessing/reduction.hpp>

struct Holder {
  int n;
  double* values;
};

int main() {
  auto h = multiprocessing::loads<Holder>({});
  return h.n;
}
