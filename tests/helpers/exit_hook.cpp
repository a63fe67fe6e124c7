// Checks Python's exit rules from outside: at normal exit of main, daemonic
// children are terminated and the others joined. Prints the daemon's pid,
// then lets main return while a non-daemonic child is still sleeping.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string_view>
#include <thread>
#include <multiprocessing/process.hpp>

namespace mp = multiprocessing;

int main(int argc, char** argv) {
  mp::Process daemon([] {
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  });
  daemon.set_daemon(true);
  daemon.start();
  mp::Process worker([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::printf("worker done\n");
  });
  worker.start();
  std::printf("daemon %d\n", *daemon.pid());
  std::fflush(stdout);
  if (argc > 1 && std::string_view(argv[1]) == "sigkill-self") {
    // The daemon must die with us even though no exit hook runs.
    ::kill(::getpid(), SIGKILL);
  }
  return 0;  // the exit hook joins `worker` before the process ends
}
