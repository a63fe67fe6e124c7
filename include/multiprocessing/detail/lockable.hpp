#pragma once
// The standard Lockable / TimedLockable names (lock, unlock, try_lock,
// try_lock_for, try_lock_until) on top of a handle's Python-style
// acquire(bool), acquire_until(deadline) and release(), so that
// std::lock_guard, std::unique_lock and std::scoped_lock work.

#include <chrono>

#include "deadline.hpp"

namespace multiprocessing::detail {

template <class Derived>
class lockable {
 public:
  /// Blocks until acquired (acquire()).
  void lock() { self().acquire(true); }
  /// release(); throws what release() throws.
  void unlock() { self().release(); }
  /// Acquires without blocking; returns whether it did.
  bool try_lock() { return self().acquire(false); }
  /// Blocks at most `timeout`; returns whether it acquired.
  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
    return self().acquire_until(deadline::after(timeout));
  }
  /// Blocks at most until `when` (any clock); returns whether it acquired.
  template <class Clock, class Duration>
  bool try_lock_until(const std::chrono::time_point<Clock, Duration>& when) {
    return self().acquire_until(deadline::until(when));
  }

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }
};

}  // namespace multiprocessing::detail
