// Seed tutorial "多路加速，了解多进程基本原理", 进程等待: join() makes the main
// process wait for its daemonic children before it ends.
//
//   class MyProcess(Process):
//       def __init__(self, loop):
//           Process.__init__(self)
//           self.loop = loop
//       def run(self):
//           for count in range(self.loop):
//               time.sleep(1)
//               print(f"Pid: {self.pid} LoopCount: {count}")
//
//   if __name__ == '__main__':
//       print("Main Process start")
//       processes = []
//       for i in range(2, 5):
//           p = MyProcess(i)
//           processes.append(p)
//           p.daemon = True
//           p.start()
//       for p in processes:
//           p.join()
//       print("Main Process ended")
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <multiprocessing.hpp>

class MyProcess : public mp::Process {
 public:
  explicit MyProcess(int loop) : loop_(loop) {}
  void run() override {
    for (int count = 0; count < loop_; ++count) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // seed: 1 s
      fmt::print("Pid: {} LoopCount: {}\n", mp::current_process().pid(), count);
    }
  }

 private:
  int loop_;
};

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  fmt::print("Main Process start\n");
  std::vector<MyProcess> processes;
  for (int i = 2; i < 5; ++i) {
    processes.emplace_back(i);
    processes.back().set_daemon(true);
    processes.back().start();
  }
  for (auto& p : processes) p.join();
  fmt::print("Main Process ended\n");
}
