// Seed blog "进程", 1. 通过multiprocessing模块开启进程: one process per
// argument tuple; the main process waits for all of them.
//
//   def func(name, age):
//       print(f'发送一封邮件给{age}岁的{name}')
//       time.sleep(random.random())   # 堵塞
//       print('发送完毕')
//
//   if __name__ == '__main__':
//       print(f'当前进程{os.getpid()}, 父进程{os.getppid()}')
//       args_lst = [('aelx', 84), ('wusir', 60), ('eva', 36)]
//       p_ls = []
//       for i in args_lst:
//           p = Process(target=func, args=i)
//           p.start()
//           p_ls.append(p)
//       for p in p_ls:
//           p.join()    # 同步阻塞
//       print('所有邮件发送完毕')
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/core.h>
#include <multiprocessing.hpp>

void func(const std::string& name, int age) {
  fmt::print("发送一封邮件给{}岁的{}\n", age, name);
  std::mt19937 rng(std::random_device{}());
  std::this_thread::sleep_for(
      std::chrono::duration<double>(std::uniform_real_distribution<double>(0, 0.3)(rng)));  // seed: 0..1 s
  fmt::print("发送完毕\n");
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  fmt::print("当前进程{}, 父进程{}\n", getpid(), getppid());
  std::vector<std::pair<std::string, int>> args_lst = {{"aelx", 84}, {"wusir", 60}, {"eva", 36}};
  std::vector<mp::Process> p_ls;
  for (auto& [name, age] : args_lst) {  // args=i: the tuple's items are the arguments
    mp::Process p(func, name, age);
    p.start();
    p_ls.push_back(std::move(p));
  }
  for (auto& p : p_ls) p.join();
  fmt::print("所有邮件发送完毕\n");
}
