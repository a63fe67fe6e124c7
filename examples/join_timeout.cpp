// Seed tutorial "多路加速，了解多进程基本原理", join with a timeout: the main
// process waits at most a while for each daemonic child, then ends, and the
// daemons still running end with it (one may print a last line between
// "Main Process ended" and its termination at exit, in Python too).
//
//   class MyProcess(Process):
//       def __init__(self, loop):
//           Process.__init__(self)
//           self.loop = loop
//       def run(self):
//           for count in range(self.loop):
//               time.sleep(1)
//               print(f"Pid: {self.pid} LoopCount: {count}")
//   if __name__ == '__main__':
//       processes = []
//       for i in range(3, 5):
//           p = MyProcess(i)
//           processes.append(p)
//           p.daemon = True
//           p.start()
//       for p in processes:
//           p.join(1)
//   print("Main Process ended")
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <multiprocessing.hpp>

using namespace std::chrono_literals;

class MyProcess : public mp::Process {
 public:
  explicit MyProcess(int loop) : loop_(loop) {}
  void run() override {
    for (int count = 0; count < loop_; ++count) {
      std::this_thread::sleep_for(100ms);  // seed: 1 s
      fmt::print("Pid: {} LoopCount: {}\n", mp::current_process().pid(), count);
    }
  }

 private:
  int loop_;
};

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  std::vector<MyProcess> processes;
  for (int i = 3; i < 5; ++i) {
    processes.emplace_back(i);
    processes.back().set_daemon(true);
    processes.back().start();
  }
  for (auto& p : processes) p.join(100ms);  // p.join(1): seed's 1 s, shortened like the sleeps
  fmt::print("Main Process ended\n");
}
