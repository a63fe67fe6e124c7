#pragma once
// One iteration of a spin-wait: tells the CPU we are spinning (x86 PAUSE
// saves power and avoids a memory-order mis-speculation penalty on exit).

#include <atomic>

namespace multiprocessing::detail {

/// Pause instructions spent spinning on a contended word before sleeping in
/// the kernel (about 3 us here): longer than a typical critical section,
/// shorter than a futex sleep + wake round trip.
inline constexpr int spin_before_sleep = 100;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::atomic_signal_fence(std::memory_order_seq_cst);  // keeps the loop a loop
#endif
}

}  // namespace multiprocessing::detail
