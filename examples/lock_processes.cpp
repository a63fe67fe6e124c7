// Seed tutorial "Hands-on Crawler with Python - process", In[6] and In[7]: a
// Lock lets one process at a time run the section between acquire and
// release, so each process's two lines stay together.
//
//   def sleep_for_seconds(i, lock):            # In[7]: the same with `with`
//       try:                                   # def sleep_for_seconds(i, lock):
//           lock.acquire()                     #     with lock:
//           print(f'{i}: {os.getpid()} is running')
//           time.sleep(random.random() * 5)
//           print(f'{i}: {os.getpid()} is done')
//       finally:
//           lock.release()
//
//   lock = Lock()
//   for i in range(10):
//       Process(target=sleep_for_seconds, args=(i, lock)).start()
//
// `with lock:` is std::lock_guard (mp::Lock is Lockable), which also stands
// for try/finally: the lock is released however the block is left. The
// seed's remark that the processes run in start order is not guaranteed.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>

void sleep_for_seconds(int i, mp::Lock lock) {
  std::lock_guard guard(lock);  // with lock:
  fmt::print("{}: {} is running\n", i, getpid());
  std::mt19937 rng(std::random_device{}());
  std::this_thread::sleep_for(
      std::chrono::duration<double>(std::uniform_real_distribution<double>(0, 0.05)(rng)));  // seed: * 5
  fmt::print("{}: {} is done\n", i, getpid());
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  mp::Lock lock;
  for (int i = 0; i < 10; ++i) mp::Process(sleep_for_seconds, i, lock).start();
}
