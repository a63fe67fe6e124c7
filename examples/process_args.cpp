// Seed notes "多进程", 多进程传参: arguments after the target, as Python's
// args=(5,) and args=(5, "run2").
//
//   def run1(num):
//       for i in range(num):
//           time.sleep(1)
//           print("run1函数执行完成")
//   def run2(num, name):
//       for i in range(num):
//           time.sleep(1)
//           print(f"{name}函数执行完成")
//   t1 = time.time()
//   if __name__ == '__main__':
//       p1 = Process(target=run1, args=(5,))         # 创建子进程p1并传一个参数
//       p2 = Process(target=run2, args=(5, "run2"))  # 创建子进程p2并传两个参数
//       p1.start()
//       p2.start()
//       p1.join()
//       p2.join()
//       print("子进程执行完成,继续开始主进程")
//       print(time.time() - t1)
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>

void run1(int num) {
  for (int i = 0; i < num; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // seed: 1 s
    fmt::print("run1函数执行完成\n");
  }
}

void run2(int num, const std::string& name) {
  for (int i = 0; i < num; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fmt::print("{}函数执行完成\n", name);
  }
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  auto t1 = std::chrono::steady_clock::now();
  mp::Process p1(run1, 5);
  mp::Process p2(run2, 5, std::string("run2"));
  p1.start();
  p2.start();
  p1.join();
  p2.join();
  fmt::print("子进程执行完成,继续开始主进程\n");
  fmt::print("{}\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count());
}
