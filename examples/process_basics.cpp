// Seed tutorial "Hands-on Crawler with Python - process", way 1: five
// processes sleep a random time each; main waits for all, then says done.
//
//   def sleep_for_seconds(name):
//       work_time = random.random() * 5
//       time.sleep(work_time)
//       print(f'{name} worker finished in {work_time:.4f} seconds')
//
//   for i in range(5):
//       p = Process(target=sleep_for_seconds, args=(f'process-{i}',))
//       p.start(); tasks.append(p)
//   for task in tasks: task.join()
//   print('Main Done')
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <multiprocessing.hpp>

void sleep_for_seconds(const std::string& name) {
  std::mt19937 rng(std::random_device{}());
  double work_time = std::uniform_real_distribution<double>(0, 1)(rng);  // seed: * 5
  std::this_thread::sleep_for(std::chrono::duration<double>(work_time));
  fmt::print("{} worker finished in {:.4f} seconds\n", name, work_time);
}

int main() {
  std::vector<mp::Process> tasks;
  for (int i = 0; i < 5; ++i) {
    mp::Process p(sleep_for_seconds, fmt::format("process-{}", i));
    p.start();
    tasks.push_back(std::move(p));
  }
  for (auto& task : tasks) task.join();
  fmt::print("Main Done\n");
}
