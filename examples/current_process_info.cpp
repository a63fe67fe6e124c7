// Seed tutorial "多路加速，了解多进程基本原理", 示例二: a named process
// prints what current_process() knows about itself.
//
//   def start(i):
//       time.sleep(3)
//       print(i)
//       print(multiprocessing.current_process().name)   # 当前进程的名字
//       print(multiprocessing.current_process().pid)    # 进程控制符
//       print(multiprocessing.current_process().is_alive())
//
//   if __name__ == '__main__':
//       print('start')
//       p = multiprocessing.Process(target=start, args=(1,), name='p1')
//       p.start()
//       print('stop')
#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>

using namespace std::chrono_literals;

void start(int i) {
  std::this_thread::sleep_for(300ms);  // seed: 3 s
  fmt::print("{}\n", i);
  fmt::print("{}\n", mp::current_process().name());
  fmt::print("{}\n", mp::current_process().pid());
  // CurrentProcess has no is_alive(): the process asking is running.
  fmt::print("{}\n", "True");
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  fmt::print("start\n");
  mp::Process p(start, 1);
  p.set_name("p1");  // Process(..., name='p1')
  p.start();
  fmt::print("stop\n");
}
