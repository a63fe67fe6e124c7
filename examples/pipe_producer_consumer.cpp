// Seed tutorial "多路加速，了解多进程基本原理", 管道: the two ends of a duplex
// Pipe, one per process; each sends one message and receives the other's.
//
//   class Consumer(Process):
//       def __init__(self, pipe):
//           Process.__init__(self)
//           self.pipe = pipe
//       def run(self):
//           self.pipe.send('Consumer Words')
//           print(f'Consumer Received: {self.pipe.recv()}')
//
//   class Producer(Process):
//       def __init__(self, pipe):
//           Process.__init__(self)
//           self.pipe = pipe
//       def run(self):
//           print(f'Producer Received: {self.pipe.recv()}')
//           self.pipe.send('Producer Words')
//
//   if __name__ == '__main__':
//       pipe = Pipe()
//       p = Producer(pipe[0])
//       c = Consumer(pipe[1])
//       p.daemon = c.daemon = True
//       p.start()
//       c.start()
//       p.join()
//       c.join()
//       print('Main Process Ended')
#include <cstdio>
#include <string>

#include <fmt/core.h>
#include <multiprocessing.hpp>

class Consumer : public mp::Process {
 public:
  explicit Consumer(mp::Connection pipe) : pipe_(std::move(pipe)) {}
  void run() override {
    pipe_.send(std::string("Consumer Words"));
    fmt::print("Consumer Received: {}\n", pipe_.recv<std::string>());
  }

 private:
  mp::Connection pipe_;  // a Connection is move-only: the process owns its end
};

class Producer : public mp::Process {
 public:
  explicit Producer(mp::Connection pipe) : pipe_(std::move(pipe)) {}
  void run() override {
    fmt::print("Producer Received: {}\n", pipe_.recv<std::string>());
    pipe_.send(std::string("Producer Words"));
  }

 private:
  mp::Connection pipe_;
};

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  auto pipe = mp::Pipe();
  Producer p(std::move(pipe.first));
  Consumer c(std::move(pipe.second));
  p.set_daemon(true);
  c.set_daemon(true);
  p.start();
  c.start();
  p.join();
  c.join();
  fmt::print("Main Process Ended\n");
}
