// Seed tutorial "Hands-on Crawler with Python - process", way 2: a Process
// subclass that holds a function and a name and calls it in run().
//
//   class CustomProcess(Process):
//       def __init__(self, func, name):
//           super().__init__()
//           self.func = func
//           self.name = name
//       def run(self):
//           self.func(self.name)
//
//   tasks = []
//   for i in range(5):
//       p = CustomProcess(sleep_for_seconds, f'process-{i}')
//       p.start()
//       tasks.append(p)
//   for task in tasks:
//       task.join()
//   print('Main Done')  # 效果与方式1相同
#include <chrono>
#include <functional>
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

class CustomProcess : public mp::Process {
 public:
  CustomProcess(std::function<void(const std::string&)> func, std::string name)
      : func_(std::move(func)) {
    set_name(std::move(name));
  }
  void run() override { func_(name()); }

 private:
  std::function<void(const std::string&)> func_;  // fork: any callable will do
};

int main() {
  std::vector<CustomProcess> tasks;
  for (int i = 0; i < 5; ++i) {
    CustomProcess p(sleep_for_seconds, fmt::format("process-{}", i));
    p.start();
    tasks.push_back(std::move(p));
  }
  for (auto& task : tasks) task.join();
  fmt::print("Main Done\n");
}
