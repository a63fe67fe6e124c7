// std::function is not a transferable callable.
// expect-regex: std::function
// expect-regex: callable is not transferable
#include <multiprocessing/reduction.hpp>

#include <functional>

int main() {
  std::function<int(int)> f = [](int x) { return x; };
  return static_cast<int>(multiprocessing::detail::task_id<decltype(f), int>());
}
