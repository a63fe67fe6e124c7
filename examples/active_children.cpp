// Seed tutorial "多路加速，了解多进程基本原理": cpu_count() and
// active_children() while the children still sleep.
//
//   def process(index):
//       time.sleep(index)
//       print(f"Process: {index}")
//
//   if __name__ == '__main__':
//       for i in range(5):
//           p = multiprocessing.Process(target=process, args=[i,])
//           p.start()
//       print(f"CPU number: {multiprocessing.cpu_count()}")
//       for p in multiprocessing.active_children():
//           print(f"Child process name: {p.name} id: {p.pid}")
//       print("Process Ended")
#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>

void process(int index) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300) * index);  // seed: index seconds
  fmt::print("Process: {}\n", index);
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  for (int i = 0; i < 5; ++i) {
    mp::Process p(process, i);
    p.start();
  }
  fmt::print("CPU number: {}\n", mp::cpu_count());
  for (auto& p : mp::active_children())
    fmt::print("Child process name: {} id: {}\n", p.name(), p.pid());
  fmt::print("Process Ended\n");
}
