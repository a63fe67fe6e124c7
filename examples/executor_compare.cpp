// Seed tutorial "Hands-on Crawler with Python - process", In[14]: the same
// sums sequentially, on a ThreadPoolExecutor and on a ProcessPoolExecutor,
// each timed.
//
//   start = time.perf_counter()
//   for num in nums:
//       res = sum_numbers(num)
//       print(res)
//   print(f'Sequential execution in {time.perf_counter() - start:.4f} seconds')
//
//   start = time.perf_counter()
//   with ThreadPoolExecutor(max_workers=3) as executor:
//       tasks = [executor.submit(sum_numbers, num) for num in nums]
//       for task in as_completed(tasks):
//           print(task.result())
//   print(f'Thread pool execution in {time.perf_counter() - start:.4f} seconds')
//
//   start = time.perf_counter()
//   with ProcessPoolExecutor(max_workers=3) as executor:
//       tasks = [executor.submit(sum_numbers, num) for num in nums]
//       for task in as_completed(tasks):
//           print(task.result())
//   print(f'Process pool execution in {time.perf_counter() - start:.4f} seconds')
//
// In Python the GIL makes the thread pool no faster than the sequential
// loop; C++ threads have no GIL, so here both pools use the cores.
#include <chrono>
#include <vector>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/futures.hpp>

long long sum_numbers(long long n) {
  long long res = 0;
  for (long long i = 0; i < n; ++i) res += i;
  return res;
}

const std::vector<long long> nums = {1,      10,      100,      1000,      10000,
                                     100000, 1000000, 10000000, 100000000, 1000000000};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

template <class Executor>
void run_on(Executor&& executor) {
  std::vector<decltype(executor.submit(sum_numbers, 0LL))> tasks;
  for (long long num : nums) tasks.push_back(executor.submit(sum_numbers, num));
  for (auto task : mp::as_completed(tasks)) fmt::print("{}\n", task.result());
}

int main() {
  auto start = std::chrono::steady_clock::now();
  for (long long num : nums) {
    long long res = sum_numbers(num);
    fmt::print("{}\n", res);
  }
  fmt::print("Sequential execution in {:.4f} seconds\n", seconds_since(start));

  start = std::chrono::steady_clock::now();
  run_on(mp::ThreadPoolExecutor(3));
  fmt::print("Thread pool execution in {:.4f} seconds\n", seconds_since(start));

  start = std::chrono::steady_clock::now();
  run_on(mp::ProcessPoolExecutor(3));
  fmt::print("Process pool execution in {:.4f} seconds\n", seconds_since(start));
}
