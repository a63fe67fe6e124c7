#pragma once
// The shared object behind Semaphore and BoundedSemaphore: the count is the
// futex word; a waiter count lets release() skip the wake-up syscall when
// nobody sleeps. Release-then-check-waiters against register-then-check-count,
// both seq_cst, means a release never misses a sleeper.

#include <atomic>
#include <climits>
#include <cstdint>

#include "cpu_relax.hpp"
#include "deadline.hpp"
#include "posix/futex.hpp"

namespace multiprocessing::detail {

struct semaphore_state {
  std::atomic<std::uint32_t> value;
  std::atomic<std::uint32_t> sleepers{0};
  const std::uint32_t max_value;

  semaphore_state(std::uint32_t initial, std::uint32_t max) noexcept : value(initial), max_value(max) {}

  bool try_acquire() noexcept {
    std::uint32_t v = value.load(std::memory_order_relaxed);
    while (v > 0)
      if (value.compare_exchange_weak(v, v - 1, std::memory_order_acquire, std::memory_order_relaxed))
        return true;
    return false;
  }
  bool acquire(const deadline& dl) noexcept {
    if (try_acquire()) return true;
    for (int i = 0; i < spin_before_sleep; ++i) {
      cpu_relax();
      if (value.load(std::memory_order_relaxed) != 0 && try_acquire()) return true;
    }
    sleepers.fetch_add(1, std::memory_order_seq_cst);
    bool got = false;
    for (;;) {
      if (value.load(std::memory_order_seq_cst) != 0 && try_acquire()) {
        got = true;
        break;
      }
      if (!futex_wait_until(value, 0, dl)) {
        // A release may have woken us just as we timed out: do not waste it.
        got = try_acquire();
        break;
      }
    }
    sleepers.fetch_sub(1, std::memory_order_relaxed);
    return got;
  }
  /// False if the count is already at max_value.
  bool release() noexcept {
    std::uint32_t v = value.load(std::memory_order_relaxed);
    do {
      if (v >= max_value) return false;
    } while (!value.compare_exchange_weak(v, v + 1, std::memory_order_seq_cst,
                                          std::memory_order_relaxed));
    if (sleepers.load(std::memory_order_seq_cst) != 0) posix::futex_wake(&value, 1);
    return true;
  }
};

}  // namespace multiprocessing::detail
