// Seed tutorial "Hands-on Crawler with Python - process", In[8]: an RLock may
// be acquired again by the process that holds it (a Lock would deadlock);
// it is free once released as many times.
//
//   def sleep_for_seconds(i, lock):
//       try:
//           lock.acquire()  # 获取锁
//           lock.acquire()  # 再次获取锁
//           print(f'{i}: {os.getpid()} is running')
//           time.sleep(random.random() * 5)
//           print(f'{i}: {os.getpid()} is done')
//       finally:
//           lock.release()  # 释放锁
//           lock.release()  # 再次释放锁
//
//   lock = RLock()
//   for i in range(10):
//       Process(target=sleep_for_seconds, args=(i, lock)).start()
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>

void sleep_for_seconds(int i, mp::RLock lock) {
  lock.acquire();
  lock.acquire();
  fmt::print("{}: {} is running\n", i, getpid());
  std::mt19937 rng(std::random_device{}());
  std::this_thread::sleep_for(
      std::chrono::duration<double>(std::uniform_real_distribution<double>(0, 0.05)(rng)));  // seed: * 5
  fmt::print("{}: {} is done\n", i, getpid());
  lock.release();
  lock.release();
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  mp::RLock lock;
  for (int i = 0; i < 10; ++i) mp::Process(sleep_for_seconds, i, lock).start();
}
