// A program that maps slowly on a Pool(2) and gets SIGINT (as from Ctrl-C)
// in the middle: it prints "worker <pid>" for each worker, then
// "interrupting", then sends SIGINT to its process group. Python's default: the parent
// ends (here by the signal); the workers, which ignore SIGINT, must not
// outlive it. tests/test_pool.cpp checks that.

#include <multiprocessing/pool.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>
#include <vector>

namespace mp = multiprocessing;

int pid_after(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return static_cast<int>(::getpid());
}

int main() {
  ::setpgid(0, 0);  // its own process group, so that the group's SIGINT hits only us
  mp::Pool pool(2);
  std::set<int> pids;
  for (int i = 0; i < 50 && pids.size() < 2; ++i)
    for (int p : pool.map(pid_after, std::vector<int>{30, 30}, 1)) pids.insert(p);
  for (int p : pids) std::printf("worker %d\n", p);
  std::printf("interrupting\n");
  std::fflush(stdout);
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ::kill(0, SIGINT);  // Ctrl-C: the whole foreground group
  }).detach();
  pool.map(pid_after, std::vector<int>(40, 100), 1);  // about 2 s: SIGINT comes first
  std::printf("map finished\n");
  return 0;
}
