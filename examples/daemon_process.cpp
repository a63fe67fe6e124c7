// Seed tutorial "守护进程": a daemonic child printing forever ends when the
// main program's code ends; the non-daemonic one runs to completion first.
//
//   def son1():
//       while True: print('in son1'); time.sleep(1)
//   def son2():
//       for i in range(10): print('in son2'); time.sleep(1)
//   p1 = Process(target=son1); p1.daemon = True; p1.start()
//   p2 = Process(target=son2); p2.start()
//   p2.join()
#include <chrono>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>

using namespace std::chrono_literals;

void son1() {
  for (;;) {
    fmt::print("in son1\n");
    std::fflush(stdout);
    std::this_thread::sleep_for(100ms);  // seed: 1 s
  }
}

void son2() {
  for (int i = 0; i < 10; ++i) {
    fmt::print("in son2\n");
    std::fflush(stdout);
    std::this_thread::sleep_for(100ms);
  }
}

int main() {
  mp::Process p1(son1);
  p1.set_daemon(true);  // p1.daemon = True
  p1.start();
  mp::Process p2(son2);
  p2.start();
  p2.join();  // the daemon runs while p2 does, and ends with main
  fmt::print("main done\n");
}
