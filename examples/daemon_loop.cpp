// Seed tutorial "多路加速，了解多进程基本原理", 守护进程: daemonic children
// are terminated when the main program ends, here before they print anything.
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
//       for i in range(2, 5):
//           p = MyProcess(i)
//           p.daemon = True
//           p.start()
//   print("Main Process ended")
#include <chrono>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>

class MyProcess : public mp::Process {
 public:
  explicit MyProcess(int loop) : loop_(loop) {}
  void run() override {
    for (int count = 0; count < loop_; ++count) {
      std::this_thread::sleep_for(std::chrono::seconds(1));  // as the seed: main ends first
      // self.pid inside run(): the running process's own pid.
      fmt::print("Pid: {} LoopCount: {}\n", mp::current_process().pid(), count);
    }
  }

 private:
  int loop_;
};

int main() {
  for (int i = 2; i < 5; ++i) {
    MyProcess p(i);
    p.set_daemon(true);
    p.start();
  }
  fmt::print("Main Process ended\n");
}
