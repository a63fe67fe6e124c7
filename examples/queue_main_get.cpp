// Seed notes "多进程", 进程通信队列: a child puts three numbers; the main
// process gets them after the child has ended (a Queue keeps them).
//
//   def run1(que: Queue):
//       que.put(1)
//       que.put(2)
//       que.put(3)
//       print("run1函数执行完成")
//
//   if __name__ == '__main__':
//       que = Queue()
//       p1 = Process(target=run1, args=(que,))
//       p1.start()
//       p1.join()
//       print("主进程获取数据", que.get())
//       print("主进程获取数据", que.get())
//       print("主进程获取数据", que.get())
#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/queues.hpp>

void run1(mp::Queue<int> que) {
  que.put(1);
  que.put(2);
  que.put(3);
  fmt::print("run1函数执行完成\n");
}

int main() {
  mp::Queue<int> que;
  mp::Process p1(run1, que);
  p1.start();
  p1.join();
  fmt::print("主进程获取数据 {}\n", que.get());
  fmt::print("主进程获取数据 {}\n", que.get());
  fmt::print("主进程获取数据 {}\n", que.get());
}
