// Seed blog "进程", 6. 生产者消费者模型: two producers, one consumer, and None
// as the "no more items" message once both producers are done.
//
//   def consumer(q):   # 消费者
//       while True:
//           if q.get():
//               print(q.get())
//           else:
//               break
//
//   def producer(q, name, food):   # 生产者
//       for i in range(1, 11):
//           foodi = f"{food}->{i}"
//           print(f"{name}生产了{i}个{food}")
//           time.sleep(random.random())
//           q.put(foodi)
//
//   if __name__ == '__main__':
//       q = Queue()
//       c1 = Process(target=consumer, args=(q,))
//       p1 = Process(target=producer, args=(q, 'alex', '冰淇淋'))
//       p2 = Process(target=producer, args=(q, 'wusir', '芋圆'))
//       c1.start(); p1.start(); p2.start()
//       p1.join(); p2.join()
//       q.put(None)  # 如果有多个消费者,就要发送多个None
//
// None is std::nullopt in a Queue<std::optional<T>>. The seed's consumer calls
// q.get() twice per turn, so it prints every second item: 10 of the 20 (the
// count is even, so the None still ends it). Kept as written.
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/queues.hpp>

using Food = std::optional<std::string>;

void consumer(mp::Queue<Food> q) {
  while (true) {
    if (q.get()) {
      fmt::print("{}\n", *q.get());
    } else {
      break;
    }
  }
}

void producer(mp::Queue<Food> q, const std::string& name, const std::string& food) {
  std::mt19937 rng(std::random_device{}());
  for (int i = 1; i < 11; ++i) {
    std::string foodi = fmt::format("{}->{}", food, i);
    fmt::print("{}生产了{}个{}\n", name, i, food);
    std::this_thread::sleep_for(
        std::chrono::duration<double>(std::uniform_real_distribution<double>(0, 0.05)(rng)));  // seed: 0..1 s
    q.put(foodi);
  }
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  mp::Queue<Food> q;
  mp::Process c1(consumer, q);
  mp::Process p1(producer, q, std::string("alex"), std::string("冰淇淋"));
  mp::Process p2(producer, q, std::string("wusir"), std::string("芋圆"));
  c1.start();
  p1.start();
  p2.start();
  p1.join();
  p2.join();
  q.put(std::nullopt);  // None
}
