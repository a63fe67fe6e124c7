// Seed tutorial "第十三节：Python多进程", 进程池(Pool): four calls on a pool of
// three processes; the pids show that a worker process is reused.
//
//   def run_a_sub_proc(name):
//       print(f'子进程：{name}（{os.getpid()}）开始！')
//       for i in range(2):
//           print(f'子进程：{name}（{os.getpid()}）运行中...')
//           time.sleep(1)
//       print(f'子进程：{name}（{os.getpid()}）结束！')
//
//   if __name__ == '__main__':
//       print(f'主进程（{os.getpid()}）开始...')
//       p = Pool(3)
//       for i in range(1, 5):
//           p.apply_async(run_a_sub_proc, args=(f"进程-{i}",))
//       p.close()
//       p.join()
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/pool.hpp>

void run_a_sub_proc(const std::string& name) {
  fmt::print("子进程：{}（{}）开始！\n", name, getpid());
  for (int i = 0; i < 2; ++i) {
    fmt::print("子进程：{}（{}）运行中...\n", name, getpid());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // seed: 1 s
  }
  fmt::print("子进程：{}（{}）结束！\n", name, getpid());
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  fmt::print("主进程（{}）开始...\n", getpid());
  mp::Pool p(3);
  for (int i = 1; i < 5; ++i) p.apply_async(run_a_sub_proc, fmt::format("进程-{}", i));
  p.close();
  p.join();
}
