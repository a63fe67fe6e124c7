// Seed tutorial "开启进程的其他方法": subclass Process and override run().
//
//   class MyProcess(Process):
//       def __init__(self, a, b, c):
//           super().__init__(); self.a = a; self.b = b; self.c = c
//       def run(self):
//           print(os.getppid(), os.getpid(), self.a, self.b, self.c)
//
//   if __name__ == '__main__':
//       print(os.getpid())
//       p = MyProcess(1, 2, 3); p.start()
//       print(p.pid, p.ident); print(p.name); print(p.is_alive())
//       p.terminate(); time.sleep(0.01); print(p.is_alive())
#include <unistd.h>

#include <chrono>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>

class MyProcess : public mp::Process {
 public:
  MyProcess(int a, int b, int c) : a_(a), b_(b), c_(c) {}
  void run() override {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    fmt::print("{} {} {} {} {}\n", getppid(), getpid(), a_, b_, c_);
  }

 private:
  int a_, b_, c_;
};

int main() {
  fmt::print("{}\n", getpid());
  MyProcess p(1, 2, 3);
  p.start();
  fmt::print("{} {}\n", *p.pid(), *p.ident());  // the child's id
  fmt::print("{}\n", p.name());
  fmt::print("{}\n", p.is_alive() ? "True" : "False");
  p.terminate();  // stops the child at once, without waiting
  // The seed sleeps 10 ms here; a loaded machine may need longer to deliver
  // SIGTERM, so wait for the end (at most 5 s) rather than guess.
  p.join(std::chrono::seconds(5));
  fmt::print("{}\n", p.is_alive() ? "True" : "False");
  p.join();
  fmt::print("exitcode {}\n", *p.exitcode());
}
