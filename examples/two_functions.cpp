// Seed notes "多进程", 代码实现: two processes with different targets run
// side by side; the main process waits for both and prints the time taken.
//
//   def run1():
//       for i in range(5):
//           time.sleep(1)
//           print("run1函数执行完成")
//   def run2():
//       for i in range(5):
//           time.sleep(1)
//           print("run2函数执行完成")
//   t1 = time.time()
//   if __name__ == '__main__':
//       p1 = Process(target=run1)   # 创建子进程p1
//       p2 = Process(target=run2)   # 创建子进程p2
//       p1.start()                  # 开启p1进程
//       p2.start()
//       p1.join()                   # 阻塞等待p1子进程执行完
//       p2.join()
//       print("子进程执行完成,继续开始主进程")
//       print(time.time() - t1)
#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>

void run1() {
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // seed: 1 s
    fmt::print("run1函数执行完成\n");
  }
}

void run2() {
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fmt::print("run2函数执行完成\n");
  }
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  auto t1 = std::chrono::steady_clock::now();
  mp::Process p1(run1);
  mp::Process p2(run2);
  p1.start();
  p2.start();
  p1.join();
  p2.join();
  fmt::print("子进程执行完成,继续开始主进程\n");
  fmt::print("{}\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count());
}
