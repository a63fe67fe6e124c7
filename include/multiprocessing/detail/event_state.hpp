#pragma once
// The shared object behind Event. The word is (number of set() calls << 1) |
// flag: a set() always changes it, so a waiter woken by set() returns even if
// clear() follows at once (threading.Event's guarantee), and a clear() of a
// clear flag never wakes anyone.

#include <atomic>
#include <climits>
#include <cstdint>

#include "deadline.hpp"
#include "posix/futex.hpp"

namespace multiprocessing::detail {

struct event_state {
  std::atomic<std::uint32_t> word{0};
  std::atomic<std::uint32_t> sleepers{0};

  bool is_set() const noexcept { return word.load(std::memory_order_acquire) & 1u; }
  void set() noexcept {
    std::uint32_t w = word.load(std::memory_order_relaxed);
    do {
      if (w & 1u) return;
    } while (!word.compare_exchange_weak(w, (w + 2) | 1u, std::memory_order_seq_cst,
                                         std::memory_order_relaxed));
    if (sleepers.load(std::memory_order_seq_cst) != 0) posix::futex_wake(&word, INT_MAX);
  }
  void clear() noexcept { word.fetch_and(~1u, std::memory_order_release); }
  /// True once the flag is set (before or during the wait), false at the deadline.
  bool wait(const deadline& dl) noexcept {
    std::uint32_t w = word.load(std::memory_order_acquire);
    if (w & 1u) return true;
    sleepers.fetch_add(1, std::memory_order_seq_cst);
    bool set_seen = false;
    for (;;) {
      // Only a set() moves the word away from a clear value.
      if (word.load(std::memory_order_seq_cst) != w) {
        set_seen = true;
        break;
      }
      if (!futex_wait_until(word, w, dl)) {
        set_seen = word.load(std::memory_order_acquire) != w;
        break;
      }
    }
    sleepers.fetch_sub(1, std::memory_order_relaxed);
    return set_seen;
  }
};

}  // namespace multiprocessing::detail
