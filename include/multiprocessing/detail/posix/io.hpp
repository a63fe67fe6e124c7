#pragma once
// Whole-buffer reads and writes on blocking descriptors: retry EINTR, finish
// partial transfers, and never die of SIGPIPE when the reader is gone.

#include <signal.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <ctime>
#include <optional>

#include "../../exceptions.hpp"
#include "syscalls.hpp"

namespace multiprocessing::detail::posix {

inline bool is_socket(int fd) noexcept {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/// Blocks SIGPIPE in this thread while writing to a pipe, and discards the one
/// a write to a pipe with no reader raised, so the write fails with EPIPE.
class sigpipe_guard {
 public:
  sigpipe_guard() noexcept {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    already_pending_ = sigismember(&pending, SIGPIPE) == 1;
    ::pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~sigpipe_guard() {
    if (failed_with_epipe_ && !already_pending_) {
      timespec zero{0, 0};
      while (::sigtimedwait(&pipe_, nullptr, &zero) == -1 && errno == EINTR) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  void note_epipe() noexcept { failed_with_epipe_ = true; }
  sigpipe_guard(const sigpipe_guard&) = delete;
  sigpipe_guard& operator=(const sigpipe_guard&) = delete;

 private:
  sigset_t pipe_{}, old_{};
  bool already_pending_ = false;
  bool failed_with_epipe_ = false;
};

/// Writes every byte of iov[0..n). Returns 0, or the errno of the failure.
/// `socket` selects send(MSG_NOSIGNAL); pipes get a sigpipe_guard.
inline int write_all(int fd, iovec* iov, int n, bool socket) noexcept {
  auto once = [&]() -> ssize_t {
    if (socket) {
      msghdr m{};
      m.msg_iov = iov;
      m.msg_iovlen = static_cast<size_t>(n);
      return ::sendmsg(fd, &m, MSG_NOSIGNAL);
    }
    return sys().writev(fd, iov, n);
  };
  auto loop = [&]() -> int {
    while (n > 0) {
      ssize_t w = once();
      if (w < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      auto left = static_cast<size_t>(w);
      while (n > 0 && left >= iov->iov_len) {
        left -= iov->iov_len;
        ++iov;
        --n;
      }
      if (n > 0) {
        iov->iov_base = static_cast<char*>(iov->iov_base) + left;
        iov->iov_len -= left;
      }
    }
    return 0;
  };
  if (socket) return loop();
  sigpipe_guard guard;
  int err = loop();
  if (err == EPIPE) guard.note_epipe();
  return err;
}

/// Reads until `size` bytes arrived or end of file. Returns the count read
/// (less than size only at end of file), or -1 with errno set.
inline ssize_t read_full(int fd, void* buf, size_t size) noexcept {
  size_t got = 0;
  auto* p = static_cast<char*>(buf);
  while (got < size) {
    ssize_t r = sys().read(fd, p + got, size - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

/// Waits until fd is readable or the timeout passes (nullopt: forever).
/// Returns true if it became readable.
inline bool wait_readable(int fd, std::optional<std::chrono::nanoseconds> timeout) {
  using clock = std::chrono::steady_clock;
  const auto deadline = timeout ? clock::now() + *timeout : clock::time_point::max();
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    timespec ts{};
    timespec* tsp = nullptr;
    if (timeout) {
      auto left = std::max(deadline - clock::now(), clock::duration::zero());
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      ts.tv_sec = static_cast<time_t>(ns / 1000000000);
      ts.tv_nsec = static_cast<long>(ns % 1000000000);
      tsp = &ts;
    }
    int r = ::ppoll(&p, 1, tsp, nullptr);
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) throw_os_error("ppoll");
  }
}

}  // namespace multiprocessing::detail::posix
