#pragma once
// Every system call the library makes that a test may want to fail goes
// through this table, so tests can inject EINTR, ENOSPC, EMFILE and the like
// (fmt's FMT_SYSTEM + posix-mock idea, without macros).

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

namespace multiprocessing::detail::posix {

struct syscall_table {
  ssize_t (*read)(int, void*, size_t) = ::read;
  ssize_t (*write)(int, const void*, size_t) = ::write;
  ssize_t (*writev)(int, const iovec*, int) = ::writev;
  int (*shm_open)(const char*, int, mode_t) = ::shm_open;
  int (*ftruncate)(int, off_t) = ::ftruncate;
  int (*posix_fallocate)(int, off_t, off_t) = ::posix_fallocate;
  void* (*mmap)(void*, size_t, int, int, int, off_t) = ::mmap;
  pid_t (*fork)() = ::fork;
  int (*socketpair)(int, int, int, int*) = ::socketpair;
  int (*pipe2)(int*, int) = ::pipe2;
};

/// The table in force; tests replace entries and restore them.
inline syscall_table& sys() noexcept {
  static syscall_table table;
  return table;
}

/// Calls f until it does not fail with EINTR; returns its last result.
template <class F>
auto retry_eintr(F&& f) -> decltype(f()) {
  for (;;) {
    auto r = f();
    if (!(r == -1 && errno == EINTR)) return r;
  }
}

}  // namespace multiprocessing::detail::posix
