// Seed tutorial "Hands-on Crawler with Python - process", In[13]:
// ProcessPoolExecutor runs sum_numbers for ten sizes on three processes;
// as_completed yields each future when it is done.
//
//   def sum_numbers(n):
//       res = 0
//       for i in range(n):
//           res += i
//       return res
//
//   nums = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000]
//   with ProcessPoolExecutor(max_workers=3) as executor:  # 进程池
//       tasks = [executor.submit(sum_numbers, num) for num in nums]
//       for task in as_completed(tasks):
//           print(task.result())
//
// `with ... as executor:` is the executor's scope: its destructor is
// shutdown(wait=True).
#include <vector>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/futures.hpp>

long long sum_numbers(long long n) {
  long long res = 0;
  for (long long i = 0; i < n; ++i) res += i;
  return res;
}

int main() {
  std::vector<long long> nums = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};
  {
    mp::ProcessPoolExecutor executor(3);
    std::vector<mp::Future<long long>> tasks;
    for (long long num : nums) tasks.push_back(executor.submit(sum_numbers, num));
    for (auto task : mp::as_completed(tasks)) fmt::print("{}\n", task.result());
  }
}
