#pragma once
// The lock under Lock, RLock, Barrier and the Value/Array locks: one 32-bit
// word in shared memory holding the owner's kernel thread id and a
// "someone sleeps" bit. Not a pthread robust mutex: this is one CAS to take
// and one exchange to give, close to a bare futex lock, and it survives an
// owner that dies (SIGKILL, _exit, a thread exiting) without the kernel's
// robust list: a waiter that has slept a while checks whether the owner
// still exists and, if not, takes the lock over (as EOWNERDEAD would; the
// protected data is the user's to check).

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>

#include "cpu_relax.hpp"
#include "deadline.hpp"
#include "posix/futex.hpp"
#include "posix/thread_id.hpp"

namespace multiprocessing::detail {

/// This thread's id as stored in lock words.
inline std::uint32_t lock_owner_id() noexcept {
  return static_cast<std::uint32_t>(posix::current_tid());
}

class robust_mutex {
 public:
  static constexpr std::uint32_t waiters_bit = 0x80000000u;
  // Linux thread ids stay below PID_MAX_LIMIT = 2^22.
  static constexpr std::uint32_t owner_mask = 0x3fffffffu;
  /// How long a waiter sleeps before it first checks that the owner is
  /// alive; the period doubles up to the maximum while the lock stays held,
  /// so a long wait costs a few wake-ups a second and a dead owner is
  /// noticed within a quarter second.
  static constexpr std::chrono::milliseconds liveness_check_first{32};
  static constexpr std::chrono::milliseconds liveness_check_max{256};

  robust_mutex() noexcept = default;
  robust_mutex(const robust_mutex&) = delete;
  robust_mutex& operator=(const robust_mutex&) = delete;

  /// One attempt; on failure `seen` holds the word that was there.
  bool try_lock(std::uint32_t me, std::uint32_t& seen) noexcept {
    seen = 0;
    return word_.compare_exchange_strong(seen, me, std::memory_order_acquire,
                                         std::memory_order_relaxed);
  }
  bool try_lock(std::uint32_t me) noexcept {
    std::uint32_t seen;
    return try_lock(me, seen);
  }
  /// Blocks until locked (true) or the deadline passes (false).
  bool lock(std::uint32_t me, const deadline& dl) noexcept {
    return try_lock(me) || lock_slow(me, dl);
  }
  /// Spins, then sleeps; call after a failed try_lock.
  [[gnu::noinline]] bool lock_slow(std::uint32_t me, const deadline& dl) noexcept {
    for (int i = 0; i < spin_before_sleep; ++i) {
      cpu_relax();
      std::uint32_t w = word_.load(std::memory_order_relaxed);
      if (w == 0 &&
          word_.compare_exchange_weak(w, me, std::memory_order_acquire, std::memory_order_relaxed))
        return true;
    }
    if (dl.expired()) return try_lock(me);  // never slept, so never took a wake-up
    // Once we have slept, others may sleep too: take the lock with the
    // waiters bit so that our unlock wakes the next one.
    const std::uint32_t mine = me | waiters_bit;
    std::chrono::milliseconds period = liveness_check_first;
    for (;;) {
      std::uint32_t w = word_.load(std::memory_order_relaxed);
      if ((w & owner_mask) == 0) {
        if (word_.compare_exchange_weak(w, mine, std::memory_order_acquire,
                                        std::memory_order_relaxed))
          return true;
        continue;
      }
      if ((w & waiters_bit) == 0) {
        if (!word_.compare_exchange_weak(w, w | waiters_bit, std::memory_order_relaxed,
                                         std::memory_order_relaxed))
          continue;
        w |= waiters_bit;
      }
      switch (futex_wait_chunk(word_, w, dl, period)) {
        case chunk_wait::woken:
          break;
        case chunk_wait::chunk_elapsed:
          if (take_over_if_owner_gone(mine)) return true;
          if (period < liveness_check_max) period *= 2;
          break;
        case chunk_wait::timed_out:
          return hand_on(me);
      }
    }
  }
  /// Releases; returns the previous word (0: it was not locked).
  std::uint32_t unlock() noexcept {
    const std::uint32_t old = word_.exchange(0, std::memory_order_release);
    if (old & waiters_bit) posix::futex_wake(&word_, 1);
    return old;
  }
  /// The owner's thread id, 0 when unlocked.
  std::uint32_t owner() const noexcept { return word_.load(std::memory_order_relaxed) & owner_mask; }

 private:
  // A waiter giving up may have been the one an unlock woke: take the lock
  // if it is free, else make sure the holder's unlock wakes someone.
  bool hand_on(std::uint32_t me) noexcept {
    std::uint32_t w = word_.load(std::memory_order_relaxed);
    for (;;) {
      if ((w & owner_mask) == 0) {
        if (word_.compare_exchange_weak(w, me | waiters_bit, std::memory_order_acquire,
                                        std::memory_order_relaxed))
          return true;
      } else if ((w & waiters_bit) == 0) {
        if (word_.compare_exchange_weak(w, w | waiters_bit, std::memory_order_relaxed,
                                        std::memory_order_relaxed))
          return false;
      } else {
        return false;
      }
    }
  }
  bool take_over_if_owner_gone(std::uint32_t mine) noexcept {
    std::uint32_t w = word_.load(std::memory_order_relaxed);
    const std::uint32_t owner = w & owner_mask;
    if (owner == 0 || !posix::thread_is_gone(static_cast<pid_t>(owner))) return false;
    return word_.compare_exchange_strong(w, mine, std::memory_order_acquire,
                                         std::memory_order_relaxed);
  }

  std::atomic<std::uint32_t> word_{0};
};

}  // namespace multiprocessing::detail
