#pragma once
// The process-level system calls: fork with signals blocked, pidfd, waitpid,
// signal dispositions, thread counting, affinity.

#include <dirent.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>

#include "../../exceptions.hpp"
#include "fd.hpp"
#include "io.hpp"
#include "syscalls.hpp"

namespace multiprocessing::detail::posix {

/// Flushes C and C++ standard streams so buffered output is not written twice
/// (once by the parent, once by the child that inherited the buffer).
inline void flush_stdio() noexcept {
  std::fflush(nullptr);
  try {
    std::cout.flush();
    std::cerr.flush();
    std::clog.flush();
  } catch (...) {  // a stream in exception mode must not stop a fork
  }
}

/// A pollable descriptor that becomes readable when process `pid` ends:
/// a pidfd. Empty if the kernel has none (before Linux 5.3).
inline unique_fd pidfd_open(pid_t pid) noexcept {
#if defined(SYS_pidfd_open)
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) {
    ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
    return unique_fd(static_cast<int>(fd));
  }
#endif
  return unique_fd();
}

/// Sends sig through the pidfd when there is one, so a recycled pid is never hit.
inline int send_signal(pid_t pid, int pidfd, int sig) noexcept {
#if defined(SYS_pidfd_send_signal)
  if (pidfd >= 0) {
    if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0) return 0;
    if (errno != ENOSYS) return -1;
  }
#endif
  return ::kill(pid, sig);
}

/// Python's exit code convention: the exit status, or -N after signal N.
inline int decode_wait_status(int status) noexcept {
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 255;
}

/// Reaps pid if it ended; nullopt while it runs. Throws OSError on other errors.
inline std::optional<int> try_reap(pid_t pid) {
  int status = 0;
  pid_t r = retry_eintr([&] { return ::waitpid(pid, &status, WNOHANG); });
  if (r == 0) return std::nullopt;
  if (r < 0) throw_os_error("waitpid", "a child process");
  return decode_wait_status(status);
}

/// In a new child: handlers the parent installed (a test framework's crash
/// reporter, a sanitizer's) go back to the default, so a signal ends the child
/// with that signal, as its exit code promises. Ignored signals stay ignored.
inline void reset_signal_handlers() noexcept {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0) continue;
    if (!(old.sa_flags & SA_SIGINFO) && (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN))
      continue;
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(sig, &dfl, nullptr);
  }
}

/// Makes the kernel SIGKILL this process when its parent dies; false if the
/// parent is already gone.
inline bool die_with_parent(pid_t expected_parent) noexcept {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return true;  // best effort
  return ::getppid() == expected_parent;
}

/// Threads in this process (from /proc/self/task); 1 if unknown.
inline int thread_count() noexcept {
  DIR* d = ::opendir("/proc/self/task");
  if (!d) return 1;
  int n = 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n > 0 ? n : 1;
}

inline int online_cpus() noexcept {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

inline int affinity_cpus() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return online_cpus();
  int n = CPU_COUNT(&set);
  return n > 0 ? n : 1;
}

/// Blocks every signal for its lifetime; restores the previous mask after.
class signal_block {
 public:
  signal_block() noexcept {
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &old_);
  }
  ~signal_block() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  signal_block(const signal_block&) = delete;
  signal_block& operator=(const signal_block&) = delete;
  void restore() noexcept { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_{};
};

}  // namespace multiprocessing::detail::posix
