// A child program for tests: `helper_child exit N`, `sleep MS`, `segv`,
// `hang`, `echo` (stdin to stdout).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  if (!std::strcmp(argv[1], "exit") && argc > 2) return std::atoi(argv[2]);
  if (!std::strcmp(argv[1], "sleep") && argc > 2) {
    ::usleep(static_cast<useconds_t>(std::atoi(argv[2])) * 1000);
    return 0;
  }
  if (!std::strcmp(argv[1], "segv")) {
    std::raise(SIGSEGV);
    return 3;
  }
  if (!std::strcmp(argv[1], "hang")) {
    for (;;) ::pause();
  }
  if (!std::strcmp(argv[1], "echo")) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(0, buf, sizeof buf)) > 0) (void)!::write(1, buf, static_cast<size_t>(n));
    return 0;
  }
  return 2;
}
