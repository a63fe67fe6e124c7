// A lambda capturing a std::string (no serialize) cannot be a task.
// expect-regex: lambda
// expect-regex: callable is not transferable
#include <multiprocessing/reduction.hpp>

#include <string>

int main() {
  std::string prefix = "p";
  auto f = [prefix](int x) { return prefix.size() + static_cast<std::size_t>(x); };
  return static_cast<int>(multiprocessing::detail::task_id<decltype(f), int>());
}
