#pragma once
// Large buffers of a pool (map inputs and outputs, receive buffers) are
// fresh memory: every page of them costs a page fault when first written,
// and in a VM a fault costs microseconds (10-30 us here), far more than the
// bytes' copy. One madvise(MADV_POPULATE_WRITE) maps a whole range in at a
// fraction of that per page; it also breaks copy-on-write sharing with a
// forked worker in one go. Best effort: without it pages fault in as usual.

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

namespace multiprocessing::detail {

/// Below this, a range is a few pages: faulting them in is as cheap.
inline constexpr std::size_t prefault_min_bytes = 64 * 1024;

/// Maps the pages of [addr, addr + size) in, writable, with one system call.
inline void pool_prefault(const void* addr, std::size_t size) noexcept {
#if defined(MADV_POPULATE_WRITE)
  if (addr == nullptr || size < prefault_min_bytes) return;
  const auto start = reinterpret_cast<std::uintptr_t>(addr);
  const std::uintptr_t page = 4096;
  const std::uintptr_t first = start & ~(page - 1);
  (void)::madvise(reinterpret_cast<void*>(first), size + (start - first), MADV_POPULATE_WRITE);
#else
  (void)addr, (void)size;
#endif
}

}  // namespace multiprocessing::detail
