#pragma once
// The process-level system calls: fork with signals blocked, pidfd, waitpid,
// signal dispositions, thread counting, affinity.

#include <fcntl.h>
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
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

/// What the parent needs to know before each fork, from one read of
/// /proc/self/status: its thread count (for the fork warning) and the signals
/// it has handlers for (bit sig-1 of SigCgt; all ones when unknown, so that
/// every signal is then checked). Cheaper than listing /proc/self/task and
/// querying every signal, and it writes to few pages: after a fork every page
/// the parent writes costs a copy-on-write fault, the bulk of a start's cost.
struct fork_snapshot {
  int threads = 1;
  std::uint64_t caught = ~std::uint64_t{0};
};

inline fork_snapshot take_fork_snapshot() noexcept {
  fork_snapshot snap;
  int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return snap;
  // Line by line through a small buffer; a line longer than it (Groups: with
  // many groups) is skipped, none of those we read is.
  char buf[512];
  std::size_t len = 0;
  bool skipping = false;
  for (;;) {
    ssize_t n = ::read(fd, buf + len, sizeof buf - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<std::size_t>(n);
    std::size_t start = 0;
    bool done = false;
    while (!done) {
      auto* nl = static_cast<char*>(std::memchr(buf + start, '\n', len - start));
      if (!nl) break;
      *nl = '\0';
      const char* line = buf + start;
      start = static_cast<std::size_t>(nl - buf) + 1;
      if (skipping) {
        skipping = false;
        continue;
      }
      if (std::strncmp(line, "Threads:", 8) == 0) {
        snap.threads = std::atoi(line + 8);
      } else if (std::strncmp(line, "SigCgt:", 7) == 0) {
        char* end = nullptr;
        unsigned long long mask = std::strtoull(line + 7, &end, 16);
        if (end != line + 7) snap.caught = mask;
        done = true;
      }
    }
    if (done) break;
    if (start == 0 && len == sizeof buf) {  // a line longer than the buffer
      skipping = true;
      len = 0;
      continue;
    }
    std::memmove(buf, buf + start, len - start);
    len -= start;
  }
  ::close(fd);
  if (snap.threads < 1) snap.threads = 1;
  return snap;
}

/// In a new child: handlers the parent installed (a test framework's crash
/// reporter, a sanitizer's) go back to the default, so a signal ends the child
/// with that signal, as its exit code promises. Ignored signals stay ignored.
/// `caught` is the parent's fork_snapshot, taken just before fork: a child
/// runs as little code as it can, because in a fresh child every code page
/// and every written page costs a page fault (most of a start's cost).
inline void reset_signal_handlers(std::uint64_t caught) noexcept {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (sig <= 64 && !((caught >> (sig - 1)) & 1)) continue;
    struct sigaction old {};
    if (caught == ~std::uint64_t{0} || sig > 64) {
      if (::sigaction(sig, nullptr, &old) != 0) continue;
      if (!(old.sa_flags & SA_SIGINFO) && (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN))
        continue;
    }
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(sig, &dfl, nullptr);
  }
}

/// _exit, called through a pointer bound when the program loaded. A function
/// that a child calls first would otherwise be bound lazily in every child: a
/// symbol search through every loaded object that also dirties copy-on-write
/// pages, which made a start+join 10-20% slower.
inline void (*const volatile exit_now)(int) = &::_exit;

/// Binds, once in the parent, the other functions only children call.
inline void bind_child_functions() noexcept {
  static const bool bound = [] {
    struct sigaction old {};
    ::sigaction(SIGCHLD, nullptr, &old);
    int pdeathsig = 0;
    ::prctl(PR_GET_PDEATHSIG, &pdeathsig);
    (void)::getppid();
    return true;
  }();
  (void)bound;
}

/// Makes the kernel SIGKILL this process when its parent dies; false if the
/// parent is already gone.
inline bool die_with_parent(pid_t expected_parent) noexcept {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return true;  // best effort
  return ::getppid() == expected_parent;
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
