#pragma once
// The two futex operations the synchronization primitives need. The words
// live in MAP_SHARED segments, so these are shared futexes (no
// FUTEX_PRIVATE_FLAG); absolute timeouts are on CLOCK_MONOTONIC, which
// FUTEX_WAIT_BITSET uses unless told FUTEX_CLOCK_REALTIME.

#include "../config.hpp"

#if !MULTIPROCESSING_LINUX
#error "multiprocessing: detail/posix/futex.hpp is Linux-only (a macOS port would use __ulock_wait)"
#endif

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

namespace multiprocessing::detail::posix {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "a futex word must be a plain 32-bit lock-free atomic");

inline std::uint32_t* futex_address(const std::atomic<std::uint32_t>* word) noexcept {
  return const_cast<std::uint32_t*>(reinterpret_cast<const std::uint32_t*>(word));
}

/// Sleeps while *word == expected, until woken or until the absolute
/// CLOCK_MONOTONIC time *deadline (nullptr: no limit). Returns 0 when woken,
/// else the errno: EAGAIN (the word differed), EINTR, ETIMEDOUT. Callers
/// always re-check their condition, so spurious returns are harmless.
inline int futex_wait(const std::atomic<std::uint32_t>* word, std::uint32_t expected,
                      const timespec* deadline) noexcept {
  long r = ::syscall(SYS_futex, futex_address(word), FUTEX_WAIT_BITSET, expected, deadline,
                     nullptr, FUTEX_BITSET_MATCH_ANY);
  return r == 0 ? 0 : errno;
}

/// Wakes up to n threads (in any process) sleeping on word.
inline void futex_wake(const std::atomic<std::uint32_t>* word, int n) noexcept {
  ::syscall(SYS_futex, futex_address(word), FUTEX_WAKE, n, nullptr, nullptr, 0);
}

}  // namespace multiprocessing::detail::posix
