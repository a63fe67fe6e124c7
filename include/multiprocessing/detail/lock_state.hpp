#pragma once
// The shared objects behind Lock and RLock.

#include <atomic>
#include <cstdint>

#include "deadline.hpp"
#include "robust_mutex.hpp"

namespace multiprocessing::detail {

struct lock_state {
  robust_mutex mutex;
};

/// A robust_mutex plus a recursion depth that only the owner touches.
struct rlock_state {
  robust_mutex mutex;
  std::atomic<std::uint32_t> depth{0};

  /// Fast path: a free lock or one this thread holds. `seen` feeds lock_slow.
  bool try_acquire(std::uint32_t me) noexcept {
    std::uint32_t seen;
    if (mutex.try_lock(me, seen)) {
      depth.store(1, std::memory_order_relaxed);
      return true;
    }
    if ((seen & robust_mutex::owner_mask) == me) {
      depth.store(depth.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return true;
    }
    return false;
  }
  bool acquire(std::uint32_t me, const deadline& dl) noexcept {
    if (try_acquire(me)) return true;
    // A lock taken over from a dead owner starts again at depth 1.
    if (!mutex.lock_slow(me, dl)) return false;
    depth.store(1, std::memory_order_relaxed);
    return true;
  }
  /// False if this thread is not the owner.
  bool release(std::uint32_t me) noexcept {
    if (mutex.owner() != me) return false;
    const std::uint32_t d = depth.load(std::memory_order_relaxed);
    if (d > 1) {
      depth.store(d - 1, std::memory_order_relaxed);
      return true;
    }
    depth.store(0, std::memory_order_relaxed);
    mutex.unlock();
    return true;
  }
  /// Releases every level at once (Condition::wait); returns the depth.
  std::uint32_t release_all() noexcept {
    const std::uint32_t d = depth.exchange(0, std::memory_order_relaxed);
    mutex.unlock();
    return d;
  }
  /// Re-acquires after release_all, restoring the depth.
  void acquire_restore(std::uint32_t me, std::uint32_t d) noexcept {
    mutex.lock(me, deadline::never());
    depth.store(d, std::memory_order_relaxed);
  }
};

}  // namespace multiprocessing::detail
