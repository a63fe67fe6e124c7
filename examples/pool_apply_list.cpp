// Seed notes "多进程", 进程池: apply_async returns at once (the main process
// then waits in close() + join()); apply blocks until the call is done. The
// seed has one program for each; this one runs both, one after the other.
//
//   def run1(li: list):
//       for i in li:
//           print(i)
//           time.sleep(1)
//       print("run1函数执行完成")
//
//   if __name__ == '__main__':                 if __name__ == '__main__':
//       pool = Pool(processes=3)                   pool = Pool(processes=3)
//       pool.apply_async(run1, ([1,2,3],))         pool.apply(run1, ([1,2,3],))
//       pool.close()   # 不阻塞 代码继续往下执行    # 阻塞，等待run1执行完成 同步
//       pool.join()
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/pool.hpp>

void run1(const std::vector<int>& li) {
  for (int i : li) {
    fmt::print("{}\n", i);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // seed: 1 s
  }
  fmt::print("run1函数执行完成\n");
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  {
    mp::Pool pool(3);
    pool.apply_async(run1, std::vector<int>{1, 2, 3});  // does not block
    pool.close();
    pool.join();
  }
  {
    mp::Pool pool(3);
    pool.apply(run1, std::vector<int>{1, 2, 3});  // blocks until run1 is done
  }  // the seed ends here without close(): the destructor ends the pool
}
