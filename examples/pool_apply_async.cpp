// Seed tutorial "多路加速，了解多进程基本原理", 进程池: four calls for a pool of
// three processes; the fourth starts when one of the first three has ended.
//
//   def function(index):
//       print(f'Start process: {index}')
//       time.sleep(3)
//       print(f'End process {index}',)
//
//   if __name__ == '__main__':
//       pool = Pool(processes=3)  # 不断地改变该数字观察输出结果
//       for i in range(4):
//           pool.apply_async(function, args=(i, ))
//       print('Main Process started')
//       pool.close()
//       pool.join()
//       print("Main Process ended")
#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/pool.hpp>

void function(int index) {
  fmt::print("Start process: {}\n", index);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // seed: 3 s
  fmt::print("End process {}\n", index);
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  mp::Pool pool(3);
  for (int i = 0; i < 4; ++i) pool.apply_async(function, i);
  fmt::print("Main Process started\n");
  pool.close();
  pool.join();
  fmt::print("Main Process ended\n");
}
