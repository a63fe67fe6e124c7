// Seed notes "多进程", 进程通信列表: a child appends to a Manager list; the
// parent prints it after join().
//
//   def run1(li: list):
//       li.append(1)
//       li.append(2)
//       print("run1函数执行完成")
//
//   if __name__ == '__main__':
//       li = Manager().list()
//       p1 = Process(target=run1, args=(li,))
//       p1.start()
//       p1.join()
//       for i in li:
//           print(i)
//
// The Manager is a named object (see manager_dict), and `for i in li` walks
// li.copy(), a std::vector: a ListProxy is not a range itself.
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
  p1.start();
  p1.join();
  for (int i : li.copy()) fmt::print("{}\n", i);
}
