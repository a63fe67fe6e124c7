#pragma once
// The shared object behind Condition. Every field changes only while the
// Condition's lock is held. A waiter registers (waiting + 1), notes the
// notify sequence number, releases the lock and sleeps on that number.
// notify(n) turns up to n registrations into permits and bumps the number.
// A waiter that wakes re-takes the lock and leaves with a permit only if a
// notify happened since it registered, so notify(n) lets at most n waiters
// return true, and never one that started waiting after it (Python's
// guarantee). Invariant: waiting + permits = waiters inside wait().

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>

#include "deadline.hpp"
#include "posix/futex.hpp"

namespace multiprocessing::detail {

struct condition_state {
  std::atomic<std::uint32_t> seq{0};
  std::atomic<std::uint32_t> waiting{0};
  std::atomic<std::uint32_t> permits{0};

  /// Caller holds the lock. `lock` offers release_all() -> depth and
  /// restore(depth). Returns true if notified, false at the deadline.
  template <class LockOps>
  bool wait(LockOps& lock, const deadline& dl) {
    const std::uint32_t registered_at = seq.load(std::memory_order_relaxed);
    waiting.fetch_add(1, std::memory_order_relaxed);
    std::uint32_t sleep_on = registered_at;
    for (;;) {
      const auto depth = lock.release_all();
      bool timed_out = false;
      while (seq.load(std::memory_order_acquire) == sleep_on) {
        if (!futex_wait_until(seq, sleep_on, dl)) {
          timed_out = true;
          break;
        }
      }
      lock.restore(depth);
      if (seq.load(std::memory_order_relaxed) != registered_at && take_permit()) return true;
      if (timed_out || dl.expired()) {
        // Keep the invariant even if a dead waiter's registration was counted.
        if (!take(waiting)) take(permits);
        return false;
      }
      // Another waiter got the permit first: wait for the next notify.
      sleep_on = seq.load(std::memory_order_relaxed);
    }
  }
  /// Caller holds the lock. Wakes up to n waiters.
  void notify(std::uint32_t n) noexcept {
    const std::uint32_t k = std::min(n, waiting.load(std::memory_order_relaxed));
    if (k == 0) return;
    waiting.fetch_sub(k, std::memory_order_relaxed);
    permits.fetch_add(k, std::memory_order_relaxed);
    seq.fetch_add(1, std::memory_order_release);
    posix::futex_wake(&seq, k > INT_MAX ? INT_MAX : static_cast<int>(k));
  }
  void notify_all() noexcept { notify(UINT32_MAX); }

 private:
  bool take_permit() noexcept { return take(permits); }
  static bool take(std::atomic<std::uint32_t>& counter) noexcept {
    const std::uint32_t v = counter.load(std::memory_order_relaxed);
    if (v == 0) return false;
    counter.store(v - 1, std::memory_order_relaxed);
    return true;
  }
};

}  // namespace multiprocessing::detail
