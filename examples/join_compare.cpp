// Seed tutorial "第十三节：Python多进程", join函数: the same two children,
// started together (例一: they run side by side) or each joined before the
// next starts (例二: one after the other).
//
//   def run_a_sub_proc(name):
//       print(f'子进程：{name}（{os.getpid()}）开始...')
//       for i in range(3):
//           print(f'子进程：{name}（{os.getpid()}）运行中...')
//           time.sleep(1)
//
//   # 例一                                # 例二
//   print(f'主进程（{os.getpid()}）开始...')
//   p1 = Process(target=run_a_sub_proc, args=('进程-1', ))
//   p2 = Process(target=run_a_sub_proc, args=('进程-2', ))
//   p1.start()                             p1.start()
//   p2.start()                             p1.join()
//   p1.join()                              p2.start()
//   p2.join()                              p2.join()
//
// The seed has two programs; this one runs both, one after the other.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>

void run_a_sub_proc(const std::string& name) {
  fmt::print("子进程：{}（{}）开始...\n", name, getpid());
  for (int i = 0; i < 3; ++i) {
    fmt::print("子进程：{}（{}）运行中...\n", name, getpid());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // seed: 1 s
  }
}

void example_1() {
  fmt::print("主进程（{}）开始...\n", getpid());
  mp::Process p1(run_a_sub_proc, std::string("进程-1"));
  mp::Process p2(run_a_sub_proc, std::string("进程-2"));
  p1.start();
  p2.start();
  p1.join();
  p2.join();
}

void example_2() {
  fmt::print("主进程（{}）开始...\n", getpid());
  mp::Process p1(run_a_sub_proc, std::string("进程-1"));
  mp::Process p2(run_a_sub_proc, std::string("进程-2"));
  p1.start();
  p1.join();
  p2.start();
  p2.join();
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  fmt::print("例一\n");
  example_1();
  fmt::print("例二\n");
  example_2();
}
