// Seed tutorial "多路加速，了解多进程基本原理", 队列: one process writes ten
// numbers into a Queue, another reads them.
//
//   def write(q):
//       print("Process to write: {}".format(Process.pid))
//       for i in range(10):
//           print("Put {} to queue...".format(i))
//           q.put(i)  # 把数字放到我们的队列里面去
//
//   def read(q):
//       print("Process to read: {}".format(Process.pid))
//       while True:
//           value = q.get()  # 获取队列中的数据（队列中没有数据就会阻塞在那里）
//           print("Get {} from queue.".format(value))
//
//   if __name__ == '__main__':
//       q = Queue()
//       pw = Process(target=write, args=(q, ))
//       pr = Process(target=read, args=(q, ))
//       pw.start()
//       pr.start()
//       pw.join()
//       pr.join()
//
// Two changes: the seed prints `Process.pid`, the class's property object
// (`<property object at 0x...>`); the port prints the running process's pid,
// which is what was meant. And the seed's reader loops forever, so its
// pr.join() never returns; here the reader stops after the ten numbers.
//
// write/read are named writer/reader here: POSIX's ::write and ::read would
// make the plain names ambiguous as a Process target.
#include <cstdio>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/queues.hpp>

void writer(mp::Queue<int> q) {
  fmt::print("Process to write: {}\n", mp::current_process().pid());
  for (int i = 0; i < 10; ++i) {
    fmt::print("Put {} to queue...\n", i);
    q.put(i);
  }
}

void reader(mp::Queue<int> q) {
  fmt::print("Process to read: {}\n", mp::current_process().pid());
  for (int n = 0; n < 10; ++n) {  // seed: while True
    int value = q.get();
    fmt::print("Get {} from queue.\n", value);
  }
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  mp::Queue<int> q;
  mp::Process pw(writer, q);
  mp::Process pr(reader, q);
  pw.start();
  pr.start();
  pw.join();
  pr.join();
}
