// Seed notes "多进程", 子进程未修改全局变量: a child's write to a global
// changes its own copy; the parent still sees 2.
//
//   num = 2
//   def run1():
//       global num
//       num = 1
//       print("run1函数执行完成")
//   if __name__ == '__main__':
//       p1 = Process(target=run1)
//       p1.start()
//       p1.join()
//       print(num)  # 2
#include <fmt/core.h>
#include <multiprocessing.hpp>

int num = 2;

void run1() {
  num = 1;
  fmt::print("run1函数执行完成\n");
}

int main() {
  mp::Process p1(run1);
  p1.start();
  p1.join();
  fmt::print("{}\n", num);  // 2
}
