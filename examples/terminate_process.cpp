// Seed tutorial "多路加速，了解多进程基本原理", 终止进程: terminate() and
// is_alive() at each stage; join() after terminate() updates the state.
//
//   def process():
//       print("Starting")
//       time.sleep(5)
//       print("Finished")
//
//   if __name__ == '__main__':
//       p = multiprocessing.Process(target=process)
//       print("Before:", p, p.is_alive())
//       p.start()
//       print("During:", p, p.is_alive())
//       p.terminate()
//       print("Terminate:", p, p.is_alive())
//       p.join()
//       print("Joined:", p, p.is_alive())
//
// Python prints a Process as <Process(Process-1, started)>; mp::Process has no
// such text form, so repr() below builds it from name(), pid() and exitcode().
#include <csignal>
#include <chrono>
#include <string>
#include <thread>

#include <fmt/core.h>
#include <multiprocessing.hpp>

void process() {
  fmt::print("Starting\n");
  std::this_thread::sleep_for(std::chrono::seconds(5));  // terminated long before
  fmt::print("Finished\n");
}

std::string repr(const mp::Process& p) {
  std::string status = "initial";
  if (p.pid()) {
    auto code = p.exitcode();
    if (!code) status = "started";
    else if (*code == -SIGTERM) status = "stopped[SIGTERM]";
    else status = fmt::format("stopped[exitcode={}]", *code);
  }
  return fmt::format("<Process({}, {})>", p.name(), status);
}

const char* py(bool b) { return b ? "True" : "False"; }

int main() {
  mp::Process p(process);
  fmt::print("Before: {} {}\n", repr(p), py(p.is_alive()));
  p.start();
  fmt::print("During: {} {}\n", repr(p), py(p.is_alive()));
  p.terminate();
  fmt::print("Terminate: {} {}\n", repr(p), py(p.is_alive()));
  p.join();
  fmt::print("Joined: {} {}\n", repr(p), py(p.is_alive()));
}
