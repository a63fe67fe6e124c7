// A producer whose items are still in its feeder buffer when it ends must
// deliver them (Python's feeder-thread guarantee), however it ends:
//   queue_exit return       main returns right after its puts
//   queue_exit exit         main calls std::exit(0) right after its puts
//   queue_exit child-exit   a Process target puts, then calls std::exit(0)
// A consumer child reads them all and prints "got N in order".
#include <multiprocessing/process.hpp>
#include <multiprocessing/queues.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace mp = multiprocessing;

int main(int argc, char** argv) {
  const std::string_view how = argc > 1 ? argv[1] : "return";
  constexpr int n = 5000;
  mp::Queue<int> q(0, mp::detail::queue_options{4096});  // holds ~250 items: the rest is buffered
  mp::Process consumer([q]() mutable {
    int in_order = 0;
    try {
      for (int i = 0; i < n; ++i)
        if (q.get(std::chrono::seconds(20)) == i) ++in_order;
    } catch (const mp::Empty&) {
    }
    std::printf("got %d in order\n", in_order);
  });
  consumer.start();
  if (how == "child-exit") {
    mp::Process producer([q]() mutable {
      for (int i = 0; i < n; ++i) q.put(i);
      std::exit(0);
    });
    producer.start();
    producer.join();
    consumer.join();
    return producer.exitcode() == 0 ? 0 : 3;
  }
  for (int i = 0; i < n; ++i) q.put(i);
  if (how == "exit") std::exit(0);
  return 0;  // the exit hook joins the consumer while the feeder drains the buffer
}
