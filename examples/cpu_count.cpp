// Seed notes "多进程", 计算cpu数量: the number of CPUs and this process's id.
//
//   import multiprocessing, os
//   print(multiprocessing.cpu_count())
//   os.getpid()  # 获取进程id
#include <fmt/core.h>
#include <multiprocessing.hpp>

int main() {
  fmt::print("{}\n", mp::cpu_count());
  fmt::print("{}\n", mp::current_process().pid());  // os.getpid(); shown, where Python's REPL would
}
