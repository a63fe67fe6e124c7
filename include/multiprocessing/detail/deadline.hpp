#pragma once
// When a blocking wait gives up, on CLOCK_MONOTONIC (steady_clock on Linux),
// and the futex waits that honour it.

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <type_traits>

#include "posix/futex.hpp"

namespace multiprocessing::detail {

class deadline {
 public:
  using clock = std::chrono::steady_clock;

  /// No limit: Python's timeout=None.
  static deadline never() noexcept { return deadline(); }
  /// Now + d; zero or negative means "try once"; absurdly long means never.
  template <class Rep, class Period>
  static deadline after(const std::chrono::duration<Rep, Period>& d) noexcept {
    // Past ~100 years the time_point arithmetic would overflow.
    if (d >= std::chrono::duration<double>(3.0e9)) return never();
    if (d <= d.zero()) return deadline(clock::now());
    return deadline(clock::now() + std::chrono::ceil<clock::duration>(d));
  }
  /// The same instant as tp, measured on the steady clock.
  template <class Clock, class Duration>
  static deadline until(const std::chrono::time_point<Clock, Duration>& tp) noexcept {
    if constexpr (std::is_same_v<Clock, clock>) {
      return deadline(std::chrono::time_point_cast<clock::duration>(tp));
    } else {
      return after(tp - Clock::now());
    }
  }

  bool is_never() const noexcept { return never_; }
  clock::time_point time() const noexcept { return tp_; }
  bool expired() const noexcept { return !never_ && clock::now() >= tp_; }

 private:
  deadline() noexcept = default;
  explicit deadline(clock::time_point tp) noexcept : never_(false), tp_(tp) {}
  bool never_ = true;
  clock::time_point tp_{};
};

inline timespec to_timespec(deadline::clock::time_point tp) noexcept {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count();
  if (ns < 0) ns = 0;
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  return ts;
}

/// Sleeps while word == expected, until woken or the deadline. Returns
/// false only when the deadline has passed.
inline bool futex_wait_until(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                             const deadline& dl) noexcept {
  if (dl.is_never()) {
    posix::futex_wait(&word, expected, nullptr);
    return true;
  }
  if (dl.expired()) return false;
  const timespec ts = to_timespec(dl.time());
  return posix::futex_wait(&word, expected, &ts) != ETIMEDOUT;
}

enum class chunk_wait { woken, chunk_elapsed, timed_out };

/// As futex_wait_until, but sleeps at most `chunk` so that the caller can
/// look around (is the lock owner still alive?) and sleep again.
inline chunk_wait futex_wait_chunk(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                                   const deadline& dl, std::chrono::nanoseconds chunk) noexcept {
  const auto now = deadline::clock::now();
  if (!dl.is_never() && now >= dl.time()) return chunk_wait::timed_out;
  const auto wake_at = now + std::chrono::duration_cast<deadline::clock::duration>(chunk);
  const bool chunk_first = dl.is_never() || wake_at < dl.time();
  const timespec ts = to_timespec(chunk_first ? wake_at : dl.time());
  if (posix::futex_wait(&word, expected, &ts) != ETIMEDOUT) return chunk_wait::woken;
  return chunk_first ? chunk_wait::chunk_elapsed : chunk_wait::timed_out;
}

}  // namespace multiprocessing::detail
