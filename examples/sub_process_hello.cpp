// Seed tutorial "第十三节：Python多进程", 直接使用Process类创建: the main
// process starts one child with an argument and waits for it.
//
//   def run_a_sub_proc(name):
//       print(f'子进程：{name}（{os.getpid()}）开始...')
//
//   if __name__ == '__main__':
//       print(f'主进程（{os.getpid()}）开始...')
//       p = Process(target=run_a_sub_proc, args=('测试进程', ))
//       p.start()
//       p.join()
#include <unistd.h>

#include <string>

#include <fmt/core.h>
#include <multiprocessing.hpp>

void run_a_sub_proc(const std::string& name) {
  fmt::print("子进程：{}（{}）开始...\n", name, getpid());
}

int main() {
  fmt::print("主进程（{}）开始...\n", getpid());
  mp::Process p(run_a_sub_proc, std::string("测试进程"));
  p.start();
  p.join();
}
