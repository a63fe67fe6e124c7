// Seed tutorial "第十三节：Python多进程", 继承Process类: a subclass that names
// itself; the main process waits for all three.
//
//   class Pros(Process):
//       def __init__(self, name):
//           super().__init__()
//           self.name = name
//       def run(self):
//           print('%s 开始运行！' % self.name)
//           time.sleep(random.randrange(1, 5))   # 随机睡眠1~5秒
//           print('%s 结束！' % self.name)
//
//   if __name__ == "__main__":
//       pro_list = []
//       for i in range(3):
//           num = "p" + str(i+1)
//           num = Pros(f"子进程{num}")
//           num.start()
//           pro_list.append(num)
//       for i in pro_list:
//           i.join()
//       print('主进程结束')
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <multiprocessing.hpp>

class Pros : public mp::Process {
 public:
  explicit Pros(std::string name) { set_name(std::move(name)); }
  void run() override {
    fmt::print("{} 开始运行！\n", name());
    std::mt19937 rng(std::random_device{}());
    int tenths = std::uniform_int_distribution<int>(1, 4)(rng);  // seed: randrange(1, 5) seconds
    std::this_thread::sleep_for(std::chrono::milliseconds(100) * tenths);
    fmt::print("{} 结束！\n", name());
  }
};

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  std::vector<Pros> pro_list;
  for (int i = 0; i < 3; ++i) {
    std::string num = "p" + std::to_string(i + 1);
    Pros p(fmt::format("子进程{}", num));
    p.start();  // start() runs run() in the child
    pro_list.push_back(std::move(p));
  }
  for (auto& p : pro_list) p.join();
  fmt::print("主进程结束\n");
}
