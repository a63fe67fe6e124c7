#pragma once
/// Python's multiprocessing.synchronize: Lock, RLock, Semaphore,
/// BoundedSemaphore, Event, Condition and Barrier, shared between processes.
///
/// Each is a copyable handle: a default-constructed one creates a new object
/// in its own shared-memory segment (as Python's Lock() does), and every copy
/// (in this process, a forked child, or a process it was transferred to)
/// refers to that same object. Lock and RLock survive a holder that dies:
/// the next acquirer gets the lock.

#include <chrono>
#include <climits>
#include <concepts>
#include <cstdint>
#include <utility>
#include <variant>

#include "detail/arena.hpp"
#include "detail/barrier_state.hpp"
#include "detail/condition_state.hpp"
#include "detail/deadline.hpp"
#include "detail/event_state.hpp"
#include "detail/handle_access.hpp"
#include "detail/lock_state.hpp"
#include "detail/lockable.hpp"
#include "detail/robust_mutex.hpp"
#include "detail/semaphore_state.hpp"
#include "exceptions.hpp"

namespace multiprocessing {

/// A non-recursive lock (Python: multiprocessing.Lock). Any thread or process
/// may release it, not only the one that acquired it.
class Lock : public detail::lockable<Lock> {
 public:
  /// Creates a new, unlocked lock. Throws OSError if no segment can be made.
  Lock() : ref_(detail::shared_ref<detail::lock_state>::make(0)) {}

  /// Takes the lock, blocking until it is free (block = false: only tries).
  /// Returns whether it was taken. A holder that died is replaced.
  bool acquire(bool block = true) {
    const std::uint32_t me = detail::lock_owner_id();
    detail::robust_mutex& m = ref_->mutex;
    return m.try_lock(me) || (block && m.lock_slow(me, detail::deadline::never()));
  }
  /// Takes the lock, blocking at most `timeout`; returns whether it was taken.
  template <class Rep, class Period>
  bool acquire(const std::chrono::duration<Rep, Period>& timeout) {
    return acquire_until(detail::deadline::after(timeout));
  }
  /// Releases the lock. Throws ValueError if it is not locked.
  void release() {
    if (ref_->mutex.unlock() == 0) throw ValueError("semaphore or lock released too many times");
  }
  /// Whether someone holds the lock (a snapshot).
  bool locked() const noexcept { return ref_->mutex.owner() != 0; }

  /// Same object.
  friend bool operator==(const Lock& a, const Lock& b) noexcept { return a.ref_ == b.ref_; }

 private:
  friend class detail::lockable<Lock>;
  friend struct detail::handle_access;
  friend class Condition;
  Lock(detail::attach_tag, detail::shared_ref<detail::lock_state> ref) : ref_(std::move(ref)) {}
  bool acquire_until(const detail::deadline& dl) {
    return ref_->mutex.lock(detail::lock_owner_id(), dl);
  }

  detail::shared_ref<detail::lock_state> ref_;
};

/// A re-entrant lock (Python: multiprocessing.RLock): the owning thread may
/// acquire it again and must release it as many times.
class RLock : public detail::lockable<RLock> {
 public:
  /// Creates a new, unlocked lock. Throws OSError if no segment can be made.
  RLock() : ref_(detail::shared_ref<detail::rlock_state>::make(0)) {}

  /// Takes the lock (again, if this thread holds it), blocking until it is
  /// free (block = false: only tries). Returns whether it was taken. A
  /// holder that died is replaced, and the depth starts again at 1.
  bool acquire(bool block = true) {
    const std::uint32_t me = detail::lock_owner_id();
    detail::rlock_state& s = *ref_;
    return s.try_acquire(me) || (block && s.acquire(me, detail::deadline::never()));
  }
  /// As acquire(), blocking at most `timeout`.
  template <class Rep, class Period>
  bool acquire(const std::chrono::duration<Rep, Period>& timeout) {
    return acquire_until(detail::deadline::after(timeout));
  }
  /// Releases one level. Throws ProcessError if this thread does not hold it.
  void release() {
    if (!ref_->release(detail::lock_owner_id()))
      throw ProcessError("cannot release un-acquired lock");
  }
  /// Whether any thread holds the lock (a snapshot).
  bool locked() const noexcept { return ref_->mutex.owner() != 0; }

  /// Same object.
  friend bool operator==(const RLock& a, const RLock& b) noexcept { return a.ref_ == b.ref_; }

 private:
  friend class detail::lockable<RLock>;
  friend struct detail::handle_access;
  friend class Condition;
  RLock(detail::attach_tag, detail::shared_ref<detail::rlock_state> ref) : ref_(std::move(ref)) {}
  bool acquire_until(const detail::deadline& dl) {
    return ref_->acquire(detail::lock_owner_id(), dl);
  }

  detail::shared_ref<detail::rlock_state> ref_;
};

/// A counting semaphore (Python: multiprocessing.Semaphore). It has no owner:
/// one process may acquire and another release.
class Semaphore : public detail::lockable<Semaphore> {
 public:
  /// Creates a semaphore with count `value`. Throws ValueError if value < 0.
  explicit Semaphore(int value = 1) : Semaphore(value, INT_MAX) {}

  /// Decrements the count, blocking while it is 0 (block = false: only
  /// tries). Returns whether it decremented.
  bool acquire(bool block = true) {
    detail::semaphore_state& s = *ref_;
    return s.try_acquire() || (block && s.acquire(detail::deadline::never()));
  }
  /// As acquire(), blocking at most `timeout`.
  template <class Rep, class Period>
  bool acquire(const std::chrono::duration<Rep, Period>& timeout) {
    return acquire_until(detail::deadline::after(timeout));
  }
  /// Increments the count, waking one waiter. Throws ValueError past the
  /// maximum (a BoundedSemaphore's initial value).
  void release() {
    if (!ref_->release()) throw ValueError("semaphore or lock released too many times");
  }
  /// The current count (a snapshot).
  int get_value() const noexcept {
    return static_cast<int>(ref_->value.load(std::memory_order_relaxed));
  }
  /// Whether the count is 0, so that acquire() would block.
  bool locked() const noexcept { return get_value() == 0; }

  /// Same object.
  friend bool operator==(const Semaphore& a, const Semaphore& b) noexcept { return a.ref_ == b.ref_; }

 protected:
  Semaphore(int value, int max_value) : ref_(make(value, max_value)) {}
  Semaphore(detail::attach_tag, detail::shared_ref<detail::semaphore_state> ref)
      : ref_(std::move(ref)) {}

 private:
  friend class detail::lockable<Semaphore>;
  friend struct detail::handle_access;
  static detail::shared_ref<detail::semaphore_state> make(int value, int max_value) {
    if (value < 0) throw ValueError("semaphore initial value must be >= 0");
    return detail::shared_ref<detail::semaphore_state>::make(
        0, static_cast<std::uint32_t>(value), static_cast<std::uint32_t>(max_value));
  }
  bool acquire_until(const detail::deadline& dl) { return ref_->acquire(dl); }

  detail::shared_ref<detail::semaphore_state> ref_;
};

/// A semaphore whose count may not exceed its initial value (Python:
/// multiprocessing.BoundedSemaphore).
class BoundedSemaphore : public Semaphore {
 public:
  /// Creates a semaphore with count and maximum `value`. Throws ValueError if value < 0.
  explicit BoundedSemaphore(int value = 1) : Semaphore(value, value) {}

 private:
  friend struct detail::handle_access;
  BoundedSemaphore(detail::attach_tag tag, detail::shared_ref<detail::semaphore_state> ref)
      : Semaphore(tag, std::move(ref)) {}
};

/// A flag that processes can wait for (Python: multiprocessing.Event).
class Event {
 public:
  /// Creates a new, clear event. Throws OSError if no segment can be made.
  Event() : ref_(detail::shared_ref<detail::event_state>::make(0)) {}

  /// Sets the flag and wakes every waiter.
  void set() noexcept { ref_->set(); }
  /// Clears the flag.
  void clear() noexcept { ref_->clear(); }
  /// Whether the flag is set.
  bool is_set() const noexcept { return ref_->is_set(); }
  /// Blocks until the flag is set.
  void wait() noexcept { ref_->wait(detail::deadline::never()); }
  /// Blocks until the flag is set or `timeout` passes; returns true if it
  /// was set before or during the wait.
  template <class Rep, class Period>
  bool wait(const std::chrono::duration<Rep, Period>& timeout) noexcept {
    return ref_->wait(detail::deadline::after(timeout));
  }

  /// Same object.
  friend bool operator==(const Event& a, const Event& b) noexcept { return a.ref_ == b.ref_; }

 private:
  friend struct detail::handle_access;
  Event(detail::attach_tag, detail::shared_ref<detail::event_state> ref) : ref_(std::move(ref)) {}

  detail::shared_ref<detail::event_state> ref_;
};

/// A condition variable with its own lock (Python:
/// multiprocessing.Condition). notify(n) wakes at most n waiters, and only
/// ones already waiting.
class Condition : public detail::lockable<Condition> {
 public:
  /// A condition over a new RLock (as Python's Condition()).
  Condition() : Condition(RLock()) {}
  /// A condition over `lock` (shared with every other copy of it).
  explicit Condition(Lock lock) : Condition(lock_type(std::move(lock))) {}
  /// A condition over `lock` (shared with every other copy of it).
  explicit Condition(RLock lock) : Condition(lock_type(std::move(lock))) {}

  /// Acquires the underlying lock; see Lock::acquire / RLock::acquire.
  bool acquire(bool block = true) {
    return std::visit([&](auto& l) { return l.acquire(block); }, lock_);
  }
  /// Acquires the underlying lock, blocking at most `timeout`.
  template <class Rep, class Period>
  bool acquire(const std::chrono::duration<Rep, Period>& timeout) {
    return acquire_until(detail::deadline::after(timeout));
  }
  /// Releases the underlying lock; throws what its release() throws.
  void release() {
    std::visit([](auto& l) { l.release(); }, lock_);
  }

  /// Releases the lock (every level of an RLock), blocks until notified,
  /// and re-acquires it. Throws ProcessError if this thread does not hold it.
  void wait() { wait_until(detail::deadline::never()); }
  /// As wait(), giving up after `timeout`; returns false if it timed out.
  /// The lock is held again either way.
  template <class Rep, class Period>
  bool wait(const std::chrono::duration<Rep, Period>& timeout) {
    return wait_until(detail::deadline::after(timeout));
  }
  /// Waits until pred() is true; returns true.
  template <std::predicate Pred>
  bool wait_for(Pred pred) {
    while (!pred()) wait();
    return true;
  }
  /// Waits until pred() is true or `timeout` passes; returns pred()'s last value.
  template <std::predicate Pred, class Rep, class Period>
  bool wait_for(Pred pred, const std::chrono::duration<Rep, Period>& timeout) {
    const auto dl = detail::deadline::after(timeout);
    bool result = pred();
    while (!result) {
      if (dl.expired()) break;
      wait_until(dl);
      result = pred();
    }
    return result;
  }
  /// Wakes up to n waiters. Throws ProcessError if this thread does not hold the lock.
  void notify(int n = 1) {
    require_owned("cannot notify on un-acquired lock");
    if (n > 0) ref_->notify(static_cast<std::uint32_t>(n));
  }
  /// Wakes every waiter. Throws ProcessError if this thread does not hold the lock.
  void notify_all() {
    require_owned("cannot notify on un-acquired lock");
    ref_->notify_all();
  }

  /// Same object.
  friend bool operator==(const Condition& a, const Condition& b) noexcept {
    return a.ref_ == b.ref_;
  }

 private:
  using lock_type = std::variant<RLock, Lock>;
  friend class detail::lockable<Condition>;
  friend struct detail::handle_access;

  explicit Condition(lock_type lock)
      : lock_(std::move(lock)), ref_(detail::shared_ref<detail::condition_state>::make(0)) {}
  Condition(detail::attach_tag, lock_type lock, detail::shared_ref<detail::condition_state> ref)
      : lock_(std::move(lock)), ref_(std::move(ref)) {}

  bool acquire_until(const detail::deadline& dl) {
    return std::visit(
        [&](auto& l) { return l.acquire_until(dl); }, lock_);
  }
  const detail::robust_mutex& mutex() const noexcept {
    return std::visit(
        [](const auto& l) -> const detail::robust_mutex& {
          return detail::handle_access::ref(l)->mutex;
        },
        lock_);
  }
  void require_owned(const char* what) const {
    if (mutex().owner() != detail::lock_owner_id()) throw ProcessError(what);
  }
  bool wait_until(const detail::deadline& dl) {
    require_owned("cannot wait on un-acquired lock");
    const std::uint32_t me = detail::lock_owner_id();
    if (auto* rlock = std::get_if<RLock>(&lock_)) {
      struct {
        detail::rlock_state& s;
        std::uint32_t me;
        std::uint32_t release_all() { return s.release_all(); }
        void restore(std::uint32_t depth) { s.acquire_restore(me, depth); }
      } ops{*detail::handle_access::ref(*rlock), me};
      return ref_->wait(ops, dl);
    }
    struct {
      detail::robust_mutex& m;
      std::uint32_t me;
      std::uint32_t release_all() { return m.unlock(), 1u; }
      void restore(std::uint32_t) { m.lock(me, detail::deadline::never()); }
    } ops{detail::handle_access::ref(std::get<Lock>(lock_))->mutex, me};
    return ref_->wait(ops, dl);
  }

  lock_type lock_;
  detail::shared_ref<detail::condition_state> ref_;
};

/// A barrier for a fixed number of parties (Python: multiprocessing.Barrier,
/// with threading.Barrier's semantics).
class Barrier {
 public:
  /// Creates a barrier for `parties` waiters. Throws ValueError if parties < 1.
  explicit Barrier(int parties) : ref_(make(parties)) {}

  /// Blocks until `parties` waiters have arrived; returns this one's arrival
  /// index, 0 .. parties-1. Throws BrokenBarrierError if the barrier is or
  /// becomes broken (abort(), reset() while waiting, another's timeout).
  int wait() { return checked(ref_->wait(detail::deadline::never())); }
  /// As wait(), but a timeout breaks the barrier and throws BrokenBarrierError
  /// here and in every other waiter.
  template <class Rep, class Period>
  int wait(const std::chrono::duration<Rep, Period>& timeout) {
    return checked(ref_->wait(detail::deadline::after(timeout)));
  }
  /// Breaks the barrier: current and future waiters get BrokenBarrierError.
  void abort() noexcept { ref_->abort(); }
  /// Returns the barrier to its empty state; current waiters get BrokenBarrierError.
  void reset() noexcept { ref_->reset(); }
  /// Whether the barrier is broken.
  bool broken() const noexcept { return ref_->is_broken(); }
  /// The number of waiters needed to pass.
  int parties() const noexcept { return ref_->parties; }
  /// The number of waiters currently blocked in wait().
  int n_waiting() const noexcept { return ref_->n_waiting(); }

  /// Same object.
  friend bool operator==(const Barrier& a, const Barrier& b) noexcept { return a.ref_ == b.ref_; }

 private:
  friend struct detail::handle_access;
  Barrier(detail::attach_tag, detail::shared_ref<detail::barrier_state> ref)
      : ref_(std::move(ref)) {}
  static detail::shared_ref<detail::barrier_state> make(int parties) {
    if (parties < 1) throw ValueError("a Barrier needs at least one party");
    return detail::shared_ref<detail::barrier_state>::make(0, parties);
  }
  static int checked(int index) {
    if (index < 0) throw BrokenBarrierError();
    return index;
  }

  detail::shared_ref<detail::barrier_state> ref_;
};

}  // namespace multiprocessing

// Last, so that it sees the classes above: makes each handle Transferable.
#include "detail/sync_transfer.hpp"
