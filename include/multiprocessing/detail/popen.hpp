#pragma once
// The small interface every start method implements (CPython's popen_*.py):
// poll, wait(timeout), send_signal, sentinel. A started child is one popen,
// shared by its Process object and this process's list of children.

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "posix/fd.hpp"
#include "posix/process.hpp"

namespace multiprocessing::detail {

class popen {
 public:
  popen(pid_t pid, posix::unique_fd sentinel, std::string name, bool daemon)
      : pid_(pid), sentinel_(std::move(sentinel)), name_(std::move(name)), daemon_(daemon),
        parent_(::getpid()) {}
  virtual ~popen() = default;
  popen(const popen&) = delete;
  popen& operator=(const popen&) = delete;

  pid_t pid() const noexcept { return pid_; }
  /// Readable once the child ended (a pidfd, or a pipe only the child writes).
  int sentinel() const noexcept { return sentinel_.get(); }
  const std::string& name() const noexcept { return name_; }
  bool daemon() const noexcept { return daemon_; }
  /// The process that started the child: only it may wait for it.
  pid_t parent() const noexcept { return parent_; }

  /// The exit code if the child ended (reaping it), else nullopt.
  std::optional<int> poll() {
    std::lock_guard g(mutex_);
    if (!returncode_ && ::getpid() == parent_) returncode_ = posix::try_reap(pid_);
    return returncode_;
  }

  /// Waits for the child to end, at most `timeout` (nullopt: no limit).
  std::optional<int> wait(std::optional<std::chrono::nanoseconds> timeout) {
    if (auto rc = poll()) return rc;
    if (sentinel_) {
      if (!posix::wait_readable(sentinel_.get(), timeout)) return std::nullopt;
      // The sentinel fires at exit; the reap that follows does not block long.
      for (;;) {
        if (auto rc = poll()) return rc;
        ::usleep(100);
      }
    }
    // No pidfd: poll with growing sleeps, as CPython's popen_fork does without one.
    using clock = std::chrono::steady_clock;
    const auto deadline = timeout ? clock::now() + *timeout : clock::time_point::max();
    auto nap = std::chrono::microseconds(50);
    for (;;) {
      if (auto rc = poll()) return rc;
      if (clock::now() >= deadline) return std::nullopt;
      ::usleep(static_cast<useconds_t>(nap.count()));
      nap = std::min(nap * 2, std::chrono::microseconds(20000));
    }
  }

  /// Sends sig unless the child has already ended (then nothing happens, as in Python).
  void send_signal(int sig) {
    if (poll()) return;
    if (posix::send_signal(pid_, sentinel_.get(), sig) != 0 && errno != ESRCH)
      throw_os_error("kill", name_);
  }

 private:
  pid_t pid_;
  posix::unique_fd sentinel_;
  std::string name_;
  bool daemon_;
  pid_t parent_;
  std::mutex mutex_;
  std::optional<int> returncode_;
};

}  // namespace multiprocessing::detail
