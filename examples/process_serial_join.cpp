// Seed tutorial "Hands-on Crawler with Python - process", In[3]: join() right
// after each start() makes the five processes run one after the other.
//
//   def sleep_for_seconds(name):
//       work_time = random.random() * 5
//       time.sleep(work_time)
//       print(f'{name} worker finished in {work_time:.4f} seconds')
//
//   for i in range(5):
//       p = Process(target=sleep_for_seconds, args=(f'process-{i}',))
//       p.start()
//       p.join()  # 每一个进程在start之后调用join
//   print('Main Done')  # 速度变慢，由并行变为串行
#include <chrono>
#include <random>
#include <string>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>

void sleep_for_seconds(const std::string& name) {
  std::mt19937 rng(std::random_device{}());
  double work_time = std::uniform_real_distribution<double>(0, 0.2)(rng);  // seed: 0..5 s
  std::this_thread::sleep_for(std::chrono::duration<double>(work_time));
  fmt::print("{} worker finished in {:.4f} seconds\n", name, work_time);
}

int main() {
  for (int i = 0; i < 5; ++i) {
    mp::Process p(sleep_for_seconds, fmt::format("process-{}", i));
    p.start();
    p.join();
  }
  fmt::print("Main Done\n");
}
