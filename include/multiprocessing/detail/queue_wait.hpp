#pragma once
// How a queue side waits for the other: spin a little (a wake-up across
// CPUs costs tens of microseconds, a message a few nanoseconds), yield a
// little (the other side may be waiting for this CPU), then sleep on a flag
// word that the other side clears, waking everyone, only if it was set.
//
// No lost wake-up: the waiter stores the flag and then checks its
// condition; the waker changes the condition and then reads the flag; all
// four are sequentially consistent, so at least one sees the other.

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <thread>

#include "cpu_relax.hpp"
#include "deadline.hpp"
#include "posix/futex.hpp"

namespace multiprocessing::detail {

/// PAUSEs spent checking before yielding, and yields before sleeping.
inline constexpr int queue_spins = 400;
inline constexpr int queue_yields = 8;

/// Wakes every sleeper on `flag` if one announced itself. Call after the
/// change (a seq_cst store or read-modify-write) that sleepers wait for.
inline void flag_wake(std::atomic<std::uint32_t>& flag) noexcept {
  if (flag.load(std::memory_order_seq_cst) != 0 && flag.exchange(0, std::memory_order_seq_cst) != 0)
    posix::futex_wake(&flag, INT_MAX);
}

/// Waits until ready() or the deadline; returns ready()'s last value.
/// `stalled` runs every `period` of sleep and may end the wait by
/// returning true (to look for a dead peer); the wait then returns false.
template <class Ready, class Stalled>
bool flag_wait(std::atomic<std::uint32_t>& flag, const deadline& dl, Ready&& ready,
               Stalled&& stalled, std::chrono::milliseconds period = std::chrono::milliseconds(50)) {
  for (int i = 0; i < queue_spins; ++i) {
    if (ready()) return true;
    cpu_relax();
  }
  if (dl.expired()) return ready();
  for (int i = 0; i < queue_yields; ++i) {
    if (ready()) return true;
    std::this_thread::yield();
  }
  for (;;) {
    flag.store(1, std::memory_order_seq_cst);
    if (ready()) return true;
    const auto now = deadline::clock::now();
    if (!dl.is_never() && now >= dl.time()) return ready();
    const auto chunk_end = now + period;
    const bool chunk_first = dl.is_never() || chunk_end < dl.time();
    const timespec ts = to_timespec(chunk_first ? chunk_end : dl.time());
    if (posix::futex_wait(&flag, 1, &ts) == ETIMEDOUT && chunk_first && stalled()) return false;
  }
}

template <class Ready>
bool flag_wait(std::atomic<std::uint32_t>& flag, const deadline& dl, Ready&& ready) {
  return flag_wait(flag, dl, ready, [] { return false; });
}

}  // namespace multiprocessing::detail
