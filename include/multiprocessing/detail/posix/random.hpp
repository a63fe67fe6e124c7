#pragma once
// Random bits for names of shared objects, so two programs never collide.

#include <sys/random.h>

#include <cstdint>
#include <ctime>

namespace multiprocessing::detail::posix {

inline std::uint64_t random_u64() noexcept {
  std::uint64_t v = 0;
  if (::getrandom(&v, sizeof v, GRND_NONBLOCK) == static_cast<ssize_t>(sizeof v)) return v;
  // No entropy yet (early boot): the clock still makes a clash unlikely, and
  // creation is exclusive (O_EXCL), so a clash is an error, never sharing.
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return (static_cast<std::uint64_t>(ts.tv_sec) << 32) ^ static_cast<std::uint64_t>(ts.tv_nsec) ^
         reinterpret_cast<std::uintptr_t>(&v);
}

}  // namespace multiprocessing::detail::posix
