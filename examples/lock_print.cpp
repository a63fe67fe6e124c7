// Seed tutorial "多路加速，了解多进程基本原理", 进程互斥锁: a Lock around the
// print keeps the lines of five processes whole.
//
//   class MyProcess(Process):
//       def __init__(self, loop, lock):
//           Process.__init__(self)
//           self.loop = loop
//           self.lock = lock
//       def run(self):
//           for count in range(self.loop):
//               time.sleep(0.1)
//               self.lock.acquire()
//               print(f"Pid: {self.pid} LoopCount: {count}")
//               self.lock.release()
//
//   if __name__ == '__main__':
//       lock = Lock()
//       for i in range(10, 15):
//           p = MyProcess(i, lock)
//           p.start()
#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>

class MyProcess : public mp::Process {
 public:
  MyProcess(int loop, mp::Lock lock) : loop_(loop), lock_(lock) {}
  void run() override {
    for (int count = 0; count < loop_; ++count) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // seed: 0.1 s
      lock_.acquire();
      fmt::print("Pid: {} LoopCount: {}\n", mp::current_process().pid(), count);
      std::fflush(stdout);  // the line leaves while the lock is held
      lock_.release();
    }
  }

 private:
  int loop_;
  mp::Lock lock_;
};

int main() {
  mp::Lock lock;
  for (int i = 10; i < 15; ++i) {
    MyProcess p(i, lock);
    p.start();
  }
}
