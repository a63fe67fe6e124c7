#pragma once
// Small tools the tests share: capture a descriptor, run a helper program,
// wait for a condition with a deadline, check that a process is gone.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace test_util {

/// Redirects fd (1 or 2) into a pipe until text() is called or destruction.
class capture_fd {
 public:
  explicit capture_fd(int fd) : fd_(fd) {
    std::fflush(nullptr);
    saved_ = ::dup(fd);
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) std::abort();
    read_ = p[0];
    ::dup2(p[1], fd);
    ::close(p[1]);
  }
  /// Restores the descriptor and returns everything written meanwhile (children
  /// that still hold the pipe must have ended).
  std::string text() {
    restore();
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(read_, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }
  ~capture_fd() {
    restore();
    if (read_ >= 0) ::close(read_);
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(nullptr);
    ::dup2(saved_, fd_);
    ::close(saved_);
    saved_ = -1;
  }
  int fd_;
  int saved_ = -1;
  int read_ = -1;
};

struct run_result {
  int exit_code = -1000;
  std::string out;
};

/// Runs a program with args, collecting stdout; kills it after `limit`.
inline run_result run_program(const std::string& path, std::vector<std::string> args,
                              std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return {};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  std::vector<char*> argv;
  args.insert(args.begin(), path);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, path.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(p[1]);
  run_result res;
  if (rc != 0) {
    ::close(p[0]);
    return res;
  }
  std::thread killer([&] {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::kill(pid, 0) != 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid, SIGKILL);
  });
  char buf[4096];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) res.out.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  killer.join();
  res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return res;
}

inline std::string helper(const std::string& name) { return std::string(MP_HELPER_DIR) + "/" + name; }

/// Polls pred until it holds or timeout passes; returns its last value.
inline bool wait_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

/// True if pid no longer runs (gone, or a zombie waiting to be reaped).
inline bool process_gone(int pid) {
  if (::kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() &&
         (line[close + 2] == 'Z' || line[close + 2] == 'X');
}

/// Zombie children of this process (state Z with ppid == getpid()).
inline int zombie_children() {
  int count = 0;
  std::string self = std::to_string(::getpid());
  // Scan /proc: cheap enough for a test.
  FILE* ls = ::popen("cat /proc/[0-9]*/stat 2>/dev/null", "r");
  if (!ls) return -1;
  char line[1024];
  while (std::fgets(line, sizeof line, ls)) {
    std::string l(line);
    auto close = l.rfind(')');
    if (close == std::string::npos || close + 4 >= l.size()) continue;
    char state = l[close + 2];
    auto rest = l.substr(close + 4);
    auto ppid = rest.substr(0, rest.find(' '));
    if (state == 'Z' && ppid == self) ++count;
  }
  ::pclose(ls);
  return count;
}

}  // namespace test_util
