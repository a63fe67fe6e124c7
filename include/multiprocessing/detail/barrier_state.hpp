#pragma once
// The shared object behind Barrier: threading.Barrier's state machine
// (filling, draining, resetting, broken) under one robust_mutex, with a
// notify-all sequence number as its condition variable.

#include <atomic>
#include <climits>
#include <cstdint>

#include "deadline.hpp"
#include "posix/futex.hpp"
#include "robust_mutex.hpp"

namespace multiprocessing::detail {

struct barrier_state {
  enum : std::int32_t { filling = 0, draining = 1, resetting = -1, broken = -2 };

  robust_mutex mutex;
  std::atomic<std::uint32_t> seq{0};
  const std::int32_t parties;
  // Guarded by mutex.
  std::int32_t phase = filling;
  std::int32_t count = 0;

  explicit barrier_state(std::int32_t n) noexcept : parties(n) {}

  /// The arrival index, or -1 if the barrier is or becomes broken.
  int wait(const deadline& dl) noexcept {
    const std::uint32_t me = lock_owner_id();
    mutex.lock(me, deadline::never());
    while (phase == draining || phase == resetting) cond_wait(me, deadline::never());
    if (phase < 0) {
      mutex.unlock();
      return -1;
    }
    const int index = count++;
    int result = index;
    if (index + 1 == parties) {
      phase = draining;
      notify_all();
    } else {
      while (phase == filling) {
        if (!cond_wait(me, dl)) {
          if (phase == filling) break_locked();  // our timeout breaks it for everyone
          break;
        }
      }
      if (phase < 0) result = -1;
    }
    if (--count == 0 && (phase == draining || phase == resetting)) {
      phase = filling;
      notify_all();
    }
    mutex.unlock();
    return result;
  }
  void abort() noexcept {
    locked([&] { break_locked(); });
  }
  void reset() noexcept {
    locked([&] {
      if (count > 0) {
        if (phase == filling || phase == broken) phase = resetting;
      } else {
        phase = filling;
      }
      notify_all();
    });
  }
  bool is_broken() noexcept {
    bool b = false;
    locked([&] { b = phase == broken; });
    return b;
  }
  int n_waiting() noexcept {
    int n = 0;
    locked([&] { n = phase == filling ? count : 0; });
    return n;
  }

 private:
  template <class F>
  void locked(F&& f) noexcept {
    mutex.lock(lock_owner_id(), deadline::never());
    f();
    mutex.unlock();
  }
  void break_locked() noexcept {
    phase = broken;
    notify_all();
  }
  void notify_all() noexcept {
    seq.fetch_add(1, std::memory_order_release);
    posix::futex_wake(&seq, INT_MAX);
  }
  // Releases the mutex, sleeps until notified or the deadline, re-locks.
  bool cond_wait(std::uint32_t me, const deadline& dl) noexcept {
    const std::uint32_t s = seq.load(std::memory_order_relaxed);
    mutex.unlock();
    bool notified = true;
    while (seq.load(std::memory_order_acquire) == s) {
      if (!futex_wait_until(seq, s, dl)) {
        notified = false;
        break;
      }
    }
    mutex.lock(me, deadline::never());
    return notified;
  }
};

}  // namespace multiprocessing::detail
