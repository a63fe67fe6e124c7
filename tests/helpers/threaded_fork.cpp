// Starts a thread, then a Process: the library must warn (once) on stderr
// that forking a multi-threaded process may deadlock.
#include <atomic>
#include <chrono>
#include <thread>
#include <multiprocessing/process.hpp>

namespace mp = multiprocessing;

int main() {
  std::atomic<bool> stop{false};
  std::thread busy([&] {
    while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  mp::Process a([] {});
  a.start();
  a.join();
  mp::Process b([] {});
  b.start();
  b.join();
  stop = true;
  busy.join();
  return *a.exitcode() + *b.exitcode();
}
