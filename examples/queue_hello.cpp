// Seed blog "进程", 5. 进程的队列: processes do not share memory; a Queue
// carries a value from a child to the main process.
//
//   def son(q):
//       q.put('hello')
//
//   if __name__ == '__main__':
//       q = Queue()
//       Process(target=son, args=(q, )).start()
//       print(q.get())  # 获取在子进程中往队列中添加的值
#include <string>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/queues.hpp>

void son(mp::Queue<std::string> q) { q.put("hello"); }

int main() {
  mp::Queue<std::string> q;
  mp::Process(son, q).start();  // the temporary goes; the child runs on and is joined at exit
  fmt::print("{}\n", q.get());
}
