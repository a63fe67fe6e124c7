// Seed tutorial "第十三节：Python多进程", 进程队列（Queue）通信: one producer,
// two consumers; when the producer is done the consumers are terminated.
//
//   def prodcut(q):
//       print("开始生产.")
//       for i in range(5):
//           time.sleep(1)
//           q.put('产品'+str(i))
//           print("产品"+str(i)+"生产完成")
//
//   def consume(q):
//       while True:
//           prod = q.get()
//           print("消费者：{}，消费产品:{}".format(os.getpid(), prod))
//           time.sleep(1)
//
//   if __name__ == '__main__':
//       q = Queue()
//       p = Process(target=prodcut, args=(q, ))   # 生产者
//       c1 = Process(target=consume, args=(q, ))  # 消费者1
//       c2 = Process(target=consume, args=(q, ))  # 消费者2
//       p.start()
//       c1.start()
//       c2.start()
//       p.join()  # 当生产者结束后，将两个消费则也结束
//       c1.terminate()
//       c2.terminate()
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/queues.hpp>

using namespace std::chrono_literals;

void prodcut(mp::Queue<std::string> q) {
  fmt::print("开始生产.\n");
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(100ms);  // seed: 1 s
    q.put("产品" + std::to_string(i));
    fmt::print("产品{}生产完成\n", i);
  }
}

void consume(mp::Queue<std::string> q) {
  while (true) {
    std::string prod = q.get();
    fmt::print("消费者：{}，消费产品:{}\n", getpid(), prod);
    std::this_thread::sleep_for(100ms);
  }
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  mp::Queue<std::string> q;
  mp::Process p(prodcut, q);
  mp::Process c1(consume, q);
  mp::Process c2(consume, q);
  p.start();
  c1.start();
  c2.start();
  p.join();
  c1.terminate();
  c2.terminate();
}
