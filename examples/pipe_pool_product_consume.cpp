// Seed tutorial "第十三节：Python多进程", 管道(Pipe): a producer sends five
// products through a Pipe, a consumer receives them. The seed runs both as
// tasks of a Pool(2):
//
//   def product(send_pipe):
//       print("开始生产.")
//       for i in range(5):
//           time.sleep(1)
//           send_pipe.send("产品"+str(i))
//           print("产品" + str(i) + "生产完成")
//
//   def consume(recv_pipe):
//       while True:
//           print("消费者：{}，消费产品:{}".format(os.getpid(), recv_pipe.recv()))
//           time.sleep(1)
//
//   if __name__ == '__main__':
//       send_pipe, recv_pipe = Pipe()
//       pool = Pool(2)                       # 使用进程池来创建进程
//       pool.apply_async(product, args=(send_pipe,))
//       pool.apply_async(consume, args=(recv_pipe,))
//       pool.close()
//       pool.join()
//
// Two changes. A Connection owns a descriptor and cannot be sent to a pool
// worker that is already running (pool tasks travel as bytes), so the two
// functions run in two Processes, each given its end. And the seed's consumer
// loops forever (pool.join() never returns); here it stops at end of file,
// once the producer has ended and its end is closed.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>

using namespace std::chrono_literals;

void product(mp::Connection send_pipe) {
  fmt::print("开始生产.\n");
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(100ms);  // seed: 1 s
    send_pipe.send("产品" + std::to_string(i));
    fmt::print("产品{}生产完成\n", i);
  }
}

void consume(mp::Connection recv_pipe) {
  try {
    while (true) {
      fmt::print("消费者：{}，消费产品:{}\n", getpid(), recv_pipe.recv<std::string>());
      std::this_thread::sleep_for(100ms);
    }
  } catch (const mp::EOFError&) {  // the producer has ended
  }
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  auto [send_pipe, recv_pipe] = mp::Pipe();
  mp::Process producer(product, std::move(send_pipe));  // closed here once the child has it
  mp::Process consumer(consume, std::move(recv_pipe));
  producer.start();
  consumer.start();
  producer.join();
  consumer.join();
}
