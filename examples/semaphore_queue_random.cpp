// Seed tutorial "多路加速，了解多进程基本原理", 队列: the bounded buffer of the
// Semaphore example, now carrying random numbers from producer to consumer.
//
//   buffer = Queue(10)
//   empty = Semaphore(2)
//   full = Semaphore(0)
//   lock = Lock()
//
//   class Consumer(Process):
//       def run(self):
//           global buffer, empty, full, lock
//           while True:
//               full.acquire()
//               lock.acquire()
//               print(f'Consumer get {buffer.get()}')
//               time.sleep(1)
//               lock.release()
//               empty.release()
//
//   class Producer(Process):
//       def run(self):
//           global buffer, empty, full, lock
//           while True:
//               empty.acquire()
//               lock.acquire()
//               num = random()
//               print(f'Producer put {num}')
//               buffer.put(num)
//               time.sleep(1)
//               lock.release()
//               full.release()
//
//   if __name__ == '__main__':
//       p = Producer(); c = Consumer()
//       p.daemon = c.daemon = True
//       p.start(); c.start(); p.join(); c.join()
//       print("Main Process Ended")
//
// The seed loops forever; here each side handles six numbers.
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/queues.hpp>

using namespace std::chrono_literals;

mp::Queue<double> buffer(10);
mp::Semaphore empty(2);
mp::Semaphore full(0);
mp::Lock lock;

constexpr int rounds = 6;  // seed: while True

class Consumer : public mp::Process {
 public:
  void run() override {
    for (int n = 0; n < rounds; ++n) {
      full.acquire();
      lock.acquire();
      fmt::print("Consumer get {}\n", buffer.get());
      std::this_thread::sleep_for(50ms);  // seed: 1 s
      lock.release();
      empty.release();
    }
  }
};

class Producer : public mp::Process {
 public:
  void run() override {
    std::mt19937 rng(std::random_device{}());
    for (int n = 0; n < rounds; ++n) {
      empty.acquire();
      lock.acquire();
      double num = std::uniform_real_distribution<double>(0, 1)(rng);
      fmt::print("Producer put {}\n", num);
      buffer.put(num);
      std::this_thread::sleep_for(50ms);
      lock.release();
      full.release();
    }
  }
};

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  Producer p;
  Consumer c;
  p.set_daemon(true);
  c.set_daemon(true);
  p.start();
  c.start();
  p.join();
  c.join();
  fmt::print("Main Process Ended\n");
}
