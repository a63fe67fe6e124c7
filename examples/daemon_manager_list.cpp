// Seed notes "多进程", 守护进程daemon=True: the main process does not wait for
// a daemonic child, so the list is (almost always) still empty when it is
// printed, and the child ends with the main process.
//
//   def run1(li: list):
//       li.append(1)
//       li.append(2)
//       print("run1函数执行完成")
//
//   if __name__ == '__main__':
//       li = Manager().list()
//       p1 = Process(target=run1, args=(li,))
//       p1.daemon = True
//       p1.start()
//       for i in li:
//           print(i)  # 无
//
// As in Python, what is printed depends on timing: nothing, or the child's
// line and the two numbers, in any order.
#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/managers.hpp>

void run1(mp::ListProxy<int> li) {
  li.append(1);
  li.append(2);
  fmt::print("run1函数执行完成\n");
}

int main() {
  mp::Manager manager;
  auto li = manager.list<int>();
  mp::Process p1(run1, li);
  p1.set_daemon(true);
  p1.start();
  for (int i : li.copy()) fmt::print("{}\n", i);
}
