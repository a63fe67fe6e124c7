#pragma once
// A tiny lock that a fork() can never leave stuck.
//
// A std::mutex held by another thread at the moment of fork() stays locked
// forever in the child, and guarding it with pthread_atfork handlers can
// deadlock when the fork itself happens under the lock (the resource tracker
// forks while it holds this one). Instead the lock word holds the pid of the
// process whose thread owns it: a child that finds its parent's pid there
// knows the owner does not exist in its copy of memory and takes the lock.

#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

namespace multiprocessing::detail::posix {

class fork_safe_lock {
 public:
  constexpr fork_safe_lock() noexcept = default;
  fork_safe_lock(const fork_safe_lock&) = delete;
  fork_safe_lock& operator=(const fork_safe_lock&) = delete;

  /// Waits (sleeping briefly between tries) until this process owns the lock.
  void lock() noexcept {
    const pid_t me = ::getpid();
    for (;;) {
      pid_t seen = 0;
      if (owner_.compare_exchange_strong(seen, me, std::memory_order_acquire)) return;
      // Owned by a thread of the process we were forked from: no thread here
      // will ever release it, so take it over (one stealer wins the CAS).
      if (seen != me) {
        if (owner_.compare_exchange_strong(seen, me, std::memory_order_acquire)) return;
        continue;
      }
      // Held by another thread of this process; it is only held around a
      // fork of the tracker, so waiting is short.
      timespec pause{0, 200'000};
      ::nanosleep(&pause, nullptr);
    }
  }
  void unlock() noexcept { owner_.store(0, std::memory_order_release); }

 private:
  std::atomic<pid_t> owner_{0};
};

}  // namespace multiprocessing::detail::posix
