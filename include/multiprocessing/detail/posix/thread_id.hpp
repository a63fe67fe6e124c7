#pragma once
// Kernel thread ids: who owns a lock, and whether that owner still exists.

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace multiprocessing::detail::posix {

inline pid_t gettid_uncached() noexcept { return static_cast<pid_t>(::syscall(SYS_gettid)); }

inline pid_t& tid_cache() noexcept {
  static thread_local pid_t tid = 0;
  return tid;
}

// A forked child's only thread inherits its parent thread's cached id; this
// runs in that thread of the child. Forks that bypass pthread_atfork (a raw
// clone) would leave the parent's id in place.
inline void refresh_tid_after_fork() noexcept { tid_cache() = gettid_uncached(); }

[[gnu::noinline]] inline pid_t load_tid_slow() noexcept {
  // Registered before any thread caches its id, so every fork after a
  // cached id exists refreshes it.
  static const bool registered = (::pthread_atfork(nullptr, nullptr, &refresh_tid_after_fork), true);
  (void)registered;
  return tid_cache() = gettid_uncached();
}

/// This thread's kernel thread id (gettid), from a per-thread cache.
inline pid_t current_tid() noexcept {
  pid_t t = tid_cache();
  return t != 0 ? t : load_tid_slow();
}

/// True if the thread `tid` no longer runs: it does not exist, or it is a
/// zombie (a SIGKILLed or exited process stays one until reaped, and kill()
/// still succeeds on it). False when unsure.
inline bool thread_is_gone(pid_t tid) noexcept {
  if (tid <= 0) return false;
  if (::kill(tid, 0) == -1 && errno == ESRCH) return true;
  char path[48];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(tid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;  // reaped between the two checks
  char buf[512];
  ssize_t n;
  do n = ::read(fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  // "tid (comm) S ...": comm may itself hold ')' , so take the last one.
  const char* close_paren = std::strrchr(buf, ')');
  if (close_paren == nullptr || close_paren[1] != ' ') return false;
  const char state = close_paren[2];
  return state == 'Z' || state == 'X' || state == 'x';
}

}  // namespace multiprocessing::detail::posix
